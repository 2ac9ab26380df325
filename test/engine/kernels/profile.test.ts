import assert from "node:assert/strict";
import { test } from "node:test";
import { gemmRole, profileKernels } from "../../../src/engine/kernels/profile.js";
import { referenceKernels as R } from "../../../src/engine/kernels/reference.js";

const shape = { vocabSize: 512, loraR: 8 };

test("gemmRole names a GEMM by its transposes and which side the vocabulary is on", () => {
  // 512 tokens: the token count equals the vocabulary, which must not make it the LM head
  assert.equal(gemmRole(512, 64, 64, { transB: true }, shape), "GEMM linear forward");
  assert.equal(gemmRole(512, 64, 64, {}, shape), "GEMM linear input grad");
  assert.equal(gemmRole(64, 64, 512, { transA: true }, shape), "GEMM linear weight grad");
  assert.equal(gemmRole(100, 512, 64, { transB: true }, shape), "GEMM LM head forward");
  assert.equal(gemmRole(100, 64, 512, {}, shape), "GEMM LM head input grad");
  assert.equal(gemmRole(512, 64, 100, { transA: true }, shape), "GEMM LM head weight grad");
  assert.equal(gemmRole(100, 8, 64, { transB: true }, shape), "GEMM LoRA forward");
  assert.equal(gemmRole(100, 8, 64, { transB: true }, { vocabSize: 512, loraR: 0 }), "GEMM linear forward");
});

test("the profiling wrapper computes what the kernels compute and counts calls and FLOPs", () => {
  const p = profileKernels(R, { vocabSize: 512, loraR: 0 });
  const a = Float64Array.from({ length: 6 }, (_, i) => i + 1);
  const b = Float64Array.from({ length: 12 }, (_, i) => i - 3);
  const o1 = new Float64Array(8);
  const o2 = new Float64Array(8);
  R.matmul(o1, a, b, 2, 4, 3);
  p.kernels.matmul(o2, a, b, 2, 4, 3);
  p.kernels.matmul(o2, a, b, 2, 4, 3, { accumulate: true });
  assert.deepEqual(
    Array.from(o2),
    Array.from(o1, (x) => 2 * x),
  );
  const x = Float64Array.from([1, 2, 3, 4]);
  p.kernels.scale(x, 0.5, 4);
  assert.deepEqual(Array.from(x), [0.5, 1, 1.5, 2]);
  const rows = p.rows();
  const g = rows.find((r) => r.op === "GEMM linear input grad");
  assert.equal(g?.calls, 2);
  assert.equal(g?.gflop, (2 * 2 * (2 * 4 * 3)) / 1e9);
  const c = rows.find((r) => r.op === "copies/adds");
  assert.deepEqual([c?.calls, c?.gflop], [1, null]);
  assert.equal(p.kernels.name, R.name);
  p.reset();
  assert.deepEqual(p.rows(), []);
});
