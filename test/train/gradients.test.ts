import assert from "node:assert/strict";
import { test } from "node:test";
import type { FloatArray } from "../../src/engine/kernels/types.js";
import { SftError } from "../../src/errors.js";
import { assertFinite, clipGradNorm } from "../../src/train/gradients.js";

const sumSquares = (x: FloatArray, n: number) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
};

test("clips to max_grad_norm over all tensors together, as clip_grad_norm_", () => {
  const a = Float32Array.from([3, 0]);
  const b = Float32Array.from([0, 4]);
  const r = clipGradNorm([a, b], 1, sumSquares);
  assert.equal(r.norm, 5);
  assert.ok(Math.abs(r.scale - 1 / (5 + 1e-6)) < 1e-9);
  assert.ok(Math.abs(Math.hypot(a[0], b[1]) - 1) < 1e-5);
  const c = Float32Array.from([0.3, 0.4]);
  assert.deepEqual(clipGradNorm([c], 1, sumSquares).scale, 1);
  assert.ok(Math.abs(c[0] - 0.3) < 1e-7, "below the limit nothing changes");
  const d = Float32Array.from([30, 40]);
  assert.equal(clipGradNorm([d], 0, sumSquares).scale, 1, "0 disables clipping");
});

test("a non-finite loss stops with the step and the record ids", () => {
  const g = Float32Array.from([1, Number.NaN]);
  const { norm } = clipGradNorm([g], 1, sumSquares);
  assert.ok(Number.isNaN(norm));
  assert.throws(
    () => assertFinite({ step: 17, what: "gradient norm", value: norm, recordIds: ["r-1", "r-9"] }),
    (e: unknown) =>
      e instanceof SftError &&
      /step 17/.test(e.message) &&
      /r-1, r-9/.test(e.hint ?? "") &&
      e.code === "E_NONFINITE",
  );
  assert.doesNotThrow(() => assertFinite({ step: 1, what: "loss", value: 2.5, recordIds: [] }));
});
