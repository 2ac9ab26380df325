/** Run states from the files the trainer leaves, and metrics.jsonl reading. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { RUN_LOCK_FILE } from "../../src/train/run-files.js";
import { listRuns, readMetrics } from "../../src/ui/runs.js";
import { acquireLock } from "../../src/util/lock.js";
import { spawnSft } from "../helpers/spawn-sft.js";
import { STORIES_GGUF, writeInstructionSet } from "../train/instruction-set.js";

test("states: running (live lock), interrupted (lock of a gone process), finished, failed", () => {
  const runs = mkdtempSync(join(tmpdir(), "ui-runs-"));
  const make = (name: string) => {
    mkdirSync(join(runs, name));
    writeFileSync(join(runs, name, "config.yaml"), "model: m.gguf\n");
    return join(runs, name);
  };
  const lock = acquireLock(join(make("live"), RUN_LOCK_FILE), { command: "sft train" });
  // a lock left by a process that has exited (as a signal-killed trainer leaves it)
  const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  writeFileSync(
    join(make("killed"), RUN_LOCK_FILE),
    JSON.stringify({
      pid: Number(gone.stdout),
      start_time: "1",
      boot_id: null,
      host: hostname(),
      command: "sft train",
      since: new Date().toISOString(),
    }),
  );
  mkdirSync(join(make("done"), "adapter"));
  make("crashed");
  mkdirSync(join(runs, "not-a-run"));
  try {
    const states = Object.fromEntries(listRuns(runs).map((r) => [r.id, r.state]));
    assert.deepEqual(states, { crashed: "failed", done: "finished", killed: "interrupted", live: "running" });
  } finally {
    lock.release();
  }
  assert.equal(listRuns(runs).find((r) => r.id === "live")?.state, "failed");
});

test("metrics: complete lines only, bad lines reported with their line number, offsets per line", () => {
  const dir = mkdtempSync(join(tmpdir(), "ui-metrics-"));
  const l1 = `${JSON.stringify({ step: 1, loss: 2 })}\n`;
  const l2 = "not json\n";
  const l3 = `${JSON.stringify({ step: 2, loss: 1.5 })}\n`;
  writeFileSync(join(dir, "metrics.jsonl"), `${l1}${l2}${l3}{"step": 3`);
  const all = readMetrics(dir);
  assert.deepEqual(all.entries, [
    { step: 1, loss: 2 },
    { step: 2, loss: 1.5 },
  ]);
  assert.equal(all.offset, l1.length + l2.length + l3.length);
  assert.deepEqual(all.ends, [l1.length, all.offset]);
  assert.equal(all.errors.length, 1);
  assert.equal(all.errors[0].line, 2);
  const tail = readMetrics(dir, l1.length + l2.length);
  assert.deepEqual(tail.entries, [{ step: 2, loss: 1.5 }]);
  assert.deepEqual(readMetrics(join(dir, "missing")), { entries: [], ends: [], offset: 0, errors: [] });
});

test("a real `sft train` killed by SIGKILL reads as interrupted; a failing one as failed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ui-runs-real-"));
  const runs = join(dir, "runs");
  mkdirSync(runs);
  const data = writeInstructionSet(dir, "qa.json", 24);
  const args = (name: string, extra: string[]) => [
    "train",
    "--model",
    STORIES_GGUF,
    "--data",
    data,
    "--out",
    join(runs, name),
    "--max-steps",
    "500",
    "--logging-steps",
    "1",
    ...extra,
  ];
  const run = spawnSft(args("killed", []), dir);
  const metrics = join(runs, "killed", "metrics.jsonl");
  const end = Date.now() + 120000;
  while (!existsSync(metrics) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  assert.equal(listRuns(runs)[0]?.state, "running");
  run.child.kill("SIGKILL");
  await run.done;
  // a config the trainer rejects after taking the lock: the error exit releases it
  const bad = await spawnSft(args("broken", ["--lora-target-modules", "no_such_module"]), dir).done;
  assert.notEqual(bad.code, 0);
  const states = Object.fromEntries(listRuns(runs).map((r) => [r.id, r.state]));
  assert.deepEqual(states, { broken: "failed", killed: "interrupted" });
});
