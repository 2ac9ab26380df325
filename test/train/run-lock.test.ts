/**
 * One `sft train` per run directory: a second real process into a held directory is
 * refused with the holder's pid and since when, and the first run's files stay its own.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { RUN_LOCK_FILE } from "../../src/train/index.js";
import { spawnSft } from "../helpers/spawn-sft.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

/** Resolves once the child's stdout has shown `text`; rejects if it exits first. */
function waitFor(child: ChildProcess, text: string): Promise<string> {
  let seen = "";
  return new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) resolve(seen);
    });
    child.on("exit", (code) => reject(new Error(`ended (${code}) before printing ${text}:\n${seen}`)));
  });
}

test("a second sft train (and a --resume) into a run directory in use is refused, naming the holder", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-lock-"));
  const data = writeInstructionSet(dir, "train.json", 16);
  const out = join(dir, "run");
  const trainArgs = (extra: string[] = []) => [
    "train",
    "--model",
    STORIES_GGUF,
    "--data",
    data,
    "--out",
    out,
    "--max-steps",
    "30",
    "--batch-size",
    "2",
    "--lora-r",
    "4",
    "--logging-steps",
    "1",
    "--save-steps",
    "10",
    ...extra,
  ];
  const first = spawnSft(trainArgs(), dir);
  const seen = await waitFor(first.child, "training ");
  const holder = JSON.parse(readFileSync(join(out, RUN_LOCK_FILE), "utf8")) as { pid: number; since: string };
  assert.equal(holder.pid, first.child.pid);

  // the first run is paused (SIGSTOP) while the others start, so it surely still holds the directory
  first.child.kill("SIGSTOP");
  const [second, resume] = await Promise.all([
    spawnSft(trainArgs(["--lr", "1e-3"]), dir).done,
    spawnSft(["train", "--resume", out], dir).done,
  ]);
  assert.equal(second.code, 1, `${second.out}\n${second.err}\n${seen}`);
  assert.match(
    second.err,
    new RegExp(
      `run directory .*run is in use: pid ${first.child.pid} \\(sft train\\) has held it since ${holder.since}`,
    ),
  );
  assert.equal(resume.code, 1, resume.err);
  assert.match(resume.err, new RegExp(`is in use: pid ${first.child.pid} \\(sft train\\)`));

  first.child.kill("SIGCONT");
  const done = await first.done;
  assert.equal(done.code, 0, done.err);
  assert.equal(existsSync(join(out, RUN_LOCK_FILE)), false, "released when the run ends");
  const steps = readFileSync(join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { step: number }).step);
  assert.deepEqual(
    steps,
    Array.from({ length: 30 }, (_, i) => i + 1),
    "only the first run's metrics",
  );
  assert.doesNotMatch(readFileSync(join(out, "config.yaml"), "utf8"), /learning_rate: 0\.001/);
});

test("Ctrl-C stops sft train at once; the next run into the directory takes over the stale lock with a warning", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-lock-int-"));
  const data = writeInstructionSet(dir, "train.json", 16);
  const out = join(dir, "run");
  const long = [
    "--model",
    STORIES_GGUF,
    "--data",
    data,
    "--out",
    out,
    "--max-steps",
    "100000",
    "--lora-r",
    "4",
  ];
  const first = spawnSft(["train", ...long, "--batch-size", "2", "--save-steps", "0"], dir);
  await waitFor(first.child, "training ");
  first.child.kill("SIGINT");
  const started = Date.now();
  const stopped = await first.done;
  assert.equal(stopped.signal, "SIGINT", `${stopped.code} ${stopped.err}`);
  assert.ok(Date.now() - started < 5000, `stopped ${Date.now() - started} ms after Ctrl-C`);
  assert.ok(existsSync(join(out, RUN_LOCK_FILE)), "a signal leaves the lock file");

  const resumed = spawnSft(["train", "--resume", out], dir);
  let err = "";
  resumed.child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  await waitFor(resumed.child, "no complete checkpoint");
  resumed.child.kill("SIGKILL");
  await resumed.done;
  assert.match(
    err,
    new RegExp(
      `warning: took over the stale lock of run directory .*run: process ${first.child.pid} no longer exists \\(pid ${first.child.pid} \\(sft train\\)`,
    ),
  );
});
