// The reference kernels are the oracle, so they are checked against first principles:
// every backward by central finite differences in float64, forwards by hand-computed values
// and invariants (rotation preserves norms, segments isolate, softmax sums to one).
import assert from "node:assert/strict";
import { test } from "node:test";
import { bf16ToFloat, referenceKernels as K } from "../../../src/engine/kernels/reference.js";
import type { AttentionShape } from "../../../src/engine/kernels/types.js";
import { makeRng } from "../../../src/util/rng.js";

function randn(n: number, seed: number, scale = 1): Float64Array {
  const r = makeRng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Weighted sum: the scalar loss whose gradient w.r.t. `out` is `w`. */
function dotWith(out: Float64Array, w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * w[i];
  return s;
}

/**
 * Compares an analytic gradient with central finite differences of `loss` w.r.t. `x`
 * (perturbed in place), to a relative tolerance of the gradient's max magnitude.
 */
function assertGradient(
  name: string,
  loss: () => number,
  x: Float64Array,
  analytic: Float64Array,
  tol = 1e-6,
): void {
  const h = 1e-6;
  let maxMag = 1e-12;
  for (const g of analytic) maxMag = Math.max(maxMag, Math.abs(g));
  for (let i = 0; i < x.length; i++) {
    const orig = x[i];
    x[i] = orig + h;
    const lp = loss();
    x[i] = orig - h;
    const lm = loss();
    x[i] = orig;
    const numeric = (lp - lm) / (2 * h);
    const err = Math.abs(numeric - analytic[i]) / Math.max(maxMag, 1);
    assert.ok(err < tol, `${name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric} (rel err ${err})`);
  }
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

test("matmul: hand-computed product in all transpose variants, bias and accumulate", () => {
  // A = [[1,2,3],[4,5,6]] (2x3), B = [[1,0],[0,1],[2,-1]] (3x2) -> A·B = [[7,-1],[16,-1]]
  const A = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const At = Float64Array.from([1, 4, 2, 5, 3, 6]);
  const B = Float64Array.from([1, 0, 0, 1, 2, -1]);
  const Bt = Float64Array.from([1, 0, 2, 0, 1, -1]);
  const expected = [7, -1, 16, -1];
  for (const [transA, transB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    const out = new Float64Array(4);
    K.matmul(out, transA ? At : A, transB ? Bt : B, 2, 2, 3, { transA, transB });
    assert.deepEqual(Array.from(out), expected, `transA=${transA} transB=${transB}`);
  }
  const out = Float64Array.from([1, 1, 1, 1]);
  K.matmul(out, A, B, 2, 2, 3, { accumulate: true, bias: Float64Array.from([10, 20]) });
  assert.deepEqual(Array.from(out), [18, 20, 27, 20]);
  const f32 = new Float32Array(4);
  K.matmul(f32, new Float32Array(A), new Float32Array(B), 2, 2, 3);
  assert.deepEqual(Array.from(f32), expected);
  assert.throws(() => K.matmul(new Float64Array(3), A, B, 2, 2, 3), /out has 3 elements/);
});

test("matmulBf16 equals matmul on bf16-representable weights", () => {
  const M = 3;
  const N = 4;
  const Kd = 5;
  const a = randn(M * Kd, 1);
  const bits = new Uint16Array(N * Kd);
  const bf = new Float64Array(N * Kd);
  const r = makeRng(2);
  for (let i = 0; i < bits.length; i++) {
    // sign, exponent near 1.0, random 7-bit mantissa
    bits[i] = (r() < 0.5 ? 0x8000 : 0) | (0x3f00 + Math.floor(r() * 256));
    bf[i] = bf16ToFloat(bits[i]);
  }
  assert.equal(bf16ToFloat(0x3f80), 1);
  assert.equal(bf16ToFloat(0xc000), -2);
  for (const transB of [false, true]) {
    const o1 = new Float64Array(M * N);
    const o2 = new Float64Array(M * N);
    K.matmul(o1, a, bf, M, N, Kd, { transB });
    K.matmulBf16(o2, a, bits, M, N, Kd, { transB });
    assertClose(o2, o1, 1e-12, `transB=${transB}`);
  }
});

test("rmsnorm: forward normalizes, backward matches finite differences and accumulates", () => {
  const rows = 3;
  const C = 5;
  const x = randn(rows * C, 3);
  const w = randn(C, 4);
  const dout = randn(rows * C, 5);
  const out = new Float64Array(rows * C);
  const rstd = new Float64Array(rows);
  const eps = 1e-5;
  const loss = () => {
    K.rmsnormForward(out, rstd, x, w, rows, C, eps);
    return dotWith(out, dout);
  };
  loss();
  let ss = 0;
  for (let c = 0; c < C; c++) ss += x[c] * x[c];
  assert.ok(Math.abs(rstd[0] - 1 / Math.sqrt(ss / C + eps)) < 1e-12);
  assert.ok(Math.abs(out[1] - x[1] * rstd[0] * w[1]) < 1e-12);
  const dx = new Float64Array(rows * C).fill(0.25);
  const dw = new Float64Array(C).fill(-0.5);
  K.rmsnormBackward(dx, dw, dout, x, w, rstd, rows, C);
  for (let i = 0; i < dx.length; i++) dx[i] -= 0.25;
  for (let i = 0; i < dw.length; i++) dw[i] += 0.5;
  assertGradient("dx", loss, x, dx);
  assertGradient("dweight", loss, w, dw);
  const dx2 = new Float64Array(rows * C);
  K.rmsnormBackward(dx2, null, dout, x, w, rstd, rows, C);
  assertClose(dx2, dx, 1e-12, "dx without dweight");
});

test("layernorm: backward matches finite differences (dx, dweight, dbias)", () => {
  const rows = 3;
  const C = 6;
  const x = randn(rows * C, 6);
  const w = randn(C, 7);
  const bias = randn(C, 8);
  const dout = randn(rows * C, 9);
  const out = new Float64Array(rows * C);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const loss = () => {
    K.layernormForward(out, mean, rstd, x, w, bias, rows, C, 1e-5);
    return dotWith(out, dout);
  };
  loss();
  // Normalized rows have zero mean before the affine part.
  let m = 0;
  for (let c = 0; c < C; c++) m += (out[c] - bias[c]) / w[c];
  assert.ok(Math.abs(m) < 1e-9);
  const dx = new Float64Array(rows * C);
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  K.layernormBackward(dx, dw, db, dout, x, w, mean, rstd, rows, C);
  assertGradient("dx", loss, x, dx);
  assertGradient("dweight", loss, w, dw);
  assertGradient("dbias", loss, bias, db);
});

function ropeTables(
  maxPos: number,
  headDim: number,
  theta = 10000,
): { cos: Float64Array; sin: Float64Array } {
  const half = headDim / 2;
  const cos = new Float64Array(maxPos * half);
  const sin = new Float64Array(maxPos * half);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      const a = p / theta ** ((2 * i) / headDim);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

test("rope: both layouts rotate the right pairs; backward is the transpose (finite differences)", () => {
  const rows = 3;
  const nHeads = 2;
  const headDim = 8;
  const { cos, sin } = ropeTables(16, headDim);
  const positions = Int32Array.from([0, 5, 11]);
  for (const interleaved of [false, true]) {
    const x = randn(rows * nHeads * headDim, 10);
    const y = Float64Array.from(x);
    K.ropeForward(y, positions, rows, nHeads, headDim, cos, sin, interleaved);
    // position 0 is the identity
    assertClose(y.subarray(0, nHeads * headDim), x.subarray(0, nHeads * headDim), 1e-15, "pos 0");
    // hand-check pair 1 of head 1 on row 2 (position 11)
    const base = (2 * nHeads + 1) * headDim;
    const i0 = interleaved ? base + 2 : base + 1;
    const i1 = interleaved ? base + 3 : base + 1 + headDim / 2;
    const c = cos[11 * 4 + 1];
    const s = sin[11 * 4 + 1];
    assert.ok(Math.abs(y[i0] - (x[i0] * c - x[i1] * s)) < 1e-12);
    assert.ok(Math.abs(y[i1] - (x[i0] * s + x[i1] * c)) < 1e-12);
    const dout = randn(x.length, 11);
    const loss = () => {
      const t = Float64Array.from(x);
      K.ropeForward(t, positions, rows, nHeads, headDim, cos, sin, interleaved);
      return dotWith(t, dout);
    };
    const dx = Float64Array.from(dout);
    K.ropeBackward(dx, positions, rows, nHeads, headDim, cos, sin, interleaved);
    assertGradient(`rope interleaved=${interleaved}`, loss, x, dx);
    // backward undoes forward
    K.ropeBackward(y, positions, rows, nHeads, headDim, cos, sin, interleaved);
    assertClose(y, x, 1e-12, "inverse");
  }
  assert.throws(
    () => K.ropeForward(new Float64Array(8), Int32Array.from([16]), 1, 1, 8, cos, sin, false),
    /position 16/,
  );
});

function attentionCase(s: AttentionShape, seed: number) {
  const q = randn(s.B * s.Tq * s.H * s.D, seed);
  const k = randn(s.B * s.Tk * s.KVH * s.D, seed + 1);
  const v = randn(s.B * s.Tk * s.KVH * s.D, seed + 2);
  const dout = randn(q.length, seed + 3);
  const out = new Float64Array(q.length);
  const lse = new Float64Array(s.B * s.H * s.Tq);
  const loss = () => {
    K.attentionForward(out, lse, q, k, v, s);
    return dotWith(out, dout);
  };
  loss();
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  K.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s);
  assertGradient("dq", loss, q, dq);
  assertGradient("dk", loss, k, dk);
  assertGradient("dv", loss, v, dv);
  loss(); // the last finite-difference evaluation left out/lse at a perturbed input
  return { q, k, v, out, lse };
}

test("attention: gradients by finite differences (MHA, GQA, decode Tq<Tk, packed segments)", () => {
  attentionCase({ B: 2, Tq: 4, Tk: 4, H: 2, KVH: 2, D: 3, scale: 1 / Math.sqrt(3) }, 20);
  attentionCase({ B: 1, Tq: 5, Tk: 5, H: 4, KVH: 2, D: 4, scale: 0.5 }, 30);
  attentionCase({ B: 2, Tq: 2, Tk: 5, H: 3, KVH: 1, D: 2, scale: 0.7 }, 40);
  const segments = Int32Array.from([0, 0, 1, 1, 1, 2, 7, 7, 7, 7, 7, 9]);
  attentionCase({ B: 2, Tq: 6, Tk: 6, H: 2, KVH: 1, D: 3, scale: 0.6, segments }, 50);
});

test("attention with a sliding window and soft-capping: finite-difference gradients", () => {
  attentionCase({ B: 2, Tq: 6, Tk: 6, H: 2, KVH: 1, D: 3, scale: 0.6, window: 2 }, 90);
  attentionCase({ B: 1, Tq: 3, Tk: 7, H: 2, KVH: 2, D: 2, scale: 0.8, window: 3 }, 91);
  const segments = Int32Array.from([0, 0, 1, 1, 1, 2, 7, 7, 7, 7, 7, 9]);
  attentionCase({ B: 2, Tq: 6, Tk: 6, H: 2, KVH: 1, D: 3, scale: 0.6, segments, window: 3 }, 92);
  attentionCase({ B: 2, Tq: 5, Tk: 5, H: 2, KVH: 1, D: 4, scale: 2, softcap: 1.5 }, 93);
  attentionCase({ B: 1, Tq: 6, Tk: 6, H: 4, KVH: 2, D: 3, scale: 1.5, softcap: 2, window: 2 }, 94);
});

test("attention window: a query ignores keys window or more positions back; softcap bounds scores", () => {
  const T = 6;
  const s: AttentionShape = { B: 1, Tq: T, Tk: T, H: 1, KVH: 1, D: 2, scale: 1, window: 3 };
  const q = randn(T * 2, 95);
  const k = randn(T * 2, 96);
  const v = randn(T * 2, 97);
  const o1 = new Float64Array(T * 2);
  const o2 = new Float64Array(T * 2);
  const l = new Float64Array(T);
  K.attentionForward(o1, l, q, k, v, s);
  // keys/values 0 and 1 are outside the window of queries 4 and 5 (4 - 1 >= 3)
  k[0] += 5;
  v[3] -= 4;
  K.attentionForward(o2, l, q, k, v, s);
  assertClose(o2.subarray(8), o1.subarray(8), 1e-15, "queries 4, 5 unaffected");
  assert.ok(Math.abs(o2[3] - o1[3]) > 1e-6, "query 1 sees key 1");
  // without a window the same change reaches query 5
  const full = { ...s, window: undefined };
  K.attentionForward(o1, l, q, k, v, full);
  v[3] += 4;
  K.attentionForward(o2, l, q, k, v, full);
  assert.ok(Math.abs(o2[11] - o1[11]) > 1e-9, "no window: query 5 sees key 1");
  // soft-capping: lse of query 0 (one key) is exactly cap·tanh(score/cap)
  const capped = { ...s, window: undefined, scale: 3, softcap: 0.5 };
  K.attentionForward(o1, l, q, k, v, capped);
  const raw = 3 * (q[0] * k[0] + q[1] * k[1]);
  assert.ok(Math.abs(l[0] - 0.5 * Math.tanh(raw / 0.5)) < 1e-12);
});

test("attention forward: first query copies v, softmax weights, GQA head mapping, segment isolation", () => {
  const s: AttentionShape = { B: 1, Tq: 3, Tk: 3, H: 4, KVH: 2, D: 2, scale: 0.9 };
  const { q, k, v, out, lse } = attentionCase(s, 60);
  // query 0 sees only key 0: out = v[0, kvh]
  for (let h = 0; h < 4; h++) {
    const kvh = h >> 1;
    assertClose(out.subarray(h * 2, h * 2 + 2), v.subarray(kvh * 2, kvh * 2 + 2), 1e-12, `head ${h}`);
    const dot = q[h * 2] * k[kvh * 2] + q[h * 2 + 1] * k[kvh * 2 + 1];
    assert.ok(Math.abs(lse[h * 3] - dot * 0.9) < 1e-12);
  }
  // query 2, head 3 (kv head 1): explicit softmax over keys 0..2
  const scores = [0, 1, 2].map(
    (j) => 0.9 * (q[(2 * 4 + 3) * 2] * k[(j * 2 + 1) * 2] + q[(2 * 4 + 3) * 2 + 1] * k[(j * 2 + 1) * 2 + 1]),
  );
  const z = scores.reduce((a, b) => a + Math.exp(b), 0);
  const expect = [0, 1].map((d) =>
    [0, 1, 2].reduce((acc, j) => acc + (Math.exp(scores[j]) / z) * v[(j * 2 + 1) * 2 + d], 0),
  );
  assertClose(out.subarray((2 * 4 + 3) * 2, (2 * 4 + 3) * 2 + 2), expect, 1e-12, "query 2 head 3");

  // Changing keys/values of another segment leaves a query's output unchanged.
  const seg: AttentionShape = {
    B: 1,
    Tq: 4,
    Tk: 4,
    H: 1,
    KVH: 1,
    D: 2,
    scale: 1,
    segments: Int32Array.from([0, 0, 1, 1]),
  };
  const q2 = randn(8, 70);
  const k2 = randn(8, 71);
  const v2 = randn(8, 72);
  const o1 = new Float64Array(8);
  const o2 = new Float64Array(8);
  const l = new Float64Array(4);
  K.attentionForward(o1, l, q2, k2, v2, seg);
  k2[0] += 5;
  v2[1] -= 3;
  K.attentionForward(o2, l, q2, k2, v2, seg);
  assertClose(o2.subarray(4), o1.subarray(4), 1e-15, "segment 1 unaffected");
  assertClose(o2.subarray(4, 6), v2.subarray(4, 6), 1e-15, "first token of a segment sees only itself");
});

test("swiglu and gelu: values and finite-difference gradients", () => {
  const n = 7;
  const gate = randn(n, 80, 3);
  const up = randn(n, 81);
  const dout = randn(n, 82);
  const out = new Float64Array(n);
  K.swigluForward(out, gate, up, n);
  assert.ok(Math.abs(out[2] - (gate[2] / (1 + Math.exp(-gate[2]))) * up[2]) < 1e-12);
  const sLoss = () => {
    K.swigluForward(out, gate, up, n);
    return dotWith(out, dout);
  };
  const dg = new Float64Array(n);
  const du = new Float64Array(n);
  K.swigluBackward(dg, du, dout, gate, up, n);
  assertGradient("dgate", sLoss, gate, dg);
  assertGradient("dup", sLoss, up, du);

  const x = randn(n, 83, 4);
  const g = new Float64Array(1);
  K.geluForward(g, Float64Array.from([1]), 1);
  // gelu_new(1) = 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715))
  assert.ok(Math.abs(g[0] - 0.8411919906082768) < 1e-12);
  const gLoss = () => {
    K.geluForward(out, x, n);
    return dotWith(out, dout);
  };
  const dx = new Float64Array(n);
  K.geluBackward(dx, dout, x, n);
  assertGradient("gelu dx", gLoss, x, dx);
});

test("cross-entropy: loss values, ignore_index, gradient by finite differences, aliasing", () => {
  const rows = 4;
  const V = 5;
  const logits = randn(rows * V, 90, 3);
  const targets = Int32Array.from([2, -100, 0, 4]);
  const losses = new Float64Array(rows);
  const dlogits = new Float64Array(rows * V).fill(9);
  const total = K.crossEntropyForwardBackward(dlogits, losses, logits, targets, rows, V, 1);
  let z = 0;
  for (let c = 0; c < V; c++) z += Math.exp(logits[c]);
  assert.ok(Math.abs(losses[0] - (Math.log(z) - logits[2])) < 1e-12);
  assert.equal(losses[1], 0);
  assert.deepEqual(Array.from(dlogits.subarray(V, 2 * V)), [0, 0, 0, 0, 0]);
  assert.ok(Math.abs(total - (losses[0] + losses[2] + losses[3])) < 1e-12);
  const loss = () => K.crossEntropyForwardBackward(null, losses, logits, targets, rows, V, 1);
  assertGradient("dlogits", loss, logits, dlogits);
  // gradScale scales; dlogits may alias logits.
  const aliased = Float64Array.from(logits);
  K.crossEntropyForwardBackward(aliased, losses, aliased, targets, rows, V, 0.25);
  assertClose(
    aliased,
    Array.from(dlogits, (d) => d * 0.25),
    1e-12,
    "aliased and scaled",
  );
  assert.throws(
    () => K.crossEntropyForwardBackward(null, losses, logits, Int32Array.from([5, 0, 0, 0]), rows, V, 1),
    /target 5/,
  );
});

test("adamw: first two steps by hand", () => {
  const p = Float64Array.from([1, -2]);
  const g = Float64Array.from([0.5, -0.1]);
  const m = new Float64Array(2);
  const v = new Float64Array(2);
  const [lr, b1, b2, eps, wd] = [0.1, 0.9, 0.99, 1e-8, 0.01];
  K.adamw(p, g, m, v, 2, lr, b1, b2, eps, wd, 1);
  // step 1: mhat = g, vhat = g^2 -> update ≈ sign(g)
  const e1 = [1 - lr * (0.5 / (0.5 + eps) + wd * 1), -2 - lr * (-0.1 / (0.1 + eps) + wd * -2)];
  assertClose(p, e1, 1e-12, "step 1");
  const g2 = Float64Array.from([-0.2, 0.3]);
  const pBefore = Float64Array.from(p);
  K.adamw(p, g2, m, v, 2, lr, b1, b2, eps, wd, 2);
  for (let i = 0; i < 2; i++) {
    const mi = 0.9 * (0.1 * g[i]) + 0.1 * g2[i];
    const vi = 0.99 * (0.01 * g[i] * g[i]) + 0.01 * g2[i] * g2[i];
    const mhat = mi / (1 - 0.81);
    const vhat = vi / (1 - 0.99 * 0.99);
    assert.ok(Math.abs(m[i] - mi) < 1e-15 && Math.abs(v[i] - vi) < 1e-15);
    const expected = pBefore[i] - lr * (mhat / (Math.sqrt(vhat) + eps) + wd * pBefore[i]);
    assert.ok(Math.abs(p[i] - expected) < 1e-12, `step 2 [${i}]`);
  }
});

test("helpers: sumSquares, bias backward, embedding gather/scatter, add, axpy, scale", () => {
  assert.equal(K.sumSquares(Float32Array.from([1, 2, 3, 100]), 3), 14);
  const dbias = Float64Array.from([1, 1]);
  K.biasBackward(dbias, Float64Array.from([1, 2, 3, 4, 5, 6]), 3, 2);
  assert.deepEqual(Array.from(dbias), [10, 13]);
  const table = Float64Array.from([0, 1, 10, 11, 20, 21]);
  const ids = Int32Array.from([2, 0, 2]);
  const emb = new Float64Array(6);
  K.embeddingForward(emb, table, ids, 3, 2);
  assert.deepEqual(Array.from(emb), [20, 21, 0, 1, 20, 21]);
  const dtable = new Float64Array(6).fill(1);
  K.embeddingBackward(dtable, Float64Array.from([1, 2, 3, 4, 5, 6]), ids, 3, 2);
  assert.deepEqual(Array.from(dtable), [4, 5, 1, 1, 7, 9]);
  assert.throws(() => K.embeddingForward(emb, table, Int32Array.from([3]), 1, 2), /id 3/);
  const a = Float64Array.from([1, 2, 3]);
  const out = new Float64Array(3);
  K.add(out, a, Float64Array.from([10, 20, 30]), 3);
  assert.deepEqual(Array.from(out), [11, 22, 33]);
  K.axpy(out, a, -2, 3);
  assert.deepEqual(Array.from(out), [9, 18, 27]);
  K.scale(out, 1 / 9, 2);
  assert.deepEqual(Array.from(out), [1, 2, 27]);
});
