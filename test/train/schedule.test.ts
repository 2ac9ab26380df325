import assert from "node:assert/strict";
import { test } from "node:test";
import { learningRateAt, lrMultiplier, resolveWarmupSteps } from "../../src/train/schedule.js";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test("linear with warmup: rises from 0, peaks after warmup, reaches 0 at the end", () => {
  const spec = { type: "linear" as const, warmupSteps: 2, totalSteps: 10 };
  const got = Array.from({ length: 11 }, (_, i) => lrMultiplier(spec, i));
  const want = [0, 0.5, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0];
  for (const [i, g] of got.entries()) close(g, want[i]);
});

test("cosine: known values of 0.5·(1+cos(π·progress))", () => {
  const spec = { type: "cosine" as const, warmupSteps: 0, totalSteps: 10 };
  close(lrMultiplier(spec, 0), 1);
  close(lrMultiplier(spec, 2), 0.9045084971874737);
  close(lrMultiplier(spec, 5), 0.5);
  close(lrMultiplier(spec, 8), 0.09549150281252633);
  close(lrMultiplier(spec, 10), 0);
  const warm = { type: "cosine" as const, warmupSteps: 4, totalSteps: 14 };
  close(lrMultiplier(warm, 1), 0.25);
  close(lrMultiplier(warm, 9), 0.5);
});

test("constant and constant_with_warmup", () => {
  close(lrMultiplier({ type: "constant", warmupSteps: 5, totalSteps: 10 }, 0), 1);
  const cw = { type: "constant_with_warmup" as const, warmupSteps: 4, totalSteps: 10 };
  close(lrMultiplier(cw, 1), 0.25);
  close(lrMultiplier(cw, 4), 1);
  close(lrMultiplier(cw, 9), 1);
  close(learningRateAt({ ...cw, peakLr: 3e-4 }, 2), 1.5e-4);
});

test("warmup ratio resolves as ceil(ratio × total); explicit steps win", () => {
  assert.equal(resolveWarmupSteps(0, 0.1, 25), 3);
  assert.equal(resolveWarmupSteps(0, 0.1, 30), 3);
  assert.equal(resolveWarmupSteps(7, 0.1, 30), 7);
  assert.equal(resolveWarmupSteps(0, 0, 30), 0);
});
