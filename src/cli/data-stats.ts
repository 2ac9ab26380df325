/** `sft data stats`: describes a dataset (counts, lengths, languages, duplicates). */
import type { Command } from "commander";
import { FORMAT_NAMES, parseColumnMapping, parseFormatName } from "../data/formats/index.js";
import { computeStats, formatStats } from "../data/stats.js";

interface StatsCliOptions {
  from?: string;
  columns?: string;
  tokenizer?: string;
  json?: boolean;
}

export async function runStats(file: string, opts: StatsCliOptions): Promise<void> {
  const stats = await computeStats(file, {
    from: parseFormatName(opts.from, "--from"),
    columns: opts.columns === undefined ? undefined : parseColumnMapping(opts.columns),
    tokenizer: opts.tokenizer,
  });
  process.stdout.write(opts.json ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
  if (stats.invalid_rows > 0 && !opts.json) {
    process.stderr.write(
      `warning: ${stats.invalid_rows} invalid rows are not described; run \`sft data validate ${file}\` to list them\n`,
    );
  }
}

export function register(parent: Command): void {
  parent
    .command("stats")
    .description(
      "describe a dataset: rows, turns, roles, lengths, language mix, meta counts, empties, duplicates",
    )
    .argument("<file>", "dataset (.jsonl, .json, .csv, .parquet)")
    .option("--from <format>", `dataset format: ${FORMAT_NAMES.join(", ")} (default: detected)`)
    .option(
      "--columns <map>",
      "your column names for the format's fields, e.g. instruction=question,output=answer",
    )
    .option("--tokenizer <dir>", "directory with tokenizer.json: adds token length percentiles")
    .option("--json", "print JSON instead of a table")
    .addHelpText(
      "after",
      `
Examples:
  $ sft data stats alpaca_zh_demo.json
  $ sft data stats train.jsonl --tokenizer models/Qwen3-0.6B --json`,
    )
    .action(async (file: string, opts: StatsCliOptions) => {
      await runStats(file, opts);
    });
}
