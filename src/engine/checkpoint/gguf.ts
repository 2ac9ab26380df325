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
import {
  DEFAULT_ALIGNMENT,
  GGML_TYPES,
  GGUF_MAGIC,
  type GgufTypedValue,
  type GgufValue,
  type GgufValueType,
  VALUE_TYPES,
} from "../gguf-format.js";
import { numel, type StorageDType, type StoredTensor } from "../tensor.js";
import { float32Bytes, RandomAccessFile } from "./file-io.js";
import { DEQUANTISERS } from "./gguf-quant.js";

export type { GgufTypedValue, GgufValue, GgufValueType } from "../gguf-format.js";
export { quantizeQ8_0 } from "./gguf-quant.js";
export {
  GGUF_BLOCK_TYPES,
  type GgufWriteInput,
  type GgufWriteTensor,
  type GgufWriteType,
  writeGguf,
} from "./gguf-writer.js";

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
  get fileSize(): number {
    return this.file.size;
  }

  remaining(): number {
    return this.file.size - this.pos;
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
      // Every element takes at least one byte: a larger count means a corrupt header.
      if (count > c.remaining()) {
        throw ggufError(
          path,
          `corrupt header: an array of ${count} elements in a file of ${c.fileSize} bytes`,
          "the file is corrupt",
          key,
        );
      }
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
    if (nDims < 1 || nDims > 4) {
      throw ggufError(
        path,
        `tensor has ${nDims} dimensions (GGUF allows 1 to 4)`,
        "the file is corrupt",
        name,
      );
    }
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
    if (rel % alignment !== 0) {
      throw ggufError(
        path,
        `tensor data offset ${rel} is not a multiple of the alignment ${alignment}`,
        "the file is corrupt",
        name,
      );
    }
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
  /** `tokenizer.ggml.pre`: llama.cpp's name for the pre-tokenizer of a "gpt2" vocabulary (qwen2, llama-bpe, …). */
  pre?: string | null;
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
    pre: typeof metadata["tokenizer.ggml.pre"] === "string" ? metadata["tokenizer.ggml.pre"] : null,
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
