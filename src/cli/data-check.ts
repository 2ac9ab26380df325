/** `sft data check`: the pre-flight checks on a dataset, without training. */
import type { Command } from "commander";
import { PREFLIGHT_CHECKS, preflight } from "../tokenize/preflight.js";
import { addTokenizeOptions, resolveTokenizeOptions, type TokenizeCliOptions } from "./data-render.js";

interface CheckCliOptions extends TokenizeCliOptions {
  pack?: boolean;
  json?: boolean;
  maxFailures?: string;
}

export async function runCheck(opts: CheckCliOptions): Promise<void> {
  const { tokenizer, tokenizeOptions, records, invalidRows } = await resolveTokenizeOptions(opts);
  const maxFailures = opts.maxFailures === undefined ? 50 : Math.max(0, Number(opts.maxFailures) || 0);
  const report = await preflight(records, tokenizer, { ...tokenizeOptions, pack: opts.pack, maxFailures });
  const ok = report.ok && invalidRows.length === 0;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...report, ok, invalidRows }, null, 2)}\n`);
  } else {
    for (const r of invalidRows) process.stdout.write(`FAIL invalid row: ${r}\n`);
    for (const f of report.failures) process.stdout.write(`FAIL ${f.check}: ${f.message}\n`);
    for (const t of report.truncated)
      process.stdout.write(`note: record ${t.recordId} truncated: ${t.truncation}\n`);
    const shown = report.failures.length;
    const total = Object.values(report.counts).reduce((a, b) => a + b, 0);
    if (total > shown)
      process.stdout.write(`… ${total - shown} more failure(s) not shown (--max-failures)\n`);
    const lines = PREFLIGHT_CHECKS.filter((c) => c !== "packing" || opts.pack).map(
      (c) =>
        `  ${report.counts[c] === 0 ? "ok  " : "FAIL"} ${c}${report.counts[c] ? ` (${report.counts[c]})` : ""}`,
    );
    process.stdout.write(
      `${report.records} record(s), ${report.samples} sample(s), ${report.truncated.length} truncated${invalidRows.length ? `, ${invalidRows.length} invalid row(s)` : ""}\n${lines.join("\n")}\n${ok ? "all checks passed" : "pre-flight FAILED"}\n`,
    );
  }
  if (!ok) process.exitCode = 1;
}

export function register(parent: Command): void {
  const cmd = parent
    .command("check")
    .description(
      "pre-flight checks: trained tokens, end tokens in the loss, doubled BOS, train/generation prompt match, round-trips at mask boundaries, packing",
    );
  addTokenizeOptions(cmd)
    .option("--pack", "also pack the samples (rows of --max-seq-length) and check the packing")
    .option("--max-failures <n>", "show at most this many failures", "50")
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
