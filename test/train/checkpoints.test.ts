import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  latestCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  removeIncompleteCheckpoints,
  writeCheckpoint,
} from "../../src/train/checkpoints.js";

test("a checkpoint is visible only once complete; a crash mid-write leaves nothing valid", async () => {
  const run = mkdtempSync(join(tmpdir(), "ckpt-"));
  await writeCheckpoint(run, 10, (dir) => writeFileSync(join(dir, "a.bin"), "x"));
  await assert.rejects(
    writeCheckpoint(run, 20, (dir) => {
      writeFileSync(join(dir, "a.bin"), "partial");
      throw new Error("killed mid-write");
    }),
  );
  assert.ok(existsSync(join(run, ".checkpoint-20.tmp")));
  // a directory that got its name but not its marker (e.g. copied by hand) is not valid either
  mkdirSync(join(run, "checkpoint-30"));
  assert.deepEqual(
    listCheckpoints(run).map((c) => c.step),
    [10],
  );
  assert.equal(latestCheckpoint(run)?.step, 10);
  assert.deepEqual(removeIncompleteCheckpoints(run).sort(), [".checkpoint-20.tmp", "checkpoint-30"]);
  assert.deepEqual(readdirSync(run), ["checkpoint-10"]);
});

test("keep-last-K keeps the best checkpoint too", async () => {
  const run = mkdtempSync(join(tmpdir(), "ckpt-"));
  for (const step of [5, 10, 15, 20, 25]) await writeCheckpoint(run, step, () => {});
  pruneCheckpoints(run, 2, 10);
  assert.deepEqual(
    listCheckpoints(run).map((c) => c.step),
    [10, 20, 25],
  );
  pruneCheckpoints(run, undefined, null);
  assert.equal(listCheckpoints(run).length, 3, "no limit: nothing removed");
  pruneCheckpoints(run, 1, null);
  assert.deepEqual(
    listCheckpoints(run).map((c) => c.step),
    [25],
  );
});
