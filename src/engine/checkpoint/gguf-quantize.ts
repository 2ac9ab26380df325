/**
 * ggml's Q4_0 quantiser (the reference `quantize_row_q4_0_ref`), so a Q4_0 file written here
 * holds the same bytes llama.cpp's own quantiser writes for the same F32 weights: blocks of
 * 32 values, d = (the value of largest magnitude, with its sign) / −8 stored as f16, and
 * q = min(15, trunc(x/d + 8.5)), the first 16 values in the low nibbles, the last 16 high.
 */
import { floatToHalf } from "./numeric.js";

export function quantizeQ4_0(src: Float32Array): Uint8Array {
  if (src.length % 32 !== 0) throw new Error(`Q4_0 needs a multiple of 32 values, got ${src.length}`);
  const blocks = src.length / 32;
  const out = new Uint8Array(blocks * 18);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x = src.subarray(b * 32, b * 32 + 32);
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      if (Math.abs(x[j]) > amax) {
        amax = Math.abs(x[j]);
        max = x[j];
      }
    }
    // float arithmetic as ggml does it (f32), so rounding at the .5 boundaries matches.
    const d = Math.fround(max / -8);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    view.setUint16(b * 18, floatToHalf(d), true);
    for (let j = 0; j < 16; j++) {
      const x0 = Math.fround(Math.fround(x[j] * id) + 8.5);
      const x1 = Math.fround(Math.fround(x[j + 16] * id) + 8.5);
      const q0 = Math.min(15, Math.trunc(x0));
      const q1 = Math.min(15, Math.trunc(x1));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}
