/**
 * Writes pre-tokenized rows as JSON Lines or Parquet (by the file's extension), atomically.
 * Parquet columns are real `list<int32>` columns — what `datasets` and pyarrow read as lists of
 * ints — not JSON text.
 */
import { extname } from "node:path";
import { ByteWriter, parquetWriteRows } from "hyparquet-writer";
import { writeJsonl } from "../data/io/index.js";
import { SftError } from "../errors.js";
import { AtomicFileWriter } from "../util/atomic.js";

export type TokenRowFile = "jsonl" | "parquet";

/** The file type of a pre-tokenized output path; anything but .jsonl / .parquet is an error. */
export function tokenRowFileOf(path: string, field = "--out"): TokenRowFile {
  const ext = extname(path).toLowerCase();
  if (ext === ".jsonl") return "jsonl";
  if (ext === ".parquet") return "parquet";
  throw new SftError(`cannot write pre-tokenized rows to "${path}": unknown extension "${ext}"`, {
    where: { field },
    hint: "name the output FILE.jsonl or FILE.parquet",
  });
}

/** Streams the bytes of each row group into an atomic file. */
class AtomicSink extends ByteWriter {
  constructor(private readonly out: AtomicFileWriter) {
    super(1 << 20);
  }
  flush(): Promise<void> {
    const bytes = new Uint8Array(this.buffer, 0, this.index).slice();
    this.index = 0;
    return this.out.write(bytes);
  }
  override finish(): Promise<void> {
    return this.flush();
  }
}

function listColumnSchema(name: string) {
  return [
    { name, repetition_type: "OPTIONAL" as const, converted_type: "LIST" as const, num_children: 1 },
    { name: "list", repetition_type: "REPEATED" as const, num_children: 1 },
    { name: "element", type: "INT32" as const, repetition_type: "REQUIRED" as const },
  ];
}

/** Writes rows whose every column is a list of integers; returns how many were written. */
export async function writeTokenRows<R extends object>(
  path: string,
  columns: readonly string[],
  rows: AsyncIterable<R> | Iterable<R>,
): Promise<{ count: number }> {
  const type = tokenRowFileOf(path);
  let count = 0;
  async function* counted() {
    for await (const r of rows) {
      count++;
      yield r;
    }
  }
  if (type === "jsonl") {
    await writeJsonl(path, counted());
    return { count };
  }
  const out = await AtomicFileWriter.open(path);
  try {
    await parquetWriteRows({
      writer: new AtomicSink(out),
      rows: counted() as AsyncIterable<Record<string, unknown>>,
      columns: columns.map((name) => ({ name })),
      schema: [{ name: "root", num_children: columns.length }, ...columns.flatMap(listColumnSchema)],
      rowGroupSize: 10_000,
    });
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
  return { count };
}
