/**
 * GGUF (llama.cpp's single-file checkpoint) reader and writer.
 *
 * File layout (v2/v3, little-endian): magic "GGUF", u32 version, u64 tensor count, u64
 * metadata count, the metadata key/value pairs, the tensor infos (name, dims innermost
 * first, ggml type, offset into the data section), padding to `general.alignment`
 * (default 32), then the tensor data, each tensor aligned the same way.
 *
 * Shapes: GGUF lists dims innermost first (ne0, ne1, …); here shapes are outermost first
 * like PyTorch, so a GGUF [64, 512] embedding is a [512, 64] tensor.
 *
 * Reading metadata only (`readGgufMetadata`) touches just the header; tensor data is read
 * per tensor, straight into its Float32Array for F32 and dequantised otherwise.
 */
import { SftError } from "../../errors.js";
import { numel, type StorageDType, type StoredTensor, type Tensor } from "../tensor.js";
import { type AtomicSyncWriter, float32Bytes, RandomAccessFile, writeAtomically } from "./file-io.js";
import { decodeBF16, decodeF16, encodeF16, floatToHalf, halfToFloat } from "./numeric.js";

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types, by their numeric code in the file. */
export type GgufValueType =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "f32"
  | "bool"
  | "string"
  | "array"
  | "u64"
  | "i64"
  | "f64";
const VALUE_TYPES: GgufValueType[] = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
];

/** A metadata value as read: integers and floats as numbers (64-bit integers too), arrays as JS arrays. */
export type GgufValue = number | boolean | string | GgufValue[];

/** A value with the type it is (or will be) stored as; arrays also name their element type. */
export interface GgufTypedValue {
  type: GgufValueType;
  value: GgufValue;
  /** For `type: "array"`. */
  itemType?: GgufValueType;
}

/** ggml tensor types this module knows the size of; the ones it can dequantise are listed in DEQUANTISERS. */
const GGML_TYPES: Record<number, { name: string; blockSize: number; blockBytes: number }> = {
  0: { name: "F32", blockSize: 1, blockBytes: 4 },
  1: { name: "F16", blockSize: 1, blockBytes: 2 },
  2: { name: "Q4_0", blockSize: 32, blockBytes: 18 },
  3: { name: "Q4_1", blockSize: 32, blockBytes: 20 },
  6: { name: "Q5_0", blockSize: 32, blockBytes: 22 },
  7: { name: "Q5_1", blockSize: 32, blockBytes: 24 },
  8: { name: "Q8_0", blockSize: 32, blockBytes: 34 },
  9: { name: "Q8_1", blockSize: 32, blockBytes: 36 },
  10: { name: "Q2_K", blockSize: 256, blockBytes: 84 },
  11: { name: "Q3_K", blockSize: 256, blockBytes: 110 },
  12: { name: "Q4_K", blockSize: 256, blockBytes: 144 },
  13: { name: "Q5_K", blockSize: 256, blockBytes: 176 },
  14: { name: "Q6_K", blockSize: 256, blockBytes: 210 },
  15: { name: "Q8_K", blockSize: 256, blockBytes: 292 },
  24: { name: "I8", blockSize: 1, blockBytes: 1 },
  25: { name: "I16", blockSize: 1, blockBytes: 2 },
  26: { name: "I32", blockSize: 1, blockBytes: 4 },
  27: { name: "I64", blockSize: 1, blockBytes: 8 },
  28: { name: "F64", blockSize: 1, blockBytes: 8 },
  30: { name: "BF16", blockSize: 1, blockBytes: 2 },
};
const GGML_TYPE_CODE: Record<string, number> = Object.fromEntries(
  Object.entries(GGML_TYPES).map(([code, t]) => [t.name, Number(code)]),
);

export interface GgufTensorInfo {
  name: string;
  /** Outermost first (PyTorch order). */
  shape: number[];
  /** ggml type name: F32, F16, BF16, Q8_0, Q4_K, … */
  type: string;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export interface GgufHeader {
  path: string;
  version: number;
  alignment: number;
  metadata: Record<string, GgufValue>;
  /** The stored type of each metadata key (for faithful re-writing). */
  metadataTypes: Record<string, GgufTypedValue["type"] | `array:${GgufValueType}`>;
  tensors: GgufTensorInfo[];
  /** Absolute offset of the data section. */
  dataOffset: number;
}

function ggufError(path: string, message: string, hint: string, field?: string): SftError {
  return new SftError(message, {
    where: field === undefined ? { file: path } : { file: path, field },
    hint,
    code: "E_CHECKPOINT",
  });
}

/** Sequential reader over the header, pulling the file in chunks (a vocabulary can be megabytes). */
class HeaderCursor {
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  pos = 0;
  private readonly decoder = new TextDecoder("utf-8");

  constructor(
    private readonly file: RandomAccessFile,
    private readonly path: string,
  ) {}

  private ensure(n: number): number {
    const rel = this.pos - this.bufStart;
    if (rel + n <= this.buf.length) return rel;
    if (this.pos + n > this.file.size) {
      throw ggufError(
        this.path,
        `truncated header: needs ${this.pos + n} bytes but the file has ${this.file.size}`,
        "the file is truncated; download or write it again",
      );
    }
    const len = Math.min(this.file.size - this.pos, Math.max(n, 1 << 20));
    this.buf = this.file.read(this.pos, len);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
    return 0;
  }

  u8(): number {
    const r = this.ensure(1);
    this.pos += 1;
    return this.buf[r];
  }
  i8(): number {
    const r = this.ensure(1);
    this.pos += 1;
    return this.view.getInt8(r);
  }
  u16(): number {
    const r = this.ensure(2);
    this.pos += 2;
    return this.view.getUint16(r, true);
  }
  i16(): number {
    const r = this.ensure(2);
    this.pos += 2;
    return this.view.getInt16(r, true);
  }
  u32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return this.view.getUint32(r, true);
  }
  i32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return this.view.getInt32(r, true);
  }
  f32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return shortestFloat32(this.view.getFloat32(r, true));
  }
  f64(): number {
    const r = this.ensure(8);
    this.pos += 8;
    return this.view.getFloat64(r, true);
  }
  u64(): number {
    const r = this.ensure(8);
    this.pos += 8;
    return Number(this.view.getBigUint64(r, true));
  }
  i64(): number {
    const r = this.ensure(8);
    this.pos += 8;
    return Number(this.view.getBigInt64(r, true));
  }
  string(): string {
    const len = this.u64();
    if (len > this.file.size) {
      throw ggufError(
        this.path,
        `corrupt header: a string of ${len} bytes at byte ${this.pos - 8}`,
        "the file is corrupt",
      );
    }
    const r = this.ensure(len);
    this.pos += len;
    return this.decoder.decode(this.buf.subarray(r, r + len));
  }
}

/**
 * The shortest decimal that rounds to the same float32 (1e-5 rather than
 * 0.000009999999747378752), so configs made from GGUF metadata read as their authors wrote them.
 */
function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let p = 1; p < 10; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === x) return v;
  }
  return x;
}

function readValue(c: HeaderCursor, type: GgufValueType, key: string, path: string): GgufValue {
  switch (type) {
    case "u8":
      return c.u8();
    case "i8":
      return c.i8();
    case "u16":
      return c.u16();
    case "i16":
      return c.i16();
    case "u32":
      return c.u32();
    case "i32":
      return c.i32();
    case "f32":
      return c.f32();
    case "bool":
      return c.u8() !== 0;
    case "string":
      return c.string();
    case "u64":
      return c.u64();
    case "i64":
      return c.i64();
    case "f64":
      return c.f64();
    case "array": {
      const itemType = valueType(c.u32(), key, path);
      const count = c.u64();
      const out: GgufValue[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = readValue(c, itemType, key, path);
      return out;
    }
  }
}

function valueType(code: number, key: string, path: string): GgufValueType {
  const t = VALUE_TYPES[code];
  if (t === undefined) {
    throw ggufError(
      path,
      `unknown metadata value type ${code}`,
      "the file is corrupt or from a newer GGUF version",
      key,
    );
  }
  return t;
}

function parseHeader(path: string, file: RandomAccessFile): GgufHeader {
  const c = new HeaderCursor(file, path);
  if (file.size < 8 || c.u32() !== GGUF_MAGIC) {
    throw ggufError(
      path,
      'not a GGUF file (no "GGUF" magic)',
      "pass a .gguf file, or a Hugging Face model directory",
    );
  }
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    throw ggufError(
      path,
      `unsupported GGUF version ${version} (supported: 2, 3)`,
      version === 1
        ? "convert it with a current llama.cpp"
        : "big-endian or newer GGUF files are not supported",
    );
  }
  const tensorCount = c.u64();
  const kvCount = c.u64();
  const metadata: Record<string, GgufValue> = {};
  const metadataTypes: GgufHeader["metadataTypes"] = {};
  for (let i = 0; i < kvCount; i++) {
    const key = c.string();
    const type = valueType(c.u32(), key, path);
    if (type === "array") {
      const save = c.pos;
      const itemType = valueType(c.u32(), key, path);
      c.pos = save;
      metadataTypes[key] = `array:${itemType}`;
    } else {
      metadataTypes[key] = type;
    }
    metadata[key] = readValue(c, type, key, path);
  }
  const alignment =
    typeof metadata["general.alignment"] === "number" ? metadata["general.alignment"] : DEFAULT_ALIGNMENT;
  const infos: { name: string; shape: number[]; typeCode: number; rel: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string();
    const nDims = c.u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64());
    const typeCode = c.u32();
    const rel = c.u64();
    infos.push({ name, shape: dims.reverse(), typeCode, rel });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = infos.map(({ name, shape, typeCode, rel }) => {
    const t = GGML_TYPES[typeCode];
    const typeName = t?.name ?? `ggml type ${typeCode}`;
    const inner = shape[shape.length - 1] ?? 1;
    const byteLength = t ? (numel(shape) / t.blockSize) * t.blockBytes : 0;
    if (t && inner % t.blockSize !== 0) {
      throw ggufError(
        path,
        `row length ${inner} is not a multiple of the ${typeName} block size ${t.blockSize}`,
        "the file is corrupt",
        name,
      );
    }
    if (t && dataOffset + rel + byteLength > file.size) {
      throw ggufError(
        path,
        `tensor data [${dataOffset + rel}, ${dataOffset + rel + byteLength}) runs past the end of the file (${file.size} bytes)`,
        "the file is truncated; download or write it again",
        name,
      );
    }
    return { name, shape, type: typeName, offset: dataOffset + rel, byteLength };
  });
  return { path, version, alignment, metadata, metadataTypes, tensors, dataOffset };
}

/** Header only: metadata (tokenizer vocabulary included) and tensor infos. No tensor data is read. */
export function readGgufMetadata(path: string): GgufHeader {
  const file = RandomAccessFile.open(path);
  try {
    return parseHeader(path, file);
  } finally {
    file.close();
  }
}

// ---------------------------------------------------------------------------------------
// Dequantisation. Block layouts follow ggml's reference (block_q8_0, block_q4_0,
// block_q4_K, block_q6_K); every block carries its own f16 scale(s).

type Dequantiser = (raw: Uint8Array, out: Float32Array) => void;

function f16At(raw: Uint8Array, at: number): number {
  return halfToFloat(raw[at] | (raw[at + 1] << 8));
}

function dequantQ8_0(raw: Uint8Array, out: Float32Array): void {
  const blocks = out.length / 32;
  for (let b = 0; b < blocks; b++) {
    const base = b * 34;
    const d = f16At(raw, base);
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * ((raw[base + 2 + j] << 24) >> 24);
  }
}

function dequantQ4_0(raw: Uint8Array, out: Float32Array): void {
  const blocks = out.length / 32;
  for (let b = 0; b < blocks; b++) {
    const base = b * 18;
    const d = f16At(raw, base);
    for (let j = 0; j < 16; j++) {
      const q = raw[base + 2 + j];
      out[b * 32 + j] = d * ((q & 0xf) - 8);
      out[b * 32 + j + 16] = d * ((q >> 4) - 8);
    }
  }
}

/** The 6-bit scale and min of sub-block j in a Q4_K/Q5_K block's packed 12-byte table. */
function scaleMinK4(j: number, s: Uint8Array, at: number): [number, number] {
  if (j < 4) return [s[at + j] & 63, s[at + j + 4] & 63];
  return [
    (s[at + j + 4] & 0xf) | ((s[at + j - 4] >> 6) << 4),
    (s[at + j + 4] >> 4) | ((s[at + j] >> 6) << 4),
  ];
}

function dequantQ4_K(raw: Uint8Array, out: Float32Array): void {
  const blocks = out.length / 256;
  for (let b = 0; b < blocks; b++) {
    const base = b * 144;
    const d = f16At(raw, base);
    const dmin = f16At(raw, base + 2);
    const scales = base + 4;
    let q = base + 16;
    let y = b * 256;
    for (let j = 0, is = 0; j < 256; j += 64, is += 2) {
      const [sc1, m1] = scaleMinK4(is, raw, scales);
      const [sc2, m2] = scaleMinK4(is + 1, raw, scales);
      const d1 = d * sc1;
      const min1 = dmin * m1;
      const d2 = d * sc2;
      const min2 = dmin * m2;
      for (let l = 0; l < 32; l++) out[y + l] = d1 * (raw[q + l] & 0xf) - min1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = d2 * (raw[q + l] >> 4) - min2;
      q += 32;
      y += 64;
    }
  }
}

function dequantQ6_K(raw: Uint8Array, out: Float32Array): void {
  const blocks = out.length / 256;
  for (let b = 0; b < blocks; b++) {
    const base = b * 210;
    const d = f16At(raw, base + 208);
    let ql = base;
    let qh = base + 128;
    let sc = base + 192;
    let y = b * 256;
    for (let n = 0; n < 256; n += 128) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = raw[qh + l];
        const q1 = ((raw[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((raw[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((raw[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((raw[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        const s = (k: number) => (raw[sc + is + k] << 24) >> 24;
        out[y + l] = d * s(0) * q1;
        out[y + l + 32] = d * s(2) * q2;
        out[y + l + 64] = d * s(4) * q3;
        out[y + l + 96] = d * s(6) * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

const DEQUANTISERS: Record<string, Dequantiser> = {
  F16: decodeF16,
  BF16: decodeBF16,
  Q8_0: dequantQ8_0,
  Q4_0: dequantQ4_0,
  Q4_K: dequantQ4_K,
  Q6_K: dequantQ6_K,
  F64: (raw, out) => {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = v.getFloat64(8 * i, true);
  },
  I32: (raw, out) => {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = v.getInt32(4 * i, true);
  },
};

/** ggml types this reader turns into Float32. */
export const GGUF_READABLE_TYPES = ["F32", ...Object.keys(DEQUANTISERS)];

/** Which StorageDType to report for a ggml type (quantised types other than Q8_0 report F32 after dequantisation). */
function storageDType(type: string): StorageDType {
  if (
    type === "F32" ||
    type === "F16" ||
    type === "BF16" ||
    type === "Q8_0" ||
    type === "F64" ||
    type === "I32"
  ) {
    return type;
  }
  return "F32";
}

function loadTensor(path: string, file: RandomAccessFile, info: GgufTensorInfo): Float32Array {
  const out = new Float32Array(numel(info.shape));
  if (info.type === "F32") {
    file.readInto(float32Bytes(out), info.offset);
    return out;
  }
  const dequant = DEQUANTISERS[info.type];
  if (!dequant) {
    throw ggufError(
      path,
      `unsupported tensor type ${info.type} (supported: ${GGUF_READABLE_TYPES.join(", ")})`,
      "re-quantise the model to one of these types with llama.cpp's llama-quantize, or use an F16/F32 GGUF",
      info.name,
    );
  }
  dequant(file.read(info.offset, info.byteLength), out);
  return out;
}

export interface GgufContents {
  header: GgufHeader;
  metadata: Record<string, GgufValue>;
  /** GGUF tensor names (token_embd.weight, blk.0.attn_q.weight, …), Float32 in memory. */
  tensors: Map<string, StoredTensor>;
}

/** Reads metadata and every tensor (dequantised to Float32). */
export function readGguf(path: string): GgufContents {
  const file = RandomAccessFile.open(path);
  try {
    const header = parseHeader(path, file);
    const tensors = new Map<string, StoredTensor>();
    for (const info of header.tensors) {
      tensors.set(info.name, {
        dtype: storageDType(info.type),
        shape: info.shape,
        data: loadTensor(path, file, info),
      });
    }
    return { header, metadata: header.metadata, tensors };
  } finally {
    file.close();
  }
}

// ---------------------------------------------------------------------------------------
// Embedded tokenizer

/** The tokenizer llama.cpp embeds in a GGUF (`tokenizer.ggml.*`). */
export interface GgufTokenizerInfo {
  /** `tokenizer.ggml.model`: "llama" (SentencePiece), "gpt2" (byte-level BPE), … */
  model: string;
  tokens: string[];
  scores: number[] | null;
  /** 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  tokenTypes: number[] | null;
  merges: string[] | null;
  bosTokenId: number | null;
  eosTokenId: number | null;
  unkTokenId: number | null;
  padTokenId: number | null;
  addBosToken: boolean | null;
  addEosToken: boolean | null;
  chatTemplate: string | null;
}

/** The embedded tokenizer, or null when the GGUF carries none. */
export function ggufTokenizerInfo(metadata: Record<string, GgufValue>): GgufTokenizerInfo | null {
  const tokens = metadata["tokenizer.ggml.tokens"];
  if (!Array.isArray(tokens)) return null;
  // Converters write 0xFFFFFFFF (or another out-of-range id) for "none".
  const num = (k: string) => {
    const v = metadata[k];
    return typeof v === "number" && v >= 0 && v < tokens.length ? v : null;
  };
  const bool = (k: string) => (typeof metadata[k] === "boolean" ? (metadata[k] as boolean) : null);
  const arr = <T>(k: string) => (Array.isArray(metadata[k]) ? (metadata[k] as T[]) : null);
  return {
    model: typeof metadata["tokenizer.ggml.model"] === "string" ? metadata["tokenizer.ggml.model"] : "llama",
    tokens: tokens as string[],
    scores: arr<number>("tokenizer.ggml.scores"),
    tokenTypes: arr<number>("tokenizer.ggml.token_type"),
    merges: arr<string>("tokenizer.ggml.merges"),
    bosTokenId: num("tokenizer.ggml.bos_token_id"),
    eosTokenId: num("tokenizer.ggml.eos_token_id"),
    unkTokenId: num("tokenizer.ggml.unknown_token_id"),
    padTokenId: num("tokenizer.ggml.padding_token_id"),
    addBosToken: bool("tokenizer.ggml.add_bos_token"),
    addEosToken: bool("tokenizer.ggml.add_eos_token"),
    chatTemplate:
      typeof metadata["tokenizer.chat_template"] === "string" ? metadata["tokenizer.chat_template"] : null,
  };
}

/** The embedded tokenizer of a GGUF file (reads the header only). */
export function readGgufTokenizer(path: string): GgufTokenizerInfo | null {
  return ggufTokenizerInfo(readGgufMetadata(path).metadata);
}

// ---------------------------------------------------------------------------------------
// Writer

/** Tensor types the writer can produce. */
export type GgufWriteType = "F32" | "F16" | "Q8_0";

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

/** Growable little-endian byte buffer for the header. */
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
    this.view.setUint8(this.reserve(1), v);
  }
  i8(v: number): void {
    this.view.setInt8(this.reserve(1), v);
  }
  u16(v: number): void {
    this.view.setUint16(this.reserve(2), v, true);
  }
  i16(v: number): void {
    this.view.setInt16(this.reserve(2), v, true);
  }
  u32(v: number): void {
    this.view.setUint32(this.reserve(4), v, true);
  }
  i32(v: number): void {
    this.view.setInt32(this.reserve(4), v, true);
  }
  f32(v: number): void {
    this.view.setFloat32(this.reserve(4), v, true);
  }
  f64(v: number): void {
    this.view.setFloat64(this.reserve(8), v, true);
  }
  u64(v: number): void {
    this.view.setBigUint64(this.reserve(8), BigInt(v), true);
  }
  i64(v: number): void {
    this.view.setBigInt64(this.reserve(8), BigInt(v), true);
  }
  string(s: string): void {
    const bytes = this.encoder.encode(s);
    this.u64(bytes.length);
    this.buf.set(bytes, this.reserve(bytes.length));
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
export function quantizeQ8_0(src: Float32Array): Uint8Array {
  if (src.length % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${src.length}`);
  const out = new Uint8Array((src.length / 32) * 34);
  for (let b = 0; b < src.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b * 32 + j]));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    const h = floatToHalf(d);
    out[b * 34] = h & 0xff;
    out[b * 34 + 1] = h >> 8;
    for (let j = 0; j < 32; j++) {
      const x = src[b * 32 + j] * id;
      // roundf: halves away from zero
      const q = Math.sign(x) * Math.round(Math.abs(x));
      out[b * 34 + 2 + j] = q & 0xff;
    }
  }
  return out;
}

function encodeGgufTensor(t: GgufWriteTensor): Uint8Array {
  if (t.type === "F32") return float32Bytes(t.tensor.data);
  if (t.type === "F16") {
    const out = new Uint8Array(t.tensor.data.length * 2);
    encodeF16(t.tensor.data, out);
    return out;
  }
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
    if (t.type === "Q8_0" && inner % 32 !== 0) {
      throw new SftError(
        `Q8_0 needs rows that are a multiple of 32 values, this tensor's rows have ${inner}`,
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
