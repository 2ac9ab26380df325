/**
 * safetensors read/write. Layout: 8-byte little-endian header length N, N bytes of JSON
 * header (`{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": {…} }`,
 * offsets relative to the data section), then the raw tensor bytes.
 *
 * Reading never loads the whole file: each tensor's byte range is read straight into its
 * own Float32Array (F32) or a scratch buffer that is converted (F16, BF16, F64, I32, I64,
 * U8). Writing streams tensor by tensor into a temporary file that is renamed into place.
 * Sharded checkpoints (`model.safetensors.index.json` + `model-0000i-of-0000n.safetensors`)
 * are read and written too.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SftError } from "../../errors.js";
import { numel, type StorageDType, type StoredTensor, type Tensor } from "../tensor.js";
import { float32Bytes, RandomAccessFile, writeAtomically } from "./file-io.js";
import { decodeBF16, decodeF16, encodeBF16, encodeF16 } from "./numeric.js";

/** Disk dtypes safetensors files may hold that this reader converts to Float32. */
const READ_DTYPES: Record<string, { bytes: number; dtype: StorageDType }> = {
  F32: { bytes: 4, dtype: "F32" },
  F16: { bytes: 2, dtype: "F16" },
  BF16: { bytes: 2, dtype: "BF16" },
  F64: { bytes: 8, dtype: "F64" },
  I32: { bytes: 4, dtype: "I32" },
  I64: { bytes: 8, dtype: "I64" },
  U8: { bytes: 1, dtype: "U8" },
};

export type SafetensorsWriteDType = "F32" | "F16" | "BF16";
const WRITE_BYTES: Record<SafetensorsWriteDType, number> = { F32: 4, F16: 2, BF16: 2 };

export interface SafetensorsEntry {
  dtype: StorageDType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  path: string;
  metadata: Record<string, string>;
  /** In file order. */
  entries: Map<string, SafetensorsEntry>;
}

function fail(path: string, message: string, hint: string, field?: string): SftError {
  return new SftError(message, {
    where: field === undefined ? { file: path } : { file: path, field },
    hint,
    code: "E_CHECKPOINT",
  });
}

function parseHeader(path: string, file: RandomAccessFile): SafetensorsHeader {
  const notSafetensors = "is this a .safetensors file? Re-save it with safetensors or sftkit";
  if (file.size < 8) {
    throw fail(
      path,
      `not a safetensors file: ${file.size} bytes, too short for the 8-byte header length`,
      notSafetensors,
    );
  }
  const lenBytes = file.read(0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > file.size - 8) {
    throw fail(
      path,
      `truncated header: the header claims ${headerLen} bytes but only ${file.size - 8} follow the length prefix`,
      "the file is truncated or not safetensors; download or write it again",
    );
  }
  const text = Buffer.from(file.read(8, headerLen)).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(path, `header is not valid JSON (${(e as Error).message})`, notSafetensors);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw fail(path, "header is not a JSON object", notSafetensors);
  }
  const dataStart = 8 + headerLen;
  const dataLen = file.size - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw && typeof raw === "object") {
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) metadata[k] = String(v);
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (
      !e ||
      typeof e.dtype !== "string" ||
      !Array.isArray(e.shape) ||
      !e.shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(e.data_offsets) ||
      e.data_offsets.length !== 2 ||
      !e.data_offsets.every((d) => Number.isInteger(d) && d >= 0)
    ) {
      throw fail(
        path,
        "malformed header entry: needs dtype, shape and data_offsets [begin, end]",
        notSafetensors,
        name,
      );
    }
    const spec = READ_DTYPES[e.dtype];
    if (!spec) {
      throw fail(
        path,
        `unsupported dtype "${e.dtype}" (supported: ${Object.keys(READ_DTYPES).join(", ")})`,
        "convert the checkpoint to F32, F16 or BF16",
        name,
      );
    }
    const shape = e.shape as number[];
    const [begin, end] = e.data_offsets as number[];
    const need = numel(shape) * spec.bytes;
    if (end - begin !== need) {
      throw fail(
        path,
        `shape [${shape.join(", ")}] with dtype ${e.dtype} needs ${need} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
        "the header is inconsistent; re-save the checkpoint",
        name,
      );
    }
    if (end > dataLen) {
      throw fail(
        path,
        `data_offsets [${begin}, ${end}] run past the end of the data section (${dataLen} bytes)`,
        "the file is truncated; download or write it again",
        name,
      );
    }
    entries.set(name, { dtype: spec.dtype, shape, begin: dataStart + begin, end: dataStart + end });
  }
  return { path, metadata, entries };
}

/** Reads only the header: names, dtypes, shapes, metadata. Cheap for any file size. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const file = RandomAccessFile.open(path);
  try {
    return parseHeader(path, file);
  } finally {
    file.close();
  }
}

function loadEntry(file: RandomAccessFile, entry: SafetensorsEntry): Float32Array {
  const n = numel(entry.shape);
  const out = new Float32Array(n);
  if (entry.dtype === "F32") {
    file.readInto(float32Bytes(out), entry.begin);
    return out;
  }
  const raw = file.read(entry.begin, entry.end - entry.begin);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (entry.dtype) {
    case "F16":
      decodeF16(raw, out);
      break;
    case "BF16":
      decodeBF16(raw, out);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case "I32":
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case "I64":
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case "U8":
      for (let i = 0; i < n; i++) out[i] = raw[i];
      break;
    default:
      throw new Error(`unreachable dtype ${entry.dtype}`);
  }
  return out;
}

export interface SafetensorsContents {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/**
 * Reads a safetensors file (or, given a `*.safetensors.index.json`, the sharded checkpoint
 * it lists). `names` limits the load to those tensors.
 */
export function readSafetensorsFile(
  path: string,
  opts: { names?: Iterable<string> } = {},
): SafetensorsContents {
  if (path.endsWith(".index.json")) return readShardedSafetensors(path, opts);
  const file = RandomAccessFile.open(path);
  try {
    const header = parseHeader(path, file);
    const wanted = opts.names ? new Set(opts.names) : null;
    const tensors = new Map<string, StoredTensor>();
    for (const [name, entry] of header.entries) {
      if (wanted && !wanted.has(name)) continue;
      tensors.set(name, { dtype: entry.dtype, shape: entry.shape, data: loadEntry(file, entry) });
    }
    return { tensors, metadata: header.metadata };
  } finally {
    file.close();
  }
}

/** Synchronous read of every tensor in a safetensors file (or sharded index). */
export function readSafetensorsSync(path: string): Map<string, StoredTensor> {
  return readSafetensorsFile(path).tensors;
}

/** Every tensor in a safetensors file (or sharded index), as Float32. */
export async function readSafetensors(path: string): Promise<Map<string, StoredTensor>> {
  return readSafetensorsFile(path).tensors;
}

export interface SafetensorsWriteOptions {
  /** String-to-string metadata stored under `__metadata__`. */
  metadata?: Record<string, string>;
  /** Disk dtype for every tensor, or per tensor name. Default F32. */
  dtype?: SafetensorsWriteDType | ((name: string, tensor: Tensor) => SafetensorsWriteDType);
}

type TensorSource = ReadonlyMap<string, Tensor> | Iterable<readonly [string, Tensor]>;

function dtypeFor(opts: SafetensorsWriteOptions, name: string, t: Tensor): SafetensorsWriteDType {
  const d = typeof opts.dtype === "function" ? opts.dtype(name, t) : (opts.dtype ?? "F32");
  if (!(d in WRITE_BYTES)) {
    throw new SftError(`cannot write dtype "${d}" to safetensors (supported: F32, F16, BF16)`, {
      where: { field: name },
      code: "E_CHECKPOINT",
    });
  }
  return d;
}

function checkTensor(path: string, name: string, t: Tensor): void {
  if (t.data.length !== numel(t.shape)) {
    throw new SftError(
      `tensor data has ${t.data.length} values but shape [${t.shape.join(", ")}] needs ${numel(t.shape)}`,
      {
        where: { file: path, field: name },
        code: "E_CHECKPOINT",
      },
    );
  }
}

/** The header JSON bytes, padded with spaces so the data section starts 8-byte aligned. */
function encodeHeader(
  tensors: [string, Tensor][],
  dtypes: SafetensorsWriteDType[],
  metadata: Record<string, string> | undefined,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  tensors.forEach(([name, t], i) => {
    const bytes = numel(t.shape) * WRITE_BYTES[dtypes[i]];
    header[name] = { dtype: dtypes[i], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  });
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += " ".repeat(pad);
  const body = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

function encodeTensor(t: Tensor, dtype: SafetensorsWriteDType): Uint8Array {
  if (dtype === "F32") return float32Bytes(t.data);
  const out = new Uint8Array(t.data.length * 2);
  if (dtype === "F16") encodeF16(t.data, out);
  else encodeBF16(t.data, out);
  return out;
}

/**
 * Writes tensors to one safetensors file atomically (temporary file + rename). Tensors are
 * written in the order given; the data section is 8-byte aligned.
 */
export function writeSafetensors(
  path: string,
  tensors: TensorSource,
  opts: SafetensorsWriteOptions = {},
): void {
  const list = [...tensors] as [string, Tensor][];
  for (const [name, t] of list) checkTensor(path, name, t);
  const dtypes = list.map(([name, t]) => dtypeFor(opts, name, t));
  const header = encodeHeader(list, dtypes, opts.metadata);
  writeAtomically(path, (w) => {
    w.write(header);
    list.forEach(([, t], i) => {
      w.write(encodeTensor(t, dtypes[i]));
    });
  });
}

// ---------------------------------------------------------------------------------------
// Sharded checkpoints

export const SAFETENSORS_INDEX_NAME = "model.safetensors.index.json";

interface ShardIndex {
  metadata?: Record<string, unknown>;
  weight_map: Record<string, string>;
}

function readIndex(indexPath: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SftError(code === "ENOENT" ? "file not found" : `not valid JSON (${(e as Error).message})`, {
      where: { file: indexPath },
      code: "E_CHECKPOINT",
      cause: e,
    });
  }
  const map = (json as ShardIndex | null)?.weight_map;
  if (!map || typeof map !== "object") {
    throw new SftError("missing weight_map object", {
      where: { file: indexPath, field: "weight_map" },
      hint: "a sharded index maps every tensor name to its shard file",
      code: "E_CHECKPOINT",
    });
  }
  return json as ShardIndex;
}

/** Reads every shard listed in a `*.safetensors.index.json`; fails if a listed tensor is absent. */
export function readShardedSafetensors(
  indexPath: string,
  opts: { names?: Iterable<string> } = {},
): SafetensorsContents {
  const index = readIndex(indexPath);
  const wanted = opts.names ? new Set(opts.names) : null;
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(index.weight_map)) {
    if (wanted && !wanted.has(name)) continue;
    const list = byShard.get(shard) ?? [];
    list.push(name);
    byShard.set(shard, list);
  }
  const tensors = new Map<string, StoredTensor>();
  const metadata: Record<string, string> = {};
  for (const [shard, names] of byShard) {
    const shardPath = join(dirname(indexPath), shard);
    if (!existsSync(shardPath)) {
      throw new SftError(`shard "${shard}" listed in the index does not exist`, {
        where: { file: indexPath, field: names[0] },
        hint: "download the missing shard",
        code: "E_CHECKPOINT",
      });
    }
    const part = readSafetensorsFile(shardPath, { names });
    Object.assign(metadata, part.metadata);
    for (const name of names) {
      const t = part.tensors.get(name);
      if (!t) {
        throw new SftError(`tensor listed in the index is missing from shard "${shard}"`, {
          where: { file: indexPath, field: name },
          hint: "the index and its shards do not match; re-download or re-save the checkpoint",
          code: "E_CHECKPOINT",
        });
      }
      tensors.set(name, t);
    }
  }
  return { tensors, metadata };
}

export interface ShardedWriteOptions extends SafetensorsWriteOptions {
  /** Largest shard in bytes (tensor data); a single tensor bigger than this gets its own shard. */
  maxShardBytes: number;
  /** File name stem: `model` → `model-00001-of-00003.safetensors` + `model.safetensors.index.json`. */
  stem?: string;
}

/**
 * Writes `dir/<stem>.safetensors` when everything fits in one shard, otherwise
 * `dir/<stem>-0000i-of-0000n.safetensors` plus `dir/<stem>.safetensors.index.json` (written
 * last, so a crash never leaves an index pointing at missing shards). Returns the files written.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: TensorSource,
  opts: ShardedWriteOptions,
): string[] {
  const stem = opts.stem ?? "model";
  const list = [...tensors] as [string, Tensor][];
  const sizes = list.map(([name, t]) => numel(t.shape) * WRITE_BYTES[dtypeFor(opts, name, t)]);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total <= opts.maxShardBytes) {
    const path = join(dir, `${stem}.safetensors`);
    writeSafetensors(path, list, { ...opts, metadata: { format: "pt", ...opts.metadata } });
    return [path];
  }
  const shards: [string, Tensor][][] = [[]];
  let current = 0;
  list.forEach((entry, i) => {
    if (current > 0 && current + sizes[i] > opts.maxShardBytes) {
      shards.push([]);
      current = 0;
    }
    shards[shards.length - 1].push(entry);
    current += sizes[i];
  });
  const n = shards.length;
  const pad = (k: number) => String(k).padStart(5, "0");
  const weightMap: Record<string, string> = {};
  const written: string[] = [];
  shards.forEach((shard, i) => {
    const fileName = `${stem}-${pad(i + 1)}-of-${pad(n)}.safetensors`;
    const path = join(dir, fileName);
    writeSafetensors(path, shard, { ...opts, metadata: { format: "pt", ...opts.metadata } });
    for (const [name] of shard) weightMap[name] = fileName;
    written.push(path);
  });
  const indexPath = join(dir, `${stem}.safetensors.index.json`);
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  writeAtomically(indexPath, (w) => w.write(Buffer.from(`${JSON.stringify(index, null, 2)}\n`, "utf8")));
  written.push(indexPath);
  return written;
}
