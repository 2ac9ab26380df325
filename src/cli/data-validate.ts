/** `sft data validate`: checks every row of a dataset and lists the bad ones with file:line. */
import type { Command } from "commander";
import { FORMAT_NAMES, parseColumnMapping, parseFormatName } from "../data/formats/index.js";
import { invalidRowsError, validateFile } from "../data/validate.js";
import { SftError } from "../errors.js";

interface ValidateOptions {
  from?: string;
  columns?: string;
  json?: boolean;
  allowNonAlternating?: boolean;
}

export async function runValidate(file: string, opts: ValidateOptions): Promise<void> {
  const report = await validateFile(file, {
    from: parseFormatName(opts.from, "--from"),
    columns: opts.columns === undefined ? undefined : parseColumnMapping(opts.columns),
    ...(opts.allowNonAlternating ? { allowNonAlternating: true } : {}),
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (report.invalid > 0 || report.rows === 0) process.exitCode = 1;
    return;
  }
  if (report.rows === 0) {
    throw new SftError("0 rows: the file holds no data", {
      where: { file },
      hint: "check the path and that the file was written completely; an empty dataset cannot be trained on",
      code: "E_INVALID_ROWS",
    });
  }
  if (report.invalid > 0) {
    throw invalidRowsError(
      file,
      report.errors.map((e) => e.text),
      report.invalid,
      `${report.valid} of ${report.rows} rows are valid; fix the others, or convert with --skip-invalid to set them aside`,
    );
  }
  process.stdout.write(
    `${file}: ${report.rows} row${report.rows === 1 ? "" : "s"}, all valid (${report.format ?? "empty"})\n`,
  );
}

export function register(parent: Command): void {
  parent
    .command("validate")
    .description("check every row of a dataset; lists invalid rows as file:line: what is wrong")
    .argument("<file>", "dataset (.jsonl, .json, .csv, .parquet)")
    .option("--from <format>", `dataset format: ${FORMAT_NAMES.join(", ")} (default: detected)`)
    .option(
      "--columns <map>",
      "your column names for the format's fields, e.g. instruction=question,output=answer",
    )
    .option("--json", "print a JSON report")
    .option(
      "--allow-non-alternating",
      "accept turns out of user/assistant order (for templates that support it)",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ sft data validate train.jsonl
  $ sft data validate qa.csv --from alpaca --columns instruction=question,output=answer --json`,
    )
    .action(async (file: string, opts: ValidateOptions) => {
      await runValidate(file, opts);
    });
}
