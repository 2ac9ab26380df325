/**
 * `sft data convert`: rewrites a dataset in another format and/or file type. Bad rows make
 * the command fail with file:line for each; with --skip-invalid the good rows are written
 * and every bad row goes to a rejects file with its line and reason.
 */
import type { Command } from "commander";
import { FORMAT_NAMES, parseColumnMapping, parseFormatName } from "../data/formats/index.js";
import { readRecords, writeRecords } from "../data/io/index.js";
import type { Reject } from "../data/io/types.js";
import { invalidRowsError, MAX_LISTED_ERRORS, rejectLine } from "../data/validate.js";
import { SftError } from "../errors.js";
import type { SftRecord } from "../record/record.js";
import { AtomicFileWriter } from "../util/atomic.js";

interface ConvertOptions {
  in: string;
  out: string;
  from?: string;
  to?: string;
  columns?: string;
  skipInvalid?: boolean;
  rejects?: string;
  allowNonAlternating?: boolean;
}

export async function runConvert(opts: ConvertOptions): Promise<void> {
  const from = parseFormatName(opts.from, "--from");
  const to = parseFormatName(opts.to ?? "record", "--to") ?? "record";
  const columns = opts.columns === undefined ? undefined : parseColumnMapping(opts.columns);
  const rejectsPath = opts.rejects ?? `${opts.out}.rejects.jsonl`;
  let detected = from;
  let rejected = 0;
  let read = 0;
  const listed: string[] = [];
  const pending: Reject[] = [];
  const rejectsFile = opts.skipInvalid ? await AtomicFileWriter.open(rejectsPath) : undefined;
  const flushRejects = async () => {
    if (!rejectsFile || pending.length === 0) return;
    const text = pending
      .map((r) => `${JSON.stringify({ line: r.line, reason: r.reason, row: r.row })}\n`)
      .join("");
    pending.length = 0;
    await rejectsFile.write(text);
  };
  // Every row is read (skipInvalid) so that all problems can be counted; without
  // --skip-invalid, any reject aborts the output after the scan.
  async function* records(): AsyncGenerator<SftRecord> {
    const source = readRecords(opts.in, {
      from,
      columns,
      skipInvalid: true,
      ...(opts.allowNonAlternating ? { allowNonAlternating: true } : {}),
      onFormat: (f) => {
        detected = f;
      },
      onReject: (r) => {
        rejected++;
        if (listed.length < MAX_LISTED_ERRORS) listed.push(rejectLine(r));
        if (rejectsFile) pending.push(r);
      },
    });
    for await (const record of source) {
      read++;
      await flushRejects();
      yield record;
    }
    await flushRejects();
    if (read === 0 && rejected === 0) {
      throw new SftError("0 rows: the file holds no data, nothing to convert", {
        where: { file: opts.in },
        hint: "check the path and that the file was written completely",
        code: "E_INVALID_ROWS",
      });
    }
    if (rejected > 0 && !opts.skipInvalid) {
      throw invalidRowsError(
        opts.in,
        listed,
        rejected,
        "fix these rows, or pass --skip-invalid to write the valid rows and a rejects file",
      );
    }
  }
  let count: number;
  try {
    ({ count } = await writeRecords(opts.out, records(), { to }));
  } catch (e) {
    await rejectsFile?.abort();
    throw e;
  }
  await rejectsFile?.commit();
  let summary = `wrote ${count} record${count === 1 ? "" : "s"} to ${opts.out} (${detected ?? "unknown"} → ${to})`;
  if (rejectsFile) summary += `; rejected ${rejected} row${rejected === 1 ? "" : "s"} → ${rejectsPath}`;
  process.stdout.write(`${summary}\n`);
}

export function register(parent: Command): void {
  parent
    .command("convert")
    .description("convert a dataset between formats and file types (.jsonl, .json, .csv, .parquet)")
    .requiredOption("--in <file>", "dataset to read")
    .requiredOption("--out <file>", "file to write (file type from its extension)")
    .option(
      "--from <format>",
      `input format: ${FORMAT_NAMES.join(", ")} (default: detected from the first row)`,
    )
    .option("--to <format>", `output format: ${FORMAT_NAMES.join(", ")}`, "record")
    .option(
      "--columns <map>",
      "your column names for the format's fields, e.g. instruction=question,output=answer",
    )
    .option("--skip-invalid", "write the valid rows and put each invalid row in a rejects file")
    .option("--rejects <file>", "rejects file for --skip-invalid (default: <out>.rejects.jsonl)")
    .option(
      "--allow-non-alternating",
      "accept turns out of user/assistant order (for templates that support it)",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ sft data convert --in alpaca_en_demo.json --out train.jsonl
  $ sft data convert --in chats.parquet --out chats.json --to sharegpt
  $ sft data convert --in qa.csv --out qa.jsonl --from alpaca --columns instruction=question,output=answer --skip-invalid`,
    )
    .action(async (opts: ConvertOptions) => {
      await runConvert(opts);
    });
}
