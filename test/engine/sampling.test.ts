import assert from "node:assert/strict";
import { test } from "node:test";
import { applyRepetitionPenalty, argmax, sampleNextToken } from "../../src/engine/sampling.js";
import { Rng } from "../../src/util/rng.js";

test("greedy picks the argmax whatever the seed", () => {
  const logits = Float32Array.from([0.1, 2.5, -1, 2.4]);
  for (const seed of [1, 2, 3])
    assert.equal(sampleNextToken(logits.slice(), [], { temperature: 0 }, new Rng(seed)), 1);
});

test("repetition penalty divides positive and multiplies negative logits of seen tokens", () => {
  const logits = Float32Array.from([2, -2, 1]);
  applyRepetitionPenalty(logits, [0, 1, 1], 2);
  assert.deepEqual([...logits], [1, -4, 1]);
});

test("top-k 1 is greedy even at high temperature", () => {
  const logits = Float32Array.from([0, 3, 1, 2]);
  for (let s = 0; s < 20; s++)
    assert.equal(sampleNextToken(logits.slice(), [], { temperature: 5, topK: 1 }, new Rng(s)), 1);
});

test("top-p keeps only the nucleus", () => {
  // probabilities ~ [0.64, 0.24, 0.09, 0.03]: top_p 0.8 keeps tokens 0 and 1 only
  const logits = Float32Array.from([3, 2, 1, 0]);
  const seen = new Set<number>();
  const rng = new Rng(11);
  for (let s = 0; s < 400; s++)
    seen.add(sampleNextToken(logits.slice(), [], { temperature: 1, topP: 0.8 }, rng));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test("sampling at temperature 1 follows the softmax distribution", () => {
  const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  const counts = [0, 0, 0];
  const rng = new Rng(5);
  const n = 20000;
  for (let s = 0; s < n; s++) counts[sampleNextToken(logits.slice(), [], { temperature: 1 }, rng)]++;
  // 4 standard deviations of a binomial at n = 20000 is under 0.015
  assert.ok(Math.abs(counts[0] / n - 0.5) < 0.015, `${counts}`);
  assert.ok(Math.abs(counts[1] / n - 0.3) < 0.015, `${counts}`);
  assert.ok(Math.abs(counts[2] / n - 0.2) < 0.015, `${counts}`);
});

test("argmax returns the first maximum", () => {
  assert.equal(argmax(Float32Array.from([1, 3, 3])), 1);
});
