// Native kernels against the reference oracle. Inputs are random float32; the reference runs
// in float64 on the same values, so the comparison measures only the native kernel's float32
// error. Sizes include the odd ones (1, 7, 33, 257) that hit every edge/tail path, and ones
// large enough to go multithreaded. The suite re-runs itself in child processes with the
// AVX2 level and the scalar fallback forced (SFTKIT_SIMD), single-threaded for the latter.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadNativeKernels, nativeInfo, nativePeakGflops } from "../../../src/engine/kernels/native.js";
import { referenceKernels as R } from "../../../src/engine/kernels/reference.js";
import type { AttentionShape, Kernels } from "../../../src/engine/kernels/types.js";
import { makeRng } from "../../../src/util/rng.js";

let N: Kernels | null = null;
let skipReason = "";
try {
  N = loadNativeKernels();
} catch (e) {
  skipReason = `native addon not built (${(e as Error).message}); run \`node scripts/build-native.mjs\``;
}
const level = N ? nativeInfo().simd : "none";

function rand32(n: number, seed: number, scale = 1): Float32Array {
  const r = makeRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}
const f64 = (x: Float32Array) => Float64Array.from(x);

/** max |native - ref| relative to max(1, max |ref|) must stay below tol. */
function assertNear(what: string, native: Float32Array, ref: Float64Array, tol = 2e-5): void {
  assert.equal(native.length, ref.length, `${what}: length`);
  let maxRef = 1;
  for (const v of ref) maxRef = Math.max(maxRef, Math.abs(v));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(native[i] - ref[i]);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(
    worst / maxRef <= tol,
    `${what} [${level}]: worst error ${worst} at ${at} (native ${native[at]}, ref ${ref[at]}, scale ${maxRef})`,
  );
}

const SIZES = [1, 7, 33, 257];
const opt = { skip: N === null ? skipReason : false };

test("matmul: all transposes, odd sizes, accumulate and bias", opt, () => {
  const K_ = N!;
  let seed = 1;
  let idx = 0;
  for (const M of SIZES)
    for (const Nn of SIZES)
      for (const K of SIZES) {
        if (M * Nn * K > 257 * 257 * 33) continue;
        for (const transA of [false, true])
          for (const transB of [false, true]) {
            const a = rand32(M * K, seed++);
            const b = rand32(K * Nn, seed++);
            const accumulate = idx % 2 === 1;
            const bias = idx % 3 === 0 ? rand32(Nn, seed++) : undefined;
            idx++;
            const o32 = rand32(M * Nn, seed++);
            const o64 = f64(o32);
            K_.matmul(o32, a, b, M, Nn, K, { transA, transB, accumulate, bias });
            R.matmul(o64, f64(a), f64(b), M, Nn, K, {
              transA,
              transB,
              accumulate,
              bias: bias && f64(bias),
            });
            assertNear(
              `matmul ${M}x${Nn}x${K} tA=${transA} tB=${transB} acc=${accumulate} bias=${!!bias}`,
              o32,
              o64,
            );
          }
      }
});

test("matmul: multithreaded splits, few-row (decode) path, K=0, views", opt, () => {
  const K_ = N!;
  for (const [M, Nn, K] of [
    [300, 200, 150],
    [40, 700, 90],
    [1, 1000, 300],
    [2, 129, 513],
    [4, 64, 2048],
    [5, 3, 0],
  ]) {
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ]) {
      const a = rand32(M * K, M + Nn);
      const b = rand32(K * Nn, K + 3);
      const bias = rand32(Nn, 9);
      const o32 = rand32(M * Nn, 5);
      const o64 = f64(o32);
      K_.matmul(o32, a, b, M, Nn, K, { transA, transB, bias, accumulate: transA });
      R.matmul(o64, f64(a), f64(b), M, Nn, K, { transA, transB, bias: f64(bias), accumulate: transA });
      assertNear(`matmul ${M}x${Nn}x${K} tA=${transA} tB=${transB}`, o32, o64);
    }
  }
  // Views into one big buffer (subarray) are used in place.
  const buf = rand32(1000, 77);
  const out = new Float32Array(50);
  K_.matmul(out, buf.subarray(100, 170), buf.subarray(500, 640), 5, 10, 14);
  const o64 = new Float64Array(50);
  R.matmul(o64, f64(buf.subarray(100, 170)), f64(buf.subarray(500, 640)), 5, 10, 14);
  assertNear("matmul on views", out, o64);
  assert.throws(() => K_.matmul(new Float32Array(3), buf, buf, 2, 2, 2), RangeError);
});

test("matmulBf16: bf16 weights in all transposes", opt, () => {
  const K_ = N!;
  for (const [M, Nn, K] of [
    [7, 33, 257],
    [1, 257, 33],
    [257, 7, 33],
    [64, 100, 96],
  ]) {
    const bits = new Uint16Array(K * Nn);
    const r = makeRng(M * 7 + Nn);
    for (let i = 0; i < bits.length; i++)
      bits[i] = (r() < 0.5 ? 0x8000 : 0) | (0x3e00 + Math.floor(r() * 512));
    const bf = Float64Array.from(bits, (x) => {
      const u = new Uint32Array([x << 16]);
      return new Float32Array(u.buffer)[0];
    });
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const a = rand32(M * K, 3);
        const o32 = new Float32Array(M * Nn);
        const o64 = new Float64Array(M * Nn);
        K_.matmulBf16(o32, a, bits, M, Nn, K, { transA, transB });
        R.matmul(o64, f64(a), bf, M, Nn, K, { transA, transB });
        assertNear(`matmulBf16 ${M}x${Nn}x${K} tA=${transA} tB=${transB}`, o32, o64);
      }
  }
});

test("rmsnorm and layernorm forward/backward (accumulating, optional weight grads)", opt, () => {
  const K_ = N!;
  for (const [rows, C] of [
    [1, 1],
    [7, 33],
    [33, 7],
    [257, 257],
    [512, 384],
  ]) {
    const x = rand32(rows * C, rows, 2);
    const w = rand32(C, C + 1);
    const bias = rand32(C, C + 2);
    const dout = rand32(rows * C, rows + 3);
    // RMSNorm
    const out32 = new Float32Array(rows * C);
    const rstd32 = new Float32Array(rows);
    const out64 = new Float64Array(rows * C);
    const rstd64 = new Float64Array(rows);
    K_.rmsnormForward(out32, rstd32, x, w, rows, C, 1e-5);
    R.rmsnormForward(out64, rstd64, f64(x), f64(w), rows, C, 1e-5);
    assertNear(`rmsnorm out ${rows}x${C}`, out32, out64);
    assertNear(`rmsnorm rstd ${rows}x${C}`, rstd32, rstd64);
    for (const withDw of [true, false]) {
      const dx32 = rand32(rows * C, 11);
      const dw32 = rand32(C, 12);
      const dx64 = f64(dx32);
      const dw64 = f64(dw32);
      K_.rmsnormBackward(dx32, withDw ? dw32 : null, dout, x, w, rstd32, rows, C);
      R.rmsnormBackward(dx64, withDw ? dw64 : null, f64(dout), f64(x), f64(w), rstd64, rows, C);
      assertNear(`rmsnorm dx ${rows}x${C}`, dx32, dx64, 5e-5);
      assertNear(`rmsnorm dweight ${rows}x${C}`, dw32, dw64, 5e-5);
    }
    // LayerNorm
    const mean32 = new Float32Array(rows);
    const mean64 = new Float64Array(rows);
    K_.layernormForward(out32, mean32, rstd32, x, w, bias, rows, C, 1e-5);
    R.layernormForward(out64, mean64, rstd64, f64(x), f64(w), f64(bias), rows, C, 1e-5);
    assertNear(`layernorm out ${rows}x${C}`, out32, out64);
    assertNear(`layernorm mean ${rows}x${C}`, mean32, mean64);
    for (const [withDw, withDb] of [
      [true, true],
      [false, true],
      [true, false],
      [false, false],
    ]) {
      const dx32 = rand32(rows * C, 13);
      const dw32 = rand32(C, 14);
      const db32 = rand32(C, 15);
      const [dx64, dw64, db64] = [f64(dx32), f64(dw32), f64(db32)];
      K_.layernormBackward(
        dx32,
        withDw ? dw32 : null,
        withDb ? db32 : null,
        dout,
        x,
        w,
        mean32,
        rstd32,
        rows,
        C,
      );
      R.layernormBackward(
        dx64,
        withDw ? dw64 : null,
        withDb ? db64 : null,
        f64(dout),
        f64(x),
        f64(w),
        mean64,
        rstd64,
        rows,
        C,
      );
      assertNear(`layernorm dx ${rows}x${C}`, dx32, dx64, 5e-5);
      assertNear(`layernorm dweight ${rows}x${C}`, dw32, dw64, 5e-5);
      assertNear(`layernorm dbias ${rows}x${C}`, db32, db64, 5e-5);
    }
  }
});

test("rope forward/backward in both layouts", opt, () => {
  const K_ = N!;
  for (const [rows, nHeads, headDim] of [
    [1, 1, 2],
    [7, 3, 8],
    [257, 4, 64],
    [33, 2, 34],
  ]) {
    const maxPos = 300;
    const half = headDim / 2;
    const cos = new Float32Array(maxPos * half);
    const sin = new Float32Array(maxPos * half);
    for (let p = 0; p < maxPos; p++)
      for (let i = 0; i < half; i++) {
        const ang = p / 10000 ** ((2 * i) / headDim);
        cos[p * half + i] = Math.cos(ang);
        sin[p * half + i] = Math.sin(ang);
      }
    const positions = Int32Array.from({ length: rows }, (_, r) => (r * 37) % maxPos);
    for (const interleaved of [false, true]) {
      const x32 = rand32(rows * nHeads * headDim, rows + headDim);
      const x64 = f64(x32);
      K_.ropeForward(x32, positions, rows, nHeads, headDim, cos, sin, interleaved);
      R.ropeForward(x64, positions, rows, nHeads, headDim, f64(cos), f64(sin), interleaved);
      assertNear(`rope fwd ${rows}/${nHeads}/${headDim} il=${interleaved}`, x32, x64);
      K_.ropeBackward(x32, positions, rows, nHeads, headDim, cos, sin, interleaved);
      R.ropeBackward(x64, positions, rows, nHeads, headDim, f64(cos), f64(sin), interleaved);
      assertNear(`rope bwd ${rows}/${nHeads}/${headDim} il=${interleaved}`, x32, x64);
    }
    assert.throws(
      () =>
        K_.ropeForward(new Float32Array(headDim), Int32Array.from([maxPos]), 1, 1, headDim, cos, sin, false),
      RangeError,
    );
  }
});

function attentionCompare(s: AttentionShape, seed: number): void {
  const K_ = N!;
  const qn = s.B * s.Tq * s.H * s.D;
  const kn = s.B * s.Tk * s.KVH * s.D;
  const q = rand32(qn, seed, 2);
  const k = rand32(kn, seed + 1, 2);
  const v = rand32(kn, seed + 2);
  const dout = rand32(qn, seed + 3);
  const out32 = new Float32Array(qn);
  const lse32 = new Float32Array(s.B * s.H * s.Tq);
  const out64 = new Float64Array(qn);
  const lse64 = new Float64Array(s.B * s.H * s.Tq);
  const tag = `attention B${s.B} Tq${s.Tq} Tk${s.Tk} H${s.H} KVH${s.KVH} D${s.D}${s.segments ? " seg" : ""}${s.window ? ` W${s.window}` : ""}${s.softcap ? ` cap${s.softcap}` : ""}`;
  K_.attentionForward(out32, lse32, q, k, v, s);
  R.attentionForward(out64, lse64, f64(q), f64(k), f64(v), s);
  assertNear(`${tag} out`, out32, out64);
  assertNear(`${tag} lse`, lse32, lse64);
  const dq32 = rand32(qn, seed + 4);
  const dk32 = rand32(kn, seed + 5);
  const dv32 = rand32(kn, seed + 6);
  const [dq64, dk64, dv64] = [f64(dq32), f64(dk32), f64(dv32)];
  K_.attentionBackward(dq32, dk32, dv32, dout, q, k, v, out32, lse32, s);
  R.attentionBackward(dq64, dk64, dv64, f64(dout), f64(q), f64(k), f64(v), out64, lse64, s);
  assertNear(`${tag} dq`, dq32, dq64, 5e-5);
  assertNear(`${tag} dk`, dk32, dk64, 5e-5);
  assertNear(`${tag} dv`, dv32, dv64, 5e-5);
}

test("attention forward/backward: MHA, GQA, decode (Tq<Tk), segments, multi-tile", opt, () => {
  attentionCompare({ B: 1, Tq: 1, Tk: 1, H: 1, KVH: 1, D: 1, scale: 1 }, 1);
  attentionCompare({ B: 2, Tq: 7, Tk: 7, H: 4, KVH: 2, D: 8, scale: 1 / Math.sqrt(8) }, 10);
  attentionCompare({ B: 1, Tq: 33, Tk: 33, H: 2, KVH: 1, D: 64, scale: 0.125 }, 20);
  attentionCompare({ B: 2, Tq: 130, Tk: 130, H: 3, KVH: 3, D: 16, scale: 0.25 }, 30);
  attentionCompare({ B: 1, Tq: 1, Tk: 257, H: 4, KVH: 1, D: 32, scale: 0.2 }, 40);
  attentionCompare({ B: 2, Tq: 7, Tk: 70, H: 2, KVH: 2, D: 7, scale: 0.4 }, 50);
  // Packed sequences: segment boundaries inside and across tiles, two rows.
  const Tk = 150;
  const segments = new Int32Array(2 * Tk);
  for (let j = 0; j < Tk; j++) {
    segments[j] = j < 40 ? 0 : j < 100 ? 1 : 2;
    segments[Tk + j] = j < 7 ? 5 : 6;
  }
  attentionCompare({ B: 2, Tq: Tk, Tk, H: 4, KVH: 2, D: 16, scale: 0.25, segments }, 60);
  attentionCompare({ B: 2, Tq: 33, Tk, H: 2, KVH: 1, D: 8, scale: 0.3, segments }, 70);
});

test(
  "attention forward/backward with sliding windows (inside and across tiles) and soft-capping",
  opt,
  () => {
    attentionCompare({ B: 2, Tq: 7, Tk: 7, H: 4, KVH: 2, D: 8, scale: 0.35, window: 3 }, 110);
    attentionCompare({ B: 1, Tq: 200, Tk: 200, H: 2, KVH: 1, D: 16, scale: 0.25, window: 70 }, 120);
    attentionCompare({ B: 1, Tq: 150, Tk: 150, H: 2, KVH: 2, D: 8, scale: 0.3, window: 64 }, 125);
    attentionCompare({ B: 1, Tq: 1, Tk: 257, H: 4, KVH: 1, D: 32, scale: 0.2, window: 100 }, 130);
    attentionCompare({ B: 2, Tq: 9, Tk: 140, H: 2, KVH: 1, D: 8, scale: 0.3, window: 65 }, 140);
    attentionCompare({ B: 2, Tq: 130, Tk: 130, H: 3, KVH: 1, D: 16, scale: 0.9, softcap: 2 }, 150);
    attentionCompare(
      { B: 1, Tq: 140, Tk: 140, H: 2, KVH: 1, D: 16, scale: 0.9, softcap: 3, window: 20 },
      160,
    );
    const Tk = 150;
    const segments = new Int32Array(Tk);
    for (let j = 0; j < Tk; j++) segments[j] = j < 40 ? 0 : j < 100 ? 1 : 2;
    attentionCompare({ B: 1, Tq: Tk, Tk, H: 2, KVH: 1, D: 8, scale: 0.3, segments, window: 50 }, 170);
  },
);

test("swiglu and gelu forward/backward", opt, () => {
  const K_ = N!;
  for (const n of [1, 7, 33, 257, 100_003]) {
    const g = rand32(n, n, 6);
    const u = rand32(n, n + 1);
    const dout = rand32(n, n + 2);
    const o32 = new Float32Array(n);
    const o64 = new Float64Array(n);
    K_.swigluForward(o32, g, u, n);
    R.swigluForward(o64, f64(g), f64(u), n);
    assertNear(`swiglu fwd ${n}`, o32, o64);
    const dg32 = rand32(n, 3);
    const du32 = rand32(n, 4);
    const [dg64, du64] = [f64(dg32), f64(du32)];
    K_.swigluBackward(dg32, du32, dout, g, u, n);
    R.swigluBackward(dg64, du64, f64(dout), f64(g), f64(u), n);
    assertNear(`swiglu dgate ${n}`, dg32, dg64);
    assertNear(`swiglu dup ${n}`, du32, du64);
    K_.geluForward(o32, g, n);
    R.geluForward(o64, f64(g), n);
    assertNear(`gelu fwd ${n}`, o32, o64);
    const dx32 = rand32(n, 5);
    const dx64 = f64(dx32);
    K_.geluBackward(dx32, dout, g, n);
    R.geluBackward(dx64, f64(dout), f64(g), n);
    assertNear(`gelu bwd ${n}`, dx32, dx64);
  }
  // Extreme inputs stay finite and saturate correctly.
  const x = Float32Array.from([-200, -90, -30, 0, 30, 90, 200]);
  const o = new Float32Array(7);
  N!.geluForward(o, x, 7);
  assert.deepEqual(Array.from(o), [-0, -0, -0, 0, 30, 90, 200]);
  N!.swigluForward(o, x, new Float32Array(7).fill(1), 7);
  assert.deepEqual([o[0], o[1], o[3], o[4], o[5], o[6]], [-0, -0, 0, 30, 90, 200]);
  assert.ok(Math.abs(o[2] / (-30 / (1 + Math.exp(30))) - 1) < 1e-6, `silu(-30) = ${o[2]}`);
});

test("cross-entropy: ignore_index, gradScale, aliasing, null dlogits, bad target", opt, () => {
  const K_ = N!;
  for (const [rows, V] of [
    [1, 1],
    [7, 33],
    [33, 257],
    [64, 8192],
  ]) {
    const logits = rand32(rows * V, rows + V, 8);
    const targets = Int32Array.from({ length: rows }, (_, r) => (r % 5 === 2 ? -100 : (r * 31) % V));
    const d32 = new Float32Array(rows * V).fill(7);
    const l32 = new Float32Array(rows);
    const d64 = new Float64Array(rows * V);
    const l64 = new Float64Array(rows);
    const t32 = K_.crossEntropyForwardBackward(d32, l32, logits, targets, rows, V, 0.5);
    const t64 = R.crossEntropyForwardBackward(d64, l64, f64(logits), targets, rows, V, 0.5);
    assertNear(`ce losses ${rows}x${V}`, l32, l64);
    assertNear(`ce dlogits ${rows}x${V}`, d32, d64);
    assert.ok(Math.abs(t32 - t64) <= 1e-5 * Math.max(1, Math.abs(t64)), `ce total ${t32} vs ${t64}`);
    const aliased = Float32Array.from(logits);
    K_.crossEntropyForwardBackward(aliased, l32, aliased, targets, rows, V, 0.5);
    assertNear(`ce aliased ${rows}x${V}`, aliased, d64);
    const t2 = K_.crossEntropyForwardBackward(null, l32, logits, targets, rows, V, 1);
    assert.equal(t2, t32);
  }
  assert.throws(
    () =>
      K_.crossEntropyForwardBackward(
        null,
        new Float32Array(1),
        new Float32Array(4),
        Int32Array.from([4]),
        1,
        4,
        1,
      ),
    /target 4/,
  );
});

test("adamw, sumSquares, biasBackward, embedding, add/axpy/scale", opt, () => {
  const K_ = N!;
  for (const n of [1, 7, 33, 257, 200_003]) {
    const p32 = rand32(n, n);
    const m32 = new Float32Array(n);
    const v32 = new Float32Array(n);
    const [p64, m64, v64] = [f64(p32), new Float64Array(n), new Float64Array(n)];
    for (let step = 1; step <= 3; step++) {
      const g = rand32(n, n + step);
      K_.adamw(p32, g, m32, v32, n, 1e-2, 0.9, 0.999, 1e-8, 0.1, step);
      R.adamw(p64, f64(g), m64, v64, n, 1e-2, 0.9, 0.999, 1e-8, 0.1, step);
    }
    assertNear(`adamw param ${n}`, p32, p64, 1e-5);
    assertNear(`adamw v ${n}`, v32, v64, 1e-5);
    const x = rand32(n, n + 9);
    const ss = K_.sumSquares(x, n);
    const ssRef = R.sumSquares(f64(x), n);
    assert.ok(Math.abs(ss - ssRef) <= 1e-6 * ssRef, `sumSquares ${n}: ${ss} vs ${ssRef}`);
    const y32 = rand32(n, 1);
    const y64 = f64(y32);
    K_.axpy(y32, x, -0.75, n);
    R.axpy(y64, f64(x), -0.75, n);
    assertNear(`axpy ${n}`, y32, y64);
    K_.add(y32, y32, x, n);
    R.add(y64, y64, f64(x), n);
    assertNear(`add ${n}`, y32, y64);
    K_.scale(y32, 0.3, n);
    R.scale(y64, 0.3, n);
    assertNear(`scale ${n}`, y32, y64);
  }
  for (const [rows, C] of [
    [1, 1],
    [7, 33],
    [1024, 384],
  ]) {
    const dout = rand32(rows * C, rows);
    const db32 = rand32(C, 2);
    const db64 = f64(db32);
    K_.biasBackward(db32, dout, rows, C);
    R.biasBackward(db64, f64(dout), rows, C);
    assertNear(`biasBackward ${rows}x${C}`, db32, db64, 1e-5);
    const vocab = 50;
    const table = rand32(vocab * C, 3);
    const ids = Int32Array.from({ length: rows }, (_, r) => (r * 7) % vocab); // repeats when rows > 50
    const e32 = new Float32Array(rows * C);
    const e64 = new Float64Array(rows * C);
    K_.embeddingForward(e32, table, ids, rows, C);
    R.embeddingForward(e64, f64(table), ids, rows, C);
    assertNear(`embedding fwd ${rows}x${C}`, e32, e64, 0);
    const dt32 = rand32(vocab * C, 4);
    const dt64 = f64(dt32);
    K_.embeddingBackward(dt32, dout, ids, rows, C);
    R.embeddingBackward(dt64, f64(dout), ids, rows, C);
    assertNear(`embedding bwd ${rows}x${C}`, dt32, dt64, 1e-5);
    assert.throws(() => K_.embeddingForward(e32, table, Int32Array.from([vocab]), 1, C), /outside the table/);
  }
});

test("float64 inputs are delegated to the reference kernels", opt, () => {
  const a = Float64Array.from([1, 2, 3, 4]);
  const b = Float64Array.from([1e-9, 1, 1, 0]);
  const out = new Float64Array(4);
  N!.matmul(out, a, b, 2, 2, 2);
  // 1 * 1e-9 + 2 * 1 = 2.000000001 only survives in float64
  assert.equal(out[0], 2.000000001);
  const x = Float64Array.from([1e-9, 2]);
  const o = new Float64Array(2);
  N!.swigluForward(o, x, Float64Array.from([1, 1]), 2);
  assert.equal(o[0], 1e-9 / (1 + Math.exp(-1e-9)));
});

const isChild = process.env.SFTKIT_NATIVE_TEST_CHILD === "1";
const info = N ? nativeInfo() : null;
/**
 * Each GEMM path on its own: the built-in AVX2 and scalar micro-kernels with the system BLAS
 * off, and the system BLAS forced for every shape (where one is installed).
 */
const childRuns: { what: string; env: Record<string, string>; skip: string | false }[] = [
  {
    what: "AVX2 kernels",
    env: { SFTKIT_SIMD: "avx2", SFTKIT_THREADS: "2", SFTKIT_BLAS: "off" },
    skip: false,
  },
  {
    what: "scalar kernels",
    env: { SFTKIT_SIMD: "scalar", SFTKIT_THREADS: "1", SFTKIT_BLAS: "off" },
    skip: false,
  },
  {
    what: "system BLAS forced",
    env: { SFTKIT_THREADS: "2", SFTKIT_BLAS: "force" },
    skip: info && !info.blas ? `no system BLAS on this machine (${info.blasMissing})` : false,
  },
];
for (const run of childRuns) {
  test(`${run.what} pass the same suite (child process)`, {
    skip: N === null ? skipReason : isChild ? "already a child run" : run.skip,
    timeout: 240_000,
  }, () => {
    const file = fileURLToPath(import.meta.url);
    // NODE_TEST_CONTEXT would make the child talk to this runner instead of running its tests.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", file], {
      env: { ...env, ...run.env, SFTKIT_NATIVE_TEST_CHILD: "1" },
      encoding: "utf8",
    });
    assert.equal(res.status, 0, `${run.what} run failed:\n${res.stdout}\n${res.stderr}`);
    // The child must really have run the kernel tests: every test but the recursions passed.
    const count = (what: string) => Number(new RegExp(`# ${what} (\\d+)`).exec(res.stdout)?.[1] ?? -1);
    assert.equal(
      count("skipped"),
      childRuns.length,
      `${run.what} run skipped more than the recursions:\n${res.stdout}`,
    );
    assert.ok(count("pass") > 0, `${run.what} run did not run the suite:\n${res.stdout}`);
    assert.equal(
      count("pass"),
      count("tests") - childRuns.length,
      `${run.what} run did not pass the suite:\n${res.stdout}`,
    );
    if (run.env.SFTKIT_BLAS === "force")
      assert.match(res.stdout, /BLAS in use: /, "the child did not use the BLAS");
  });
}

test("native info names the GEMM paths; the peak kernel measures a plausible peak", opt, (t) => {
  const i = nativeInfo();
  assert.ok(["auto", "force", "off"].includes(i.blasMode), i.blasMode);
  assert.ok((i.blas === null) !== (i.blasMissing === null), "exactly one of blas / blasMissing");
  if (i.blas) t.diagnostic(`BLAS in use: ${i.blas}`);
  const peak = nativePeakGflops(0.02, 2);
  // A core does at least 1 GFLOP/s at any SIMD level and no CPU core reaches 500 fp32 GFLOP/s.
  assert.ok(peak !== undefined && peak > 1 && peak < 500 * i.threads, `peak ${peak} GFLOP/s`);
});
