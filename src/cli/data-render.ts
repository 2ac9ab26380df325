/**
 * `sft data render`: writes one row per record, `{ id, input_ids, labels, text }`, exactly as
 * training sees it (labels aligned with input_ids, -100 = not trained). Also holds the options
 * that `data inspect` and `data check` share with it.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { FORMAT_NAMES, parseFormatName } from "../data/formats/index.js";
import { readRecords, writeJsonl } from "../data/io/index.js";
import { SftError } from "../errors.js";
import type { SftRecord } from "../record/record.js";
import {
  LOST_CONTENT_POLICIES,
  type LostContentPolicy,
  MASK_POLICIES,
  type MaskPolicy,
  type TokenizeOptions,
  TRUNCATIONS,
  type Truncation,
  tryTokenizeRecord,
} from "../tokenize/mask.js";
import { builtinTemplateNames } from "../tokenize/templates.js";
import { loadTokenizer, type TextTokenizer } from "../tokenize/tokenizer.js";

export interface TokenizeCliOptions {
  tokenizer: string;
  in: string;
  from?: string;
  template?: string;
  /** true: the tokenizer's template; a string: a file holding a Jinja chat template. */
  chatTemplate?: boolean | string;
  maskPolicy?: string;
  maxSeqLength?: string;
  truncation?: string;
  lostContent?: string;
  allowNonAlternating?: boolean;
}

/** Adds the options every tokenizing data command takes. */
export function addTokenizeOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      "--tokenizer <path>",
      "model directory with tokenizer.json (+ tokenizer_config.json), or a .gguf file",
    )
    .requiredOption("--in <file>", "dataset (.jsonl, .json, .csv, .parquet; any supported format)")
    .option("--from <format>", `dataset format: ${FORMAT_NAMES.join(", ")} (default: detected)`)
    .option(
      "--template <name>",
      `prompt template: ${builtinTemplateNames().join(", ")}, or a YAML/JSON template file (FILE.yaml or FILE.yaml#name)`,
    )
    .option(
      "--chat-template [file]",
      "use the tokenizer's Jinja chat template (the default when it has one), or the Jinja template in FILE",
    )
    .option("--mask-policy <policy>", `which turns are trained: ${MASK_POLICIES.join(", ")}`, "all_assistant")
    .option("--max-seq-length <n>", "truncate samples to this many tokens (reported per record)")
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

function readChatTemplateOption(value: true | string): true | string {
  if (value === true) return true;
  try {
    return readFileSync(value, "utf8");
  } catch (e) {
    throw new SftError(`cannot read the chat template file ${value}`, {
      where: { file: value, field: "--chat-template" },
      hint: "pass a file holding a Jinja chat template, or --chat-template alone for the tokenizer's own",
      cause: e,
    });
  }
}

export interface ResolvedTokenizeOptions {
  tokenizer: TextTokenizer;
  tokenizeOptions: TokenizeOptions;
  records: AsyncIterable<SftRecord>;
  /** Rows the reader could not turn into records (`file:line: reason`), filled while reading. */
  invalidRows: string[];
}

export async function resolveTokenizeOptions(opts: TokenizeCliOptions): Promise<ResolvedTokenizeOptions> {
  if (opts.template !== undefined && opts.chatTemplate) {
    throw new SftError("--template and --chat-template exclude each other", {
      where: { field: "--template" },
      hint: "pass one of them",
    });
  }
  const policy = opts.maskPolicy ?? "all_assistant";
  if (!MASK_POLICIES.includes(policy as MaskPolicy)) {
    throw new SftError(`unknown mask policy "${policy}"`, {
      where: { field: "--mask-policy" },
      hint: `use one of ${MASK_POLICIES.join(", ")}`,
    });
  }
  let maxSeqLength: number | undefined;
  if (opts.maxSeqLength !== undefined) {
    maxSeqLength = Number(opts.maxSeqLength);
    if (!Number.isInteger(maxSeqLength) || maxSeqLength < 2) {
      throw new SftError(`--max-seq-length must be an integer of at least 2, got "${opts.maxSeqLength}"`, {
        where: { field: "--max-seq-length" },
      });
    }
  }
  const truncation = choice<Truncation>(opts.truncation, TRUNCATIONS, "--truncation");
  const lostContent = choice<LostContentPolicy>(opts.lostContent, LOST_CONTENT_POLICIES, "--lost-content");
  const tokenizer = await loadTokenizer(opts.tokenizer);
  const tokenizeOptions: TokenizeOptions = {
    maskPolicy: policy as MaskPolicy,
    ...(truncation ? { truncation } : {}),
    ...(lostContent ? { lostContent } : {}),
    ...(maxSeqLength !== undefined ? { maxSeqLength } : {}),
    ...(opts.template !== undefined ? { template: opts.template } : {}),
    ...(opts.chatTemplate ? { chatTemplate: readChatTemplateOption(opts.chatTemplate) } : {}),
  };
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

interface RenderCliOptions extends TokenizeCliOptions {
  out: string;
}

export async function runRender(opts: RenderCliOptions): Promise<void> {
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
  const { count } = await writeJsonl(opts.out, rows());
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

export function register(parent: Command): void {
  const cmd = parent
    .command("render")
    .description(
      "tokenize a dataset with its template and label mask: one {id, input_ids, labels, text} row per record",
    );
  addTokenizeOptions(cmd)
    .requiredOption("--out <file>", "output .jsonl")
    .addHelpText(
      "after",
      `
Labels are aligned with input_ids; -100 marks tokens that are not trained.
Invalid rows and records with nothing to train are listed on stderr, not written, and make
the exit code 1.

Examples:
  $ sft data render --tokenizer models/Qwen3-0.6B --in train.jsonl --out rendered.jsonl --chat-template
  $ sft data render --tokenizer stories260K.gguf --in alpaca_en_demo.json --out r.jsonl --template alpaca`,
    )
    .action(async (opts: RenderCliOptions) => {
      await runRender(opts);
    });
}
