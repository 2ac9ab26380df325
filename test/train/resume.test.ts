/**
 * A run killed with SIGKILL and resumed with `sft train --resume` ends with the same weights
 * and loss as a run never interrupted.
 *
 * Tolerance: the resumed run replays exactly the computation the uninterrupted one does
 * (same data order from (seed, epoch), same dropout seeds from (seed, step, micro-batch),
 * weights and AdamW moments restored bit-for-bit from F32 safetensors, the schedule from
 * the step), so the weights are expected to be identical. 1e-6 absolute leaves room only
 * for a thread pool that splits a reduction differently in another process (a few float32
 * ulps at these magnitudes); any real fault (one micro-batch skipped or repeated, a lost
 * moment, a shifted LR) moves weights by about the learning rate, 1e-2.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readPeftAdapter } from "../../src/engine/checkpoint/peft.js";
import { repoRoot, STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

const SFT = join(repoRoot, "bin", "sft.js");

function args(data: string, out: string): string[] {
  return [
    "train",
    "--model",
    STORIES_GGUF,
    "--data",
    data,
    "--out",
    out,
    "--max-steps",
    "40",
    "--batch-size",
    "2",
    "--grad-accum",
    "2",
    "--lr",
    "1e-2",
    "--lr-scheduler-type",
    "cosine",
    "--warmup-steps",
    "3",
    "--save-steps",
    "6",
    "--logging-steps",
    "1",
    "--lora-r",
    "4",
    "--lora-dropout",
    "0.1",
    "--seed",
    "11",
  ];
}

function adapterChecksum(dir: string): { tensors: Map<string, Float32Array>; checksum: number } {
  const adapter = readPeftAdapter(dir);
  const tensors = new Map<string, Float32Array>();
  let checksum = 0;
  for (const name of [...adapter.tensors.keys()].sort()) {
    const data = adapter.tensors.get(name)!.data;
    tensors.set(name, data);
    for (let i = 0; i < data.length; i++) checksum += data[i] * ((i % 7) + 1);
  }
  return { tensors, checksum };
}

test("SIGKILL mid-run, then --resume: same final weights and loss as an uninterrupted run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-resume-"));
  const data = writeInstructionSet(dir, "train.json", 30);
  const killedDir = join(dir, "killed");
  const fullDir = join(dir, "uninterrupted");

  // 1. start a run and kill it hard right after its checkpoint at step 12 is announced
  const child = spawn(process.execPath, [SFT, ...args(data, killedDir)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let seen = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const killedAt = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      seen += d.toString();
      if (seen.includes("checkpoint-12\n")) {
        child.kill("SIGKILL");
        resolve(seen);
      }
    });
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL")
        reject(new Error(`run ended (${code}) before it was killed:\n${seen}\n${stderr}`));
    });
  });
  await new Promise((r) => child.once("close", r));
  assert.ok(killedAt.includes("checkpoint-12"));
  assert.ok(!existsSync(join(killedDir, "adapter")), "the killed run did not finish");
  assert.ok(!existsSync(join(killedDir, "checkpoint-36")));

  // 2. resume it, and 3. run the same config without interruption
  const resumed = spawnSync(process.execPath, [SFT, "train", "--resume", killedDir], { encoding: "utf8" });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming from .*checkpoint-(12|18)/);
  const full = spawnSync(process.execPath, [SFT, ...args(data, fullDir), "--quiet"], { encoding: "utf8" });
  assert.equal(full.status, 0, full.stderr);

  const a = adapterChecksum(join(killedDir, "adapter"));
  const b = adapterChecksum(join(fullDir, "adapter"));
  assert.ok(
    Math.abs(a.checksum - b.checksum) <= 1e-6 * Math.max(1, Math.abs(b.checksum)),
    `${a.checksum} vs ${b.checksum}`,
  );
  let maxDiff = 0;
  for (const [name, t] of b.tensors) {
    const u = a.tensors.get(name)!;
    for (let i = 0; i < t.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t[i] - u[i]));
  }
  assert.ok(maxDiff <= 1e-6, `max weight difference ${maxDiff}`);

  const stateA = JSON.parse(readFileSync(join(killedDir, "trainer_state.json"), "utf8"));
  const stateB = JSON.parse(readFileSync(join(fullDir, "trainer_state.json"), "utf8"));
  assert.equal(stateA.global_step, 40);
  const lossA = stateA.log_history.map((e: { loss?: number }) => e.loss).filter(Boolean);
  const lossB = stateB.log_history.map((e: { loss?: number }) => e.loss).filter(Boolean);
  assert.equal(lossA.length, 40, "one training log entry per step, none doubled by the resume");
  for (const [i, l] of (lossB as number[]).entries()) {
    assert.ok(Math.abs(l - lossA[i]) <= 1e-6 * l, `loss at step ${i + 1}`);
  }
  const metricSteps = readFileSync(join(killedDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).step);
  assert.deepEqual(
    metricSteps,
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
});
