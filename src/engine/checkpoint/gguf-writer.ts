/** GGUF v3 writer: typed metadata, F32/F16/BF16/Q8_0/Q4_0 tensors, alignment, atomic. */
import { SftError } from "../../errors.js";
import {
  DEFAULT_ALIGNMENT,
  GGML_TYPE_CODE,
  GGML_TYPES,
  GGUF_MAGIC,
  type GgufTypedValue,
  type GgufValue,
  type GgufValueType,
  VALUE_TYPES,
} from "../gguf-format.js";
import { numel, type Tensor } from "../tensor.js";
import { type AtomicSyncWriter, float32Bytes, writeAtomically } from "./file-io.js";
import { quantizeQ8_0 } from "./gguf-quant.js";
import { quantizeQ4_0 } from "./gguf-quantize.js";
import { encodeBF16, encodeF16 } from "./numeric.js";

/** Tensor types the writer can produce. */
export type GgufWriteType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0";

/** The block-quantised write types: rows must be a multiple of their 32-value blocks. */
export const GGUF_BLOCK_TYPES: readonly GgufWriteType[] = ["Q8_0", "Q4_0"];

export interface GgufWriteTensor {
  name: string;
  tensor: Tensor;
  type: GgufWriteType;
}

export interface GgufWriteInput {
  /** Plain values get an inferred type (string, bool, u32/i64 for integers, f32 otherwise); pass a typed value to choose. */
  metadata: Record<string, GgufValue | GgufTypedValue>;
  tensors: GgufWriteTensor[];
  alignment?: number;
}

/**
 * Growable little-endian byte buffer for the header. Every write reserves its bytes before
 * touching `view`/`buf`: reserving may replace both, and `this.view.setX(this.reserve(n), …)`
 * would write through the old, outgrown view.
 */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private readonly encoder = new TextEncoder();

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: number): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  i64(v: number): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, BigInt(v), true);
  }
  string(s: string): void {
    const bytes = this.encoder.encode(s);
    this.u64(bytes.length);
    const at = this.reserve(bytes.length);
    this.buf.set(bytes, at);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    const at = this.reserve(n);
    this.buf.fill(0, at, at + n);
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function inferType(v: GgufValue): GgufValueType {
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "array";
  if (Number.isInteger(v)) return v >= 0 && v < 2 ** 32 ? "u32" : "i64";
  return "f32";
}

function inferItemType(items: GgufValue[]): GgufValueType {
  if (items.length === 0) return "i32";
  if (typeof items[0] === "string") return "string";
  if (typeof items[0] === "boolean") return "bool";
  return items.every((x) => Number.isInteger(x)) ? "i32" : "f32";
}

function writeValue(
  sink: ByteSink,
  type: GgufValueType,
  v: GgufValue,
  itemType: GgufValueType | undefined,
  key: string,
): void {
  const bad = () =>
    new SftError(`metadata value does not fit its type ${type}`, {
      where: { field: key },
      code: "E_CHECKPOINT",
    });
  if (type === "array") {
    if (!Array.isArray(v)) throw bad();
    const it = itemType ?? inferItemType(v);
    sink.u32(VALUE_TYPES.indexOf(it));
    sink.u64(v.length);
    for (const item of v) writeValue(sink, it, item, undefined, key);
    return;
  }
  if (type === "string") {
    if (typeof v !== "string") throw bad();
    sink.string(v);
    return;
  }
  if (type === "bool") {
    if (typeof v !== "boolean") throw bad();
    sink.u8(v ? 1 : 0);
    return;
  }
  if (typeof v !== "number") throw bad();
  switch (type) {
    case "u8":
      sink.u8(v);
      return;
    case "i8":
      sink.i8(v);
      return;
    case "u16":
      sink.u16(v);
      return;
    case "i16":
      sink.i16(v);
      return;
    case "u32":
      sink.u32(v);
      return;
    case "i32":
      sink.i32(v);
      return;
    case "f32":
      sink.f32(v);
      return;
    case "u64":
      sink.u64(v);
      return;
    case "i64":
      sink.i64(v);
      return;
    case "f64":
      sink.f64(v);
      return;
  }
}

/** ggml's Q8_0: blocks of 32 values, scale d = max|x|/127 stored as f16, q = round(x/d). */
function encodeGgufTensor(t: GgufWriteTensor): Uint8Array {
  if (t.type === "F32") return float32Bytes(t.tensor.data);
  if (t.type === "F16") {
    const out = new Uint8Array(t.tensor.data.length * 2);
    encodeF16(t.tensor.data, out);
    return out;
  }
  if (t.type === "BF16") {
    const out = new Uint8Array(t.tensor.data.length * 2);
    encodeBF16(t.tensor.data, out);
    return out;
  }
  if (t.type === "Q4_0") return quantizeQ4_0(t.tensor.data);
  return quantizeQ8_0(t.tensor.data);
}

/** Writes a GGUF v3 file atomically. */
export function writeGguf(path: string, input: GgufWriteInput): void {
  const alignment = input.alignment ?? DEFAULT_ALIGNMENT;
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(3);
  sink.u64(input.tensors.length);
  const entries = Object.entries(input.metadata);
  const hasAlignment = "general.alignment" in input.metadata;
  sink.u64(entries.length + (alignment !== DEFAULT_ALIGNMENT && !hasAlignment ? 1 : 0));
  for (const [key, raw] of entries) {
    const typed: GgufTypedValue =
      typeof raw === "object" && raw !== null && !Array.isArray(raw)
        ? raw
        : { type: inferType(raw), value: raw };
    sink.string(key);
    sink.u32(VALUE_TYPES.indexOf(typed.type));
    writeValue(sink, typed.type, typed.value, typed.itemType, key);
  }
  if (alignment !== DEFAULT_ALIGNMENT && !hasAlignment) {
    sink.string("general.alignment");
    sink.u32(VALUE_TYPES.indexOf("u32"));
    sink.u32(alignment);
  }
  let offset = 0;
  const sizes: number[] = [];
  for (const t of input.tensors) {
    const n = numel(t.tensor.shape);
    if (t.tensor.data.length !== n) {
      throw new SftError(
        `tensor data has ${t.tensor.data.length} values but shape [${t.tensor.shape.join(", ")}] needs ${n}`,
        {
          where: { file: path, field: t.name },
          code: "E_CHECKPOINT",
        },
      );
    }
    const inner = t.tensor.shape[t.tensor.shape.length - 1] ?? 1;
    if (GGUF_BLOCK_TYPES.includes(t.type) && inner % 32 !== 0) {
      throw new SftError(
        `${t.type} needs rows that are a multiple of 32 values, this tensor's rows have ${inner}`,
        {
          where: { file: path, field: t.name },
          hint: "store this tensor as F16 or F32",
          code: "E_CHECKPOINT",
        },
      );
    }
    const info = GGML_TYPES[GGML_TYPE_CODE[t.type]];
    const size = (n / info.blockSize) * info.blockBytes;
    sink.string(t.name);
    sink.u32(t.tensor.shape.length);
    for (let d = t.tensor.shape.length - 1; d >= 0; d--) sink.u64(t.tensor.shape[d]);
    sink.u32(GGML_TYPE_CODE[t.type]);
    sink.u64(offset);
    sizes.push(size);
    offset += Math.ceil(size / alignment) * alignment;
  }
  sink.pad(alignment);
  const header = sink.bytes();
  writeAtomically(path, (w: AtomicSyncWriter) => {
    w.write(header);
    input.tensors.forEach((t, i) => {
      w.write(encodeGgufTensor(t));
      const pad = (alignment - (sizes[i] % alignment)) % alignment;
      if (pad) w.write(new Uint8Array(pad));
    });
  });
}
