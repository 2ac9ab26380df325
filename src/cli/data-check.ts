/** `sft data check`: the pre-flight checks on a dataset, without training. */
import type { Command } from "commander";
import { writeJsonl } from "../data/io/index.js";
import { LOST_CONTENT_HINT } from "../tokenize/content-loss.js";
import { PREFLIGHT_CHECKS, preflight } from "../tokenize/preflight.js";
import { addTokenizeOptions, resolveTokenizeOptions, type TokenizeCliOptions } from "./data-render.js";

interface CheckCliOptions extends TokenizeCliOptions {
  pack?: boolean;
  json?: boolean;
  maxFailures?: string;
  rejects?: string;
}

/** Truncated and dropped records listed one by one before they are only counted. */
const DROPPED_SHOWN = 10;

export async function runCheck(opts: CheckCliOptions): Promise<void> {
  const { tokenizer, tokenizeOptions, records, invalidRows } = await resolveTokenizeOptions(opts);
  const maxFailures = opts.maxFailures === undefined ? 50 : Math.max(0, Number(opts.maxFailures) || 0);
  const report = await preflight(records, tokenizer, { ...tokenizeOptions, pack: opts.pack, maxFailures });
  const ok = report.ok && invalidRows.length === 0;
  if (opts.rejects) {
    await writeJsonl(
      opts.rejects,
      report.dropped.map((d) => ({ id: d.recordId, reason: d.reason })),
    );
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...report, ok, invalidRows }, null, 2)}\n`);
  } else {
    for (const r of invalidRows) process.stdout.write(`FAIL invalid row: ${r}\n`);
    for (const f of report.failures) process.stdout.write(`FAIL ${f.check}: ${f.message}\n`);
    for (const t of report.truncated.slice(0, DROPPED_SHOWN))
      process.stdout.write(`note: record ${t.recordId} truncated: ${t.truncation}\n`);
    if (report.truncated.length > DROPPED_SHOWN)
      process.stdout.write(`… ${report.truncated.length - DROPPED_SHOWN} more truncated\n`);
    for (const d of report.dropped.slice(0, DROPPED_SHOWN))
      process.stdout.write(`dropped: record ${d.recordId}: ${d.reason}\n`);
    if (report.dropped.length > DROPPED_SHOWN)
      process.stdout.write(`… ${report.dropped.length - DROPPED_SHOWN} more dropped\n`);
    for (const n of report.notices) process.stdout.write(`note: ${n}\n`);
    if (report.counts["lost-content"] > 0) process.stdout.write(`fix (lost-content): ${LOST_CONTENT_HINT}\n`);
    const shown = report.failures.length;
    const total = Object.values(report.counts).reduce((a, b) => a + b, 0);
    if (total > shown)
      process.stdout.write(`… ${total - shown} more failure(s) not shown (--max-failures)\n`);
    const lines = PREFLIGHT_CHECKS.filter((c) => c !== "packing" || opts.pack).map(
      (c) =>
        `  ${report.counts[c] === 0 ? "ok  " : "FAIL"} ${c}${report.counts[c] ? ` (${report.counts[c]})` : ""}`,
    );
    process.stdout.write(
      `${report.records} record(s), ${report.samples} sample(s), ${report.truncated.length} truncated${report.dropped.length ? `, ${report.dropped.length} dropped${opts.rejects ? ` (see ${opts.rejects})` : ""}` : ""}${invalidRows.length ? `, ${invalidRows.length} invalid row(s)` : ""}\n${lines.join("\n")}\n${ok ? "all checks passed" : "pre-flight FAILED"}\n`,
    );
  }
  if (!ok) process.exitCode = 1;
}

export function register(parent: Command): void {
  const cmd = parent
    .command("check")
    .description(
      "pre-flight checks: trained tokens, end tokens in the loss, doubled BOS, train/generation prompt match, round-trips at mask boundaries, packing, content the template lost",
    );
  addTokenizeOptions(cmd)
    .option("--pack", "also pack the samples (rows of --max-seq-length) and check the packing")
    .option("--max-failures <n>", "show at most this many failures", "50")
    .option(
      "--rejects <file>",
      "write the records set aside (too long, or --lost-content drop) with their reasons here (.jsonl)",
    )
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      `
Exit code 1 when any check fails; each failure names the record and shows the tokens.

Examples:
  $ sft data check --tokenizer models/Qwen3-0.6B --in train.jsonl --chat-template --max-seq-length 2048 --pack
  $ sft data check --tokenizer models/Mistral-7B --in alpaca.json --template alpaca --json`,
    )
    .action(async (opts: CheckCliOptions) => {
      await runCheck(opts);
    });
}
