/**
 * `sft handoff axolotl|trl`: from an sftkit train config, a directory another trainer runs
 * as it is — the tokenized rows sftkit would train on (epoch 0's order and packing, the eval
 * samples), the target's config or script, a README with the launch command, and every
 * sftkit option that has no equivalent there.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import type { TrainConfig } from "../config/train.js";
import { SftError } from "../errors.js";
import type { PackedRow, SampleTokens } from "../tokenize/pack.js";
import { loadTokenizer } from "../tokenize/tokenizer.js";
import { epochRows, prepareData } from "../train/data.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { axolotlConfig, type HandoffFiles } from "./axolotl.js";
import type { MappedOptions } from "./options.js";
import { type HandoffFormat, handoffColumns, toHandoffRow } from "./rows.js";
import { trlScript } from "./trl.js";
import { writeTokenRows } from "./write.js";

export interface HandoffResult {
  dir: string;
  files: string[];
  trainRows: number;
  evalRows: number;
  unmapped: MappedOptions["unmapped"];
}

/** A Hugging Face model directory (config.json), which both targets load with transformers. */
function baseModelOf(config: TrainConfig): string {
  const path = resolve(config.model);
  if (existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, "config.json"))) return path;
  if (existsSync(path))
    throw new SftError(`the model ${config.model} is not a Hugging Face model directory`, {
      where: { field: "model" },
      hint: "Axolotl and TRL load a directory with config.json and safetensors: convert it with `sft export --format hf`, then point `model` at that directory",
    });
  // not a local path: a hub id, which both targets resolve themselves
  return config.model;
}

function describe(value: unknown): string {
  return value === undefined ? "(unset)" : JSON.stringify(value);
}

function readme(format: HandoffFormat, config: TrainConfig, m: MappedOptions, files: HandoffFiles): string {
  const launch =
    format === "axolotl"
      ? "axolotl train config.yml\n# several GPUs: accelerate launch -m axolotl.cli.train config.yml"
      : "pip install -r requirements.txt   # sftkit's python/requirements.txt pins the tested versions\naccelerate launch train_trl.py outputs\n# one process: python train_trl.py outputs";
  const result = config.finetuning_type === "lora" ? "adapter" : "model";
  return `# Hand-off to ${format === "axolotl" ? "Axolotl" : "TRL"}

Written by \`sft handoff ${format}\` from an sftkit train config. The rows in \`${files.train}\`${
    files.eval ? ` and \`${files.eval}\`` : ""
  } are pre-tokenized exactly as \`sft train\` trains on them: the same template, label mask
(-100 = not trained), truncation${config.packing ? " and packing (position ids restart at each packed sample)" : ""}, in the order of sftkit's first epoch.

## Launch

\`\`\`sh
${launch}
\`\`\`

## Back in sftkit

The ${result === "adapter" ? "PEFT adapter" : "model"} the run writes loads back into sftkit:

\`\`\`sh
${
  result === "adapter"
    ? `sft eval --model ${files.baseModel} --adapter outputs${format === "trl" ? "/adapter" : ""} …
sft generate --model ${files.baseModel} --adapter outputs${format === "trl" ? "/adapter" : ""} --prompt "…"
sft export --model ${files.baseModel} --adapter outputs${format === "trl" ? "/adapter" : ""} --out merged/`
    : `sft eval --model outputs${format === "trl" ? "/model" : ""} …`
}
\`\`\`

## Options carried by the data

${m.carried.map((c) => `- \`${c.option}\` = ${describe(c.value)}: ${c.note}`).join("\n")}

## Options with no equivalent

${
  m.unmapped.length === 0
    ? "None: every other option is mapped."
    : m.unmapped.map((u) => `- \`${u.option}\` = ${describe(u.value)}: ${u.why}`).join("\n")
}
`;
}

async function writeRows(
  path: string,
  format: HandoffFormat,
  packed: boolean,
  rows: readonly (PackedRow | SampleTokens)[],
): Promise<number> {
  const { count } = await writeTokenRows(
    path,
    handoffColumns(format, packed),
    rows.map((r) => toHandoffRow(format, r)),
  );
  return count;
}

export async function runHandoff(
  format: HandoffFormat,
  config: TrainConfig,
  outDir: string,
): Promise<HandoffResult> {
  const baseModel = baseModelOf(config);
  const tokenizer = await loadTokenizer(config.tokenizer ?? config.model);
  const prepared = await prepareData(config, tokenizer);
  mkdirSync(outDir, { recursive: true });
  const files: HandoffFiles = {
    train: "train.jsonl",
    ...(prepared.evalSamples.length > 0 ? { eval: "eval.jsonl" } : {}),
    baseModel,
    ...(config.adapter ? { adapter: resolve(config.adapter) } : {}),
  };
  const trainRows = await writeRows(
    join(outDir, files.train),
    format,
    config.packing,
    epochRows(prepared, config, 0),
  );
  const evalRows = files.eval
    ? await writeRows(join(outDir, files.eval), format, false, prepared.evalSamples)
    : 0;
  const written = [files.train, ...(files.eval ? [files.eval] : [])];
  let mapped: MappedOptions;
  if (format === "axolotl") {
    mapped = axolotlConfig(config, files);
    writeFileAtomicSync(join(outDir, "config.yml"), stringify(mapped.keys));
    written.push("config.yml");
  } else {
    const t = trlScript(config, files);
    mapped = t;
    writeFileAtomicSync(join(outDir, "train_trl.py"), t.script);
    written.push("train_trl.py");
  }
  writeFileAtomicSync(join(outDir, "README.md"), readme(format, config, mapped, files));
  writeFileAtomicSync(
    join(outDir, "unmapped.json"),
    `${JSON.stringify(
      mapped.unmapped.map((u) => ({ option: u.option, value: u.value ?? null, why: u.why })),
      null,
      2,
    )}\n`,
  );
  written.push("README.md", "unmapped.json");
  return { dir: outDir, files: written, trainRows, evalRows, unmapped: mapped.unmapped };
}
