/** `sft data inspect`: shows samples with their trained tokens highlighted (terminal and HTML). */
import type { Command } from "commander";
import { SftError } from "../errors.js";
import type { SftRecord } from "../record/record.js";
import { type TokenizedSample, tryTokenizeRecord } from "../tokenize/mask.js";
import { renderHtml, renderTerminal } from "../tokenize/view.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { makeRng } from "../util/rng.js";
import { addTokenizeOptions, resolveTokenizeOptions, type TokenizeCliOptions } from "./data-render.js";

interface InspectCliOptions extends TokenizeCliOptions {
  limit: string;
  sample?: string;
  seed: string;
  ids?: string;
  html?: string;
  color?: boolean;
  tokens?: boolean;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new SftError(`${flag} must be a positive integer, got "${value}"`, { where: { field: flag } });
  }
  return n;
}

/** Picks records: by id, a seeded random sample (reservoir, streaming), or the first N. */
async function pickRecords(records: AsyncIterable<SftRecord>, opts: InspectCliOptions): Promise<SftRecord[]> {
  if (opts.ids) {
    const wanted = new Set(opts.ids.split(",").map((s) => s.trim()));
    const out: SftRecord[] = [];
    for await (const r of records) if (wanted.has(r.id)) out.push(r);
    return out;
  }
  if (opts.sample) {
    const k = positiveInt(opts.sample, "--sample");
    const rand = makeRng(Number(opts.seed) || 0);
    const out: SftRecord[] = [];
    let seen = 0;
    for await (const r of records) {
      seen++;
      if (out.length < k) out.push(r);
      else {
        const j = Math.floor(rand() * seen);
        if (j < k) out[j] = r;
      }
    }
    return out;
  }
  const n = positiveInt(opts.limit, "--limit");
  const out: SftRecord[] = [];
  for await (const r of records) {
    out.push(r);
    if (out.length >= n) break;
  }
  return out;
}

export async function runInspect(opts: InspectCliOptions): Promise<void> {
  const { tokenizer, tokenizeOptions, records } = await resolveTokenizeOptions(opts);
  const picked = await pickRecords(records, opts);
  const samples: TokenizedSample[] = [];
  const color = opts.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR);
  for (const record of picked) {
    const res = tryTokenizeRecord(record, tokenizer, tokenizeOptions);
    if (!res.ok) {
      process.stdout.write(`── ${res.id}: rejected: ${res.reason}\n`);
      continue;
    }
    samples.push(res.sample);
    process.stdout.write(renderTerminal(res.sample, tokenizer, { color, showTokenBoundaries: opts.tokens }));
  }
  if (opts.html) {
    writeFileAtomicSync(opts.html, renderHtml(samples, tokenizer, `sft data inspect: ${opts.in}`));
    process.stderr.write(`wrote ${samples.length} sample(s) to ${opts.html}\n`);
  }
}

export function register(parent: Command): void {
  const cmd = parent
    .command("inspect")
    .description("show tokenized records with the trained tokens highlighted (terminal, and --html FILE)");
  addTokenizeOptions(cmd)
    .option("--limit <n>", "show the first N records", "3")
    .option("--sample <n>", "show N records drawn at random (seeded) instead")
    .option("--seed <s>", "seed for --sample", "0")
    .option("--ids <list>", "show these record ids (comma-separated)")
    .option("--html <file>", "also write an HTML view of the same records")
    .option("--color", "force colour (default: when stdout is a terminal)")
    .option("--no-color", "no colour: trained text is wrapped in ⟦ ⟧")
    .option("--tokens", "separate tokens with ·")
    .addHelpText(
      "after",
      `
Examples:
  $ sft data inspect --tokenizer models/Qwen3-0.6B --in train.jsonl --chat-template --limit 2
  $ sft data inspect --tokenizer stories260K.gguf --in alpaca.json --template alpaca --sample 20 --html view.html`,
    )
    .action(async (opts: InspectCliOptions) => {
      await runInspect(opts);
    });
}
