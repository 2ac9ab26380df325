/**
 * How every `sft train` option carries over to another trainer. The tables are typed over
 * every key of the config, so an option added to sftkit cannot be left out here: it is
 * mapped to the target's own key, carried by the exported data, or listed as having no
 * equivalent (never dropped silently).
 */
import { baseDtypeOf } from "../config/model-spec.js";
import type { TrainConfig } from "../config/train.js";

export type OptionFate =
  /** the target's key(s) and value(s) */
  | { kind: "mapped"; to: (c: TrainConfig) => Record<string, unknown> }
  /** already applied to the exported tokens (template, mask, truncation, packing, …) */
  | { kind: "data"; note: string }
  /** no equivalent: the reason, and whether the config's value makes a difference */
  | { kind: "none"; why: string };

export type OptionTable = Record<keyof TrainConfig, OptionFate>;

export interface Unmapped {
  option: string;
  value: unknown;
  why: string;
}

export interface MappedOptions {
  /** target key → value, in table order (undefined values left out) */
  keys: Record<string, unknown>;
  /** sftkit options applied to the data before export */
  carried: { option: string; value: unknown; note: string }[];
  /** every sftkit option the target has no equivalent for, with the config's value */
  unmapped: Unmapped[];
}

const DATA_NOTES = {
  template: "the prompt template rendered the exported tokens",
  chat_template: "the chat template rendered the exported tokens",
  mask_policy: "the label mask is in the exported labels (-100 = not trained)",
  truncation: "over-long samples were cut (or dropped) before export",
  lost_content: "records that lost content were handled before export",
  allow_non_alternating: "turn order was checked before export",
  preflight: "sftkit's pre-flight checks ran on the exported samples",
  data: "exported as pre-tokenized rows",
  datasets: "the weighted task mix of epoch 0 is exported as pre-tokenized rows",
  eval_data: "exported as pre-tokenized eval rows",
  eval_split: "the held-out samples are exported as pre-tokenized eval rows",
  tokenizer: "tokenization happened in sftkit",
} as const;

/** Applies a table to a config. */
export function mapOptions(config: TrainConfig, table: OptionTable): MappedOptions {
  const keys: Record<string, unknown> = {};
  const carried: MappedOptions["carried"] = [];
  const unmapped: Unmapped[] = [];
  for (const option of Object.keys(table) as (keyof TrainConfig)[]) {
    const fate = table[option];
    const value = config[option];
    if (fate.kind === "mapped") {
      for (const [k, v] of Object.entries(fate.to(config))) if (v !== undefined) keys[k] = v;
    } else if (fate.kind === "data") carried.push({ option, value, note: fate.note });
    else unmapped.push({ option, value, why: fate.why });
  }
  return { keys, carried, unmapped };
}

/** The options every target gets from the exported data. */
export function dataCarried(): Pick<OptionTable, keyof typeof DATA_NOTES> {
  const out = {} as Record<keyof typeof DATA_NOTES, OptionFate>;
  for (const [k, note] of Object.entries(DATA_NOTES))
    out[k as keyof typeof DATA_NOTES] = { kind: "data", note };
  return out;
}

/** `all-linear` or a module list, for targets that take PEFT's names. */
export function targetModules(c: TrainConfig): string | string[] {
  return c.lora.target_modules;
}

/**
 * The frozen base's precision (`base_dtype` and the HF-style aliases folded into it). A
 * target that has the same switches gets them (Axolotl: `bf16`, bitsandbytes'
 * `load_in_8bit`/`load_in_4bit`, whose quantization differs from q8_0/q4_0 blocks); one that
 * has none lists them as unmapped.
 */
export function baseDtypeFates(
  target: "axolotl" | "none",
  why = "",
): Pick<OptionTable, "base_dtype" | "bf16" | "load_in_8bit" | "load_in_4bit"> {
  if (target === "none") {
    const fate: OptionFate = { kind: "none", why };
    return { base_dtype: fate, bf16: fate, load_in_8bit: fate, load_in_4bit: fate };
  }
  const folded: OptionFate = { kind: "mapped", to: () => ({}) };
  return {
    base_dtype: {
      kind: "mapped",
      to: (c) => {
        const d = baseDtypeOf(c);
        return d === "bf16"
          ? { bf16: true }
          : d === "q8_0"
            ? { load_in_8bit: true }
            : d === "q4_0"
              ? { load_in_4bit: true }
              : {};
      },
    },
    bf16: folded,
    load_in_8bit: folded,
    load_in_4bit: folded,
  };
}
