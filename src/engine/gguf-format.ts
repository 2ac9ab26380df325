/**
 * GGUF format constants shared by the reader and the writer: magic, metadata value types
 * and ggml tensor types with their block sizes. At the engine level, below both
 * `checkpoint/` (the reader and writer) and `models/` (each family's GGUF mapping), so that
 * neither folder imports the other in a cycle.
 */
export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const DEFAULT_ALIGNMENT = 32;

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
export const VALUE_TYPES: GgufValueType[] = [
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
export const GGML_TYPES: Record<number, { name: string; blockSize: number; blockBytes: number }> = {
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
export const GGML_TYPE_CODE: Record<string, number> = Object.fromEntries(
  Object.entries(GGML_TYPES).map(([code, t]) => [t.name, Number(code)]),
);
