/** `sft data diversity F`: coverage of the taxonomy per dimension, and what is missing. */
import type { Command } from "commander";
import { readRecords } from "../data/io/index.js";
import { diversityReport, loadTaxonomy } from "../data/taxonomy/index.js";

export async function runDataDiversity(
  input: string,
  flags: { taxonomy?: string; json?: boolean },
): Promise<void> {
  const report = await diversityReport(readRecords(input), loadTaxonomy(flags.taxonomy));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `rows: ${report.rows}   distinct-1: ${report.distinct_1.toFixed(3)}   distinct-2: ${report.distinct_2.toFixed(3)}`,
  ];
  for (const [dim, c] of Object.entries(report.dimensions)) {
    const cov = c.expected.length
      ? `${c.covered}/${c.expected.length} covered (${(c.coverage * 100).toFixed(0)}%)`
      : `${c.covered} values`;
    lines.push(
      `${dim}: ${cov}, evenness ${c.evenness.toFixed(2)}${c.unlabelled ? `, ${c.unlabelled} rows unlabelled` : ""}`,
    );
    const top = Object.entries(c.counts)
      .slice(0, 8)
      .map(([k, v]) => `${k}=${v}`);
    if (top.length) lines.push(`  top: ${top.join(", ")}`);
    if (c.missing.length) lines.push(`  missing: ${c.missing.join(", ")}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

export function register(parent: Command): void {
  parent
    .command("diversity")
    .description("report coverage of the task-type/domain/difficulty/style taxonomy and what is missing")
    .argument("<file>", "dataset file")
    .option("--taxonomy <file>", "taxonomy YAML/JSON (default: built-in)")
    .option("--json", "print the full report as JSON")
    .addHelpText("after", "\nExample:\n  sft data diversity built.jsonl --json")
    .action((file: string, flags: { taxonomy?: string; json?: boolean }) => runDataDiversity(file, flags));
}
