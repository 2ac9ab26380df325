/**
 * ggml block formats to and from Float32. Block layouts follow ggml's reference
 * (block_q8_0, block_q4_0, block_q4_K, block_q6_K); every block carries its own f16 scale(s).
 */
import { decodeBF16, decodeF16, floatToHalf, halfToFloat } from "./numeric.js";

export type Dequantiser = (raw: Uint8Array, out: Float32Array) => void;

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

export const DEQUANTISERS: Record<string, Dequantiser> = {
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
