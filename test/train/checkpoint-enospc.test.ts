/**
 * A disk that fills up while a checkpoint is written, for real: the run directory is on a
 * 5 MB tmpfs, one full fine-tuning checkpoint of stories260K takes 3.5 MB, so the second
 * one hits ENOSPC. The run stops with an SftError naming the file, the intact earlier
 * checkpoint and the space a checkpoint needs; once the device has room, --resume continues
 * from that checkpoint. Needs root (to mount the tmpfs); skipped with a message otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SftError } from "../../src/errors.js";
import { checkpointProblem } from "../../src/train/checkpoints.js";
import { resumeTraining, train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

function mountTmpfs(dir: string, size: string): string | undefined {
  if (process.platform !== "linux") return "tmpfs mounts are Linux only";
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { encoding: "utf8" });
  return r.status === 0 ? undefined : `mount -t tmpfs failed: ${(r.stderr || r.error?.message || "").trim()}`;
}

test("ENOSPC while checkpointing: a clear error, the earlier checkpoint intact, resume once there is room", async (t) => {
  const base = mkdtempSync(join(tmpdir(), "ckpt-enospc-"));
  const data = writeInstructionSet(base, "train.json", 8);
  const disk = join(base, "disk");
  mkdirSync(disk);
  const why = mountTmpfs(disk, "5m");
  if (why) {
    t.skip(`real ENOSPC test skipped: ${why}`);
    return;
  }
  try {
    const out = join(disk, "run");
    const config = {
      model: STORIES_GGUF,
      data,
      output_dir: out,
      finetuning_type: "full",
      max_steps: 4,
      save_steps: 2,
      per_device_train_batch_size: 2,
      logging_steps: 1,
      tensorboard: false,
    } as Parameters<typeof train>[0];
    let error: unknown;
    try {
      await train(config, { quiet: true });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof SftError, `expected an SftError, got ${String(error)}`);
    assert.equal(error.code, "E_CHECKPOINT_WRITE");
    assert.match(
      error.message,
      /^cannot write checkpoint-4 \(optimizer\.safetensors\): no space left on the device \(ENOSPC\)$/,
    );
    assert.match(
      error.hint ?? "",
      /earlier checkpoints are intact \(newest: checkpoint-2, checksums verified\)/,
    );
    assert.match(error.hint ?? "", /takes about 3\.5 MB and the device of .* has [\d.]+ MB free/);
    assert.match(error.hint ?? "", /sft train --resume /);
    assert.equal(checkpointProblem(join(out, "checkpoint-2")), undefined, "checkpoint-2 verifies");
    assert.deepEqual(
      readdirSync(out).filter((n) => n.includes("checkpoint")),
      ["checkpoint-2"],
      "the partial checkpoint-4 was removed",
    );
    assert.deepEqual(
      readdirSync(join(out, "checkpoint-2")).filter((n) => n.includes(".tmp")),
      [],
    );

    // room again: the run continues from checkpoint-2 to the end
    const grown = spawnSync("mount", ["-o", "remount,size=32m", disk], { encoding: "utf8" });
    assert.equal(grown.status, 0, grown.stderr);
    const result = await resumeTraining(out, { quiet: true });
    assert.equal(result.globalStep, 4);
    assert.ok(existsSync(join(out, "model", "model.safetensors")));
    assert.equal(checkpointProblem(join(out, "checkpoint-4")), undefined);
  } finally {
    spawnSync("umount", [disk]);
    rmSync(base, { recursive: true, force: true });
  }
});
