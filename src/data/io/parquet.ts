/**
 * Parquet through hyparquet (pure JS, no native download): rows are read one row group at
 * a time, and written one row group at a time from a stream of rows.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { ByteWriter, parquetWriteRows } from "hyparquet-writer";
import { SftError } from "../../errors.js";
import type { AtomicFileWriter } from "../../util/atomic.js";
import type { RowItem } from "./types.js";

export async function* readParquet(file: string): AsyncGenerator<RowItem> {
  let source: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    source = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(source);
  } catch (e) {
    throw new SftError(`not a readable Parquet file (${(e as Error).message})`, {
      where: { file },
      hint: "check that the file is Parquet, or pass the right file type",
      cause: e,
    });
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: source, metadata, rowStart, rowEnd });
    } catch (e) {
      throw new SftError(`cannot decode Parquet rows ${rowStart + 1}-${rowEnd} (${(e as Error).message})`, {
        where: { file },
        cause: e,
      });
    }
    for (let k = 0; k < rows.length; k++) {
      yield { row: plainValue(rows[k]), line: rowStart + k + 1, file };
    }
    rowStart = rowEnd;
  }
}

/** BigInt (INT64) becomes a number when exact, else its decimal string; nested values too. */
function plainValue(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (Array.isArray(value)) return value.map(plainValue);
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainValue(v);
    return out;
  }
  return value;
}

/** A hyparquet Writer that streams its bytes into an AtomicFileWriter after each row group. */
class AtomicParquetSink extends ByteWriter {
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

export interface ParquetColumn {
  name: string;
  /** "STRING" when every value is a string (or missing), else "JSON" (any JSON value). */
  type: "STRING" | "JSON";
}

export async function writeParquetRows(
  out: AtomicFileWriter,
  columns: ParquetColumn[],
  rows: AsyncIterable<Record<string, unknown>>,
): Promise<void> {
  const sink = new AtomicParquetSink(out);
  await parquetWriteRows({
    writer: sink,
    rows,
    columns: columns.map((c) => ({ name: c.name, type: c.type, nullable: true })),
    rowGroupSize: 10_000,
  });
}
