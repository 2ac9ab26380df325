/**
 * `sft data render`: writes one row per record, `{ id, input_ids, labels, text }`, exactly as
 * training sees it (labels aligned with input_ids, -100 = not trained). Also holds the options
 * that `data inspect` and `data check` share with it.
 */
import type { Command } from "commander";
import { FORMAT_NAMES, parseFormatName } from "../data/formats/index.js";
import { readRecords, writeJsonl } from "../data/io/index.js";
import { SftError } from "../errors.js";
import { HANDOFF_FORMATS, type HandoffFormat, handoffColumns, toHandoffRow } from "../handoff/rows.js";
import { tokenRowFileOf, writeTokenRows } from "../handoff/write.js";
import { openTokenizer } from "../model/open.js";
import type { SftRecord } from "../record/record.js";
import { CHAT_TEMPLATE_HELP } from "../tokenize/chat-templates.js";
import {
  LOST_CONTENT_POLICIES,
  type LostContentPolicy,
  type TokenizeOptions,
  TRUNCATIONS,
  type Truncation,
  tryTokenizeRecord,
} from "../tokenize/mask.js";
import { packSamples, type SampleTokens } from "../tokenize/pack.js";
import type { TextTokenizer } from "../tokenize/tokenizer.js";
import { addModelSpecOptions, modelSpecFromOptions } from "./model-options.js";

export interface TokenizeCliOptions {
  in: string;
  from?: string;
  truncation?: string;
  lostContent?: string;
  allowNonAlternating?: boolean;
  /** the model-spec flags (--tokenizer, --model, --template, --chat-template, …), as commander gives them */
  [specFlag: string]: unknown;
}

/** The spec fields a data command takes: everything but how base weights are held. */
const DATA_SPEC = { omit: ["base_dtype", "bf16", "load_in_8bit", "load_in_4bit"] as const };

/** Adds the options every tokenizing data command takes. */
export function addTokenizeOptions(cmd: Command): Command {
  addModelSpecOptions(cmd, {
    ...DATA_SPEC,
    describe: {
      model: "model whose tokenizer is used when --tokenizer is not given (HF directory or .gguf)",
      tokenizer: "model directory with tokenizer.json (+ tokenizer_config.json), or a .gguf file",
      "chat-template": `Jinja chat template (the default when the tokenizer has one): ${CHAT_TEMPLATE_HELP}`,
    },
  });
  return cmd
    .requiredOption("--in <file>", "dataset (.jsonl, .json, .csv, .parquet; any supported format)")
    .option("--from <format>", `dataset format: ${FORMAT_NAMES.join(", ")} (default: detected)`)
    .option(
      "--truncation <mode>",
      `over-long samples: ${TRUNCATIONS.join(", ")} (default truncate_response: keep the prompt, cut the response)`,
    )
    .option(
      "--lost-content <policy>",
      "records whose rendering lost a tool call, tool schema, tool result or system prompt: fail (pre-flight fails) or drop (set aside with the reason)",
    )
    .option(
      "--allow-non-alternating",
      "accept turns out of user/assistant order (for templates that support it)",
    );
}

function choice<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  flag: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new SftError(`unknown ${flag} "${value}"`, {
      where: { field: flag },
      hint: `use one of ${allowed.join(", ")}`,
    });
  }
  return value as T;
}

export interface ResolvedTokenizeOptions {
  tokenizer: TextTokenizer;
  tokenizeOptions: TokenizeOptions;
  records: AsyncIterable<SftRecord>;
  /** Rows the reader could not turn into records (`file:line: reason`), filled while reading. */
  invalidRows: string[];
}

/** The tokenizer and options of the spec the flags give (openTokenizer: the same as `sft train`'s). */
export async function resolveTokenizeOptions(opts: TokenizeCliOptions): Promise<ResolvedTokenizeOptions> {
  const spec = modelSpecFromOptions(opts, { ...DATA_SPEC, allowNoModel: true });
  const truncation = choice<Truncation>(opts.truncation, TRUNCATIONS, "--truncation");
  const lostContent = choice<LostContentPolicy>(opts.lostContent, LOST_CONTENT_POLICIES, "--lost-content");
  const { tokenizer, tokenizeOptions } = await openTokenizer(spec, {
    tokenize: { ...(truncation ? { truncation } : {}), ...(lostContent ? { lostContent } : {}) },
  });
  const invalidRows: string[] = [];
  const records = readRecords(opts.in, {
    from: parseFormatName(opts.from, "--from"),
    skipInvalid: true,
    ...(opts.allowNonAlternating ? { allowNonAlternating: true } : {}),
    onReject: (r) => invalidRows.push(`${r.file}:${r.line}: ${r.reason}`),
  });
  return { tokenizer, tokenizeOptions, records, invalidRows };
}

/** Truncation notes printed one by one before they are only counted. */
const SHOWN = 10;

type RenderCliOptions = TokenizeCliOptions & { out: string; format?: string; packing?: boolean };

export async function runRender(opts: RenderCliOptions): Promise<void> {
  const format = choice<RenderFormat>(opts.format, RENDER_FORMATS, "--format") ?? "sftkit";
  if (format !== "sftkit") tokenRowFileOf(opts.out);
  else if (opts.packing)
    throw new SftError("--packing needs --format axolotl or trl", {
      where: { field: "--packing" },
      hint: "the sftkit format is one row per record; pass --format axolotl or --format trl for packed rows",
    });
  if (opts.packing && opts.maxSeqLength === undefined)
    throw new SftError("--packing needs --max-seq-length (the length of a packed row)", {
      where: { field: "--packing" },
      hint: "pass the run's max_seq_length, e.g. --max-seq-length 1024",
    });
  const { tokenizer, tokenizeOptions, records, invalidRows } = await resolveTokenizeOptions(opts);
  const rejected: string[] = [];
  const dropped: string[] = [];
  let truncated = 0;
  async function* rows() {
    for await (const record of records) {
      const res = tryTokenizeRecord(record, tokenizer, tokenizeOptions);
      if (!res.ok) {
        (res.kind === "untrainable" ? rejected : dropped).push(`record ${res.id}: ${res.reason}`);
        continue;
      }
      const s = res.sample;
      if (s.truncated) {
        truncated++;
        if (truncated <= SHOWN) process.stderr.write(`truncated: record ${s.id}: ${s.truncation}\n`);
      }
      yield { id: s.id, input_ids: s.inputIds, labels: s.labels, text: s.text };
    }
  }
  const { count } =
    format === "sftkit"
      ? await writeJsonl(opts.out, rows())
      : await writeHandoff(opts.out, format, rows(), opts.packing ? tokenizeOptions.maxSeqLength : undefined);
  if (truncated > SHOWN) process.stderr.write(`… ${truncated - SHOWN} more truncated\n`);
  for (const r of invalidRows) process.stderr.write(`invalid row: ${r}\n`);
  for (const r of rejected) process.stderr.write(`rejected: ${r}\n`);
  for (const r of dropped.slice(0, SHOWN)) process.stderr.write(`dropped: ${r}\n`);
  if (dropped.length > SHOWN) process.stderr.write(`… ${dropped.length - SHOWN} more dropped\n`);
  process.stderr.write(
    `rendered ${count} record(s) to ${opts.out}${truncated ? `, ${truncated} truncated` : ""}${rejected.length ? `, ${rejected.length} rejected (not written)` : ""}${dropped.length ? `, ${dropped.length} dropped as configured (not written)` : ""}${invalidRows.length ? `, ${invalidRows.length} invalid row(s) skipped` : ""}\n`,
  );
  if (rejected.length > 0 || invalidRows.length > 0) process.exitCode = 1;
}

export const RENDER_FORMATS = ["sftkit", ...HANDOFF_FORMATS] as const;
type RenderFormat = (typeof RENDER_FORMATS)[number];

/**
 * Writes the samples as another trainer's pre-tokenized rows; with a packing length, packed
 * the way `sft train` packs them (best-fit decreasing, in the order of the file).
 */
async function writeHandoff(
  out: string,
  format: HandoffFormat,
  samples: AsyncIterable<{ id: string; input_ids: number[]; labels: number[] }>,
  packLength: number | undefined,
): Promise<{ count: number }> {
  const columns = handoffColumns(format, packLength !== undefined);
  if (packLength === undefined) {
    async function* single() {
      for await (const s of samples)
        yield toHandoffRow(format, { id: s.id, inputIds: s.input_ids, labels: s.labels });
    }
    return writeTokenRows(out, columns, single());
  }
  const all: SampleTokens[] = [];
  for await (const s of samples) all.push({ id: s.id, inputIds: s.input_ids, labels: s.labels });
  const { rows } = packSamples(all, { maxSeqLength: packLength });
  return writeTokenRows(
    out,
    columns,
    rows.map((r) => toHandoffRow(format, r)),
  );
}

export function register(parent: Command): void {
  const cmd = parent
    .command("render")
    .description(
      "tokenize a dataset with its template and label mask: one {id, input_ids, labels, text} row per record",
    );
  addTokenizeOptions(cmd)
    .requiredOption("--out <file>", "output .jsonl (--format axolotl|trl: .jsonl or .parquet)")
    .option(
      "--format <format>",
      "sftkit ({id, input_ids, labels, text}), axolotl (input_ids, attention_mask, labels) or trl (input_ids, labels)",
      "sftkit",
    )
    .option("--packing", "pack samples into rows of --max-seq-length as sft train does (axolotl, trl)")
    .addHelpText(
      "after",
      `
Labels are aligned with input_ids; -100 marks tokens that are not trained.
--format axolotl writes Axolotl's custom pre-tokenized rows (load with ds_type: json and no
type:); packed rows add position_ids restarting at each sample. --format trl writes what TRL's
SFTTrainer (1.13) takes pre-tokenized; packed rows add seq_lengths (use padding_free).
Invalid rows and records with nothing to train are listed on stderr, not written, and make
the exit code 1.

Examples:
  $ sft data render --tokenizer models/Qwen3-0.6B --in train.jsonl --out rendered.jsonl --chat-template
  $ sft data render --tokenizer stories260K.gguf --in alpaca_en_demo.json --out r.jsonl --template alpaca
  $ sft data render --tokenizer models/Qwen3-0.6B --in train.jsonl --chat-template --format axolotl --packing --max-seq-length 2048 --out train.parquet`,
    )
    .action(async (opts: RenderCliOptions) => {
      await runRender(opts);
    });
}
