/**
 * Raw row reading and writing for every container (JSONL, JSON array, CSV, Parquet). Rows
 * are plain JSON values; converting them to records happens in ../formats.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, rm, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { finished } from "node:stream/promises";
import { SftError } from "../../errors.js";
import { AtomicFileWriter } from "../../util/atomic.js";
import { csvField, readCsv } from "./csv.js";
import { readJsonArray } from "./json-array.js";
import { readJsonl } from "./jsonl.js";
import { readByteLines } from "./lines.js";
import { readParquet, writeParquetRows } from "./parquet.js";
import { FILE_TYPES, type FileType, type ReadRowsOptions, type RowItem } from "./types.js";

const EXTENSIONS: Record<string, FileType> = {
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".json": "json",
  ".csv": "csv",
  ".parquet": "parquet",
  ".pq": "parquet",
};

/** The file type implied by a path's extension (".jsonl", ".json", ".csv", ".parquet"). */
export function fileTypeOf(path: string, override?: FileType): FileType {
  if (override) {
    if (!FILE_TYPES.includes(override)) {
      throw new SftError(`unknown file type "${override}"`, { hint: `use one of ${FILE_TYPES.join(", ")}` });
    }
    return override;
  }
  const ext = extname(path).toLowerCase();
  const type = EXTENSIONS[ext];
  if (!type) {
    throw new SftError(`cannot tell the file type from the extension "${ext || "(none)"}"`, {
      where: { file: path },
      hint: "name the file .jsonl, .json, .csv or .parquet, or pass the file type explicitly",
    });
  }
  return type;
}

async function assertReadableFile(path: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new SftError("file not found", { where: { file: path }, hint: "check the path" });
  }
  if (!info.isFile()) throw new SftError("not a regular file", { where: { file: path } });
}

/** A ".json" file may hold JSON Lines: look at its first non-blank character. */
async function startsWithObject(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const head = buf
      .subarray(0, bytesRead)
      .toString("utf8")
      .replace(/^\uFEFF/, "");
    return head.trimStart().startsWith("{");
  } finally {
    await handle.close();
  }
}

/**
 * Streams the rows of a dataset file with the line each starts on. Rows that cannot be
 * read go to `opts.onReject` (reading continues) or, without it, throw an SftError.
 */
export async function* readRows(path: string, opts: ReadRowsOptions = {}): AsyncGenerator<RowItem> {
  const type = fileTypeOf(path, opts.fileType);
  await assertReadableFile(path);
  switch (type) {
    case "jsonl":
      yield* readJsonl(path, opts);
      return;
    case "json":
      yield* (await startsWithObject(path)) ? readJsonl(path, opts) : readJsonArray(path, opts);
      return;
    case "csv":
      yield* readCsv(path, opts);
      return;
    case "parquet":
      yield* readParquet(path);
      return;
  }
}

export type RowSource<T> = AsyncIterable<T> | Iterable<T>;

export interface WriteRowsOptions {
  fileType?: FileType;
  /** Columns for CSV/Parquet when there are no rows to take them from (an empty dataset). */
  emptyColumns?: readonly string[];
}

/**
 * Writes rows atomically (nothing appears at `path` until every row is written). JSONL and
 * JSON stream straight through; CSV and Parquet need the full column list before the first
 * row, so rows are spooled to a temporary JSONL file next to the target first.
 */
export async function writeRows(
  path: string,
  rows: RowSource<unknown>,
  opts: WriteRowsOptions = {},
): Promise<{ count: number }> {
  const type = fileTypeOf(path, opts.fileType);
  if (type === "jsonl" || type === "json") return writeJsonText(path, rows, type);
  return writeColumnar(path, rows, type, opts.emptyColumns ?? []);
}

/** Writes arbitrary JSON rows as JSON Lines, atomically and streaming. */
export function writeJsonl(path: string, rows: RowSource<unknown>): Promise<{ count: number }> {
  return writeRows(path, rows, { fileType: "jsonl" });
}

const CHUNK_CHARS = 1 << 18;

async function writeJsonText(path: string, rows: RowSource<unknown>, type: "jsonl" | "json") {
  const out = await AtomicFileWriter.open(path);
  let count = 0;
  try {
    let chunk = type === "json" ? "[" : "";
    for await (const row of rows) {
      if (type === "jsonl") chunk += `${JSON.stringify(row)}\n`;
      else chunk += `${count === 0 ? "\n" : ",\n"}  ${JSON.stringify(row, null, 2).replaceAll("\n", "\n  ")}`;
      count++;
      if (chunk.length >= CHUNK_CHARS) {
        await out.write(chunk);
        chunk = "";
      }
    }
    if (type === "json") chunk += count === 0 ? "]\n" : "\n]\n";
    await out.write(chunk);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
  return { count };
}

async function writeColumnar(
  path: string,
  rows: RowSource<unknown>,
  type: "csv" | "parquet",
  emptyColumns: readonly string[],
) {
  const spool = join(
    dirname(path),
    `.${basename(path)}.spool-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  const columns = new Map<string, { allStrings: boolean }>();
  let count = 0;
  await mkdir(dirname(path), { recursive: true });
  try {
    const spoolStream = createWriteStream(spool);
    try {
      for await (const row of rows) {
        if (!row || typeof row !== "object" || Array.isArray(row)) {
          throw new SftError(`row ${count + 1} is not an object; ${type.toUpperCase()} needs named columns`, {
            where: { file: path },
          });
        }
        for (const [key, value] of Object.entries(row)) {
          let col = columns.get(key);
          if (!col) {
            col = { allStrings: true };
            columns.set(key, col);
          }
          if (value !== undefined && value !== null && typeof value !== "string") col.allStrings = false;
        }
        if (!spoolStream.write(`${JSON.stringify(row)}\n`)) {
          await new Promise<void>((resolve) => spoolStream.once("drain", () => resolve()));
        }
        count++;
      }
    } finally {
      spoolStream.end();
      await finished(spoolStream);
    }
    const spooled = async function* () {
      for await (const { bytes } of readByteLines(spool)) yield JSON.parse(bytes.toString("utf8"));
    };
    if (columns.size === 0) for (const name of emptyColumns) columns.set(name, { allStrings: true });
    const out = await AtomicFileWriter.open(path);
    try {
      if (type === "csv") {
        const names = [...columns.keys()];
        let chunk = `${names.map(csvField).join(",")}\r\n`;
        for await (const row of spooled()) {
          chunk += `${names.map((n) => csvField(row[n])).join(",")}\r\n`;
          if (chunk.length >= CHUNK_CHARS) {
            await out.write(chunk);
            chunk = "";
          }
        }
        await out.write(chunk);
      } else {
        const cols = [...columns].map(([name, c]) => ({
          name,
          type: c.allStrings ? ("STRING" as const) : ("JSON" as const),
        }));
        if (cols.length === 0)
          throw new SftError("no columns to write: the dataset is empty", { where: { file: path } });
        await writeParquetRows(out, cols, spooled());
      }
      await out.commit();
    } catch (e) {
      await out.abort();
      throw e;
    }
  } finally {
    await rm(spool, { force: true });
  }
  return { count };
}
