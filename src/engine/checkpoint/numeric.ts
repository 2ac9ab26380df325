/**
 * Conversions between Float32 and the 16-bit float formats checkpoints store (IEEE half and
 * bfloat16). Both directions round to nearest, ties to even, as PyTorch and numpy do, so a
 * tensor saved here and by them is bit-identical.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half (as its 16 bits) → float32. Exact for every value incl. subnormals, inf, NaN. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Lookup table for all 65,536 halves: dequantising millions of values must be cheap. */
let halfTable: Float32Array | null = null;
function getHalfTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  return halfTable;
}

/** float32 → IEEE half bits, round to nearest even; overflow goes to ±inf. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit 1 into place.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: correct
  return sign | half;
}

/** bfloat16 bits → float32 (exact). */
export function bf16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** float32 → bfloat16 bits, round to nearest even; NaN stays NaN. */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return (bits >>> 16) | 0x40;
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Decodes `n` little-endian halves starting at `bytes[0]` into `out`. */
export function decodeF16(bytes: Uint8Array, out: Float32Array): void {
  const table = getHalfTable();
  const n = out.length;
  const halves = u16View(bytes, n);
  if (halves) for (let i = 0; i < n; i++) out[i] = table[halves[i]];
  else for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
}

/** A Uint16Array over the bytes when they are 2-byte aligned (no copy), else null. */
function u16View(bytes: Uint8Array, n: number): Uint16Array | null {
  return bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : null;
}

export function decodeBF16(bytes: Uint8Array, out: Float32Array): void {
  const n = out.length;
  const dst = new Uint32Array(out.buffer, out.byteOffset, n);
  const halves = u16View(bytes, n);
  if (halves) for (let i = 0; i < n; i++) dst[i] = halves[i] << 16;
  else for (let i = 0; i < n; i++) dst[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
}

export function encodeF16(src: Float32Array, out: Uint8Array): void {
  for (let i = 0; i < src.length; i++) {
    const h = floatToHalf(src[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
}

export function encodeBF16(src: Float32Array, out: Uint8Array): void {
  for (let i = 0; i < src.length; i++) {
    const h = floatToBf16(src[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
}
