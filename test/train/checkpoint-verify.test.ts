/**
 * Checkpoint checksums: every checkpoint carries `checksums.sha256` (checked here by the
 * system's own sha256sum), damage is found, and `sft train --resume` falls back from a
 * corrupt newest checkpoint to the previous good one, ending with the same weights as the
 * run that was never damaged.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readPeftAdapter } from "../../src/engine/checkpoint/peft.js";
import { SftError } from "../../src/errors.js";
import {
  CHECKSUMS_FILE,
  checkpointProblem,
  newestVerifiedCheckpoint,
  writeCheckpoint,
} from "../../src/train/checkpoints.js";
import { resumeTraining, train } from "../../src/train/index.js";
import { repoRoot, STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

const SFT = join(repoRoot, "bin", "sft.js");

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] ^= 0x01;
  writeFileSync(file, bytes);
}

test("each checkpoint holds a sha256 manifest of its files that sha256sum -c accepts; damage is named", async (t) => {
  const run = mkdtempSync(join(tmpdir(), "ckpt-sums-"));
  const dir = await writeCheckpoint(run, 3, (d) => {
    writeFileSync(join(d, "a.bin"), Buffer.from([1, 2, 3]));
    writeFileSync(join(d, "b.json"), "{}\n");
  });
  assert.deepEqual(readFileSync(join(dir, CHECKSUMS_FILE), "utf8").trim().split("\n").length, 2);
  const check = spawnSync("sha256sum", ["-c", CHECKSUMS_FILE], { cwd: dir, encoding: "utf8" });
  if (check.error)
    t.diagnostic(`sha256sum not available (${check.error.message}); manifest checked by sftkit only`);
  else assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.equal(checkpointProblem(dir), undefined);

  flipByte(join(dir, "a.bin"), 1);
  assert.equal(checkpointProblem(dir), `a.bin does not match its sha256 in ${CHECKSUMS_FILE}`);
  rmSync(join(dir, "a.bin"));
  assert.equal(checkpointProblem(dir), "a.bin is missing");
});

test("a run whose every checkpoint is corrupt is not resumed from anything", async () => {
  const run = mkdtempSync(join(tmpdir(), "ckpt-all-bad-"));
  for (const step of [2, 4]) {
    const dir = await writeCheckpoint(run, step, (d) => writeFileSync(join(d, "x"), "x"));
    writeFileSync(join(dir, "x"), "y");
  }
  const found = newestVerifiedCheckpoint(run);
  assert.equal(found.checkpoint, undefined);
  assert.deepEqual(
    found.corrupt.map((c) => [c.step, c.problem]),
    [
      [4, `x does not match its sha256 in ${CHECKSUMS_FILE}`],
      [2, `x does not match its sha256 in ${CHECKSUMS_FILE}`],
    ],
  );
  // moved aside, not deleted
  assert.deepEqual(
    readdirSync(run)
      .map((n) => n.replace(/-\d{8}T\d+Z$/, ""))
      .sort(),
    ["checkpoint-2.corrupt", "checkpoint-4.corrupt"],
  );
});

test("--resume with a corrupt newest checkpoint falls back to the previous one with a warning; same final weights", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ckpt-fallback-"));
  const data = writeInstructionSet(dir, "train.json", 12);
  const out = join(dir, "run");
  await train(
    {
      model: STORIES_GGUF,
      data,
      output_dir: out,
      max_steps: 12,
      save_steps: 6,
      per_device_train_batch_size: 2,
      learning_rate: 1e-2,
      logging_steps: 1,
      lora: { r: 4, dropout: 0.1 },
      seed: 5,
    } as Parameters<typeof train>[0],
    { quiet: true },
  );
  const intact = readPeftAdapter(join(out, "adapter"));
  // damage one weight of the newest checkpoint (its marker stays: it still looks complete)
  const trainable = join(out, "checkpoint-12", "trainable.safetensors");
  flipByte(trainable, readFileSync(trainable).length - 3);

  const resumed = spawnSync(process.execPath, [SFT, "train", "--resume", out], { encoding: "utf8" });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(
    resumed.stderr,
    /warning: checkpoint-12 is corrupt \(trainable\.safetensors does not match its sha256 in checksums\.sha256\); moved it to .*checkpoint-12\.corrupt-\S+ and resume from checkpoint-6/,
  );
  assert.match(resumed.stdout, /resuming from .*checkpoint-6 \(step 6\/12\)/);
  assert.ok(existsSync(join(out, "checkpoint-12")), "step 12 saved again by the resumed run");
  assert.equal(checkpointProblem(join(out, "checkpoint-12")), undefined);
  const again = readPeftAdapter(join(out, "adapter"));
  for (const [name, t] of intact.tensors) {
    const u = again.tensors.get(name)!.data;
    let maxDiff = 0;
    for (let i = 0; i < t.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t.data[i] - u[i]));
    assert.ok(maxDiff <= 1e-6, `${name}: max difference ${maxDiff}`);
  }

  // every checkpoint damaged: a clear error, nothing loaded
  for (const step of [6, 12]) flipByte(join(out, `checkpoint-${step}`, "optimizer.safetensors"), 100);
  await assert.rejects(
    resumeTraining(out, { quiet: true }),
    (e: unknown) =>
      e instanceof SftError &&
      e.code === "E_CHECKPOINT" &&
      /no checkpoint of the run passes its checksums/.test(e.message),
  );
});
