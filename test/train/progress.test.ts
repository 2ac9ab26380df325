import assert from "node:assert/strict";
import { test } from "node:test";
import { formatSummary, ProgressReporter } from "../../src/train/progress.js";

const sample = {
  step: 5,
  totalSteps: 20,
  epoch: 0.25,
  loss: 2.5,
  learningRate: 1e-4,
  tokensPerSecond: 1234,
  elapsedSeconds: 10,
  stepsThisProcess: 5,
};

test("plain lines when not a TTY, only on logging steps; ETA from the rate", () => {
  let out = "";
  const p = new ProgressReporter({ write: (s: string) => (out += s), isTTY: false });
  p.update(sample, false);
  assert.equal(out, "");
  p.update(sample, true);
  assert.equal(out, "step 5/20  epoch 0.25  loss 2.5000  lr 1.00e-4  tok/s 1234  eta 00:30\n");
});

test("a TTY gets a bar redrawn in place", () => {
  let out = "";
  const p = new ProgressReporter({ write: (s: string) => (out += s), isTTY: true, columns: 120 });
  p.update(sample, false);
  assert.ok(out.startsWith("\r["));
  assert.ok(out.includes("step 5/20"));
  assert.ok(!out.includes("\n"));
});

test("the summary names losses, the best checkpoint and the result", () => {
  const s = formatSummary({
    runDir: "/r",
    steps: 20,
    epochs: 1,
    trainedTokens: 5000,
    seconds: 65,
    firstLoss: 3,
    finalLoss: 1.5,
    finalEvalLoss: 1.7,
    bestEvalLoss: 1.6,
    bestCheckpoint: "/r/checkpoint-10",
    stoppedEarly: false,
    result: "/r/adapter",
  });
  assert.match(s, /20 steps/);
  assert.match(s, /3\.0000 → 1\.5000/);
  assert.match(s, /best checkpoint: \/r\/checkpoint-10/);
  assert.match(s, /01:05/);
});
