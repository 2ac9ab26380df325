/** `sft data balance IN --out OUT --per-group N`: per-group targets, best quality first, report of short groups. */
import type { Command } from "commander";
import { balanceConfigSchema } from "../config/build.js";
import { checkConfig } from "../config/load.js";
import { balanceRecords } from "../data/balance.js";
import { readRecords, writeRecords } from "../data/io/index.js";
import { writeFileAtomicSync } from "../util/atomic.js";

interface BalanceFlags {
  out: string;
  perGroup: string;
  groupBy?: string;
  report?: string;
}

export async function runDataBalance(input: string, flags: BalanceFlags): Promise<void> {
  const config = checkConfig(balanceConfigSchema, {
    per_group: Number(flags.perGroup),
    ...(flags.groupBy ? { group_by: flags.groupBy.split(",").filter(Boolean) } : {}),
  });
  const { records, report } = await balanceRecords(readRecords(input), config);
  await writeRecords(flags.out, records);
  if (flags.report) writeFileAtomicSync(flags.report, `${JSON.stringify(report, null, 2)}\n`);
  for (const g of report.short_groups) {
    process.stderr.write(`short: ${g.group} has ${g.selected}/${g.target} (missing ${g.missing})\n`);
  }
  process.stdout.write(
    `${JSON.stringify({ input_rows: report.input_rows, output_rows: report.output_rows, groups: report.groups.length, short_groups: report.short_groups.length, out: flags.out })}\n`,
  );
}

export function register(parent: Command): void {
  parent
    .command("balance")
    .description("keep at most N rows per group (best meta.quality first) and report groups that fall short")
    .argument("<in>", "dataset file")
    .requiredOption("--out <file>", "balanced rows")
    .requiredOption("--per-group <n>", "target rows per group")
    .option("--group-by <fields>", "meta fields forming a group (default type,topic)")
    .option("--report <file>", "write the full per-group report as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  sft data balance dedup.jsonl --out balanced.jsonl --per-group 50 --report balance.json",
    )
    .action((input: string, flags: BalanceFlags) => runDataBalance(input, flags));
}
