import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { acquireLock, type LockHolder, processStartTime } from "../../src/util/lock.js";
import { errorOf } from "../helpers/errors.js";

const holderScript = new URL("./lock-holder.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "sft-lock-"));

interface Holder {
  child: ChildProcess;
  /** resolves with the first stdout line, or with the exit when the process fails */
  ready: Promise<string>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
}

function startHolder(path: string, command = "test-holder"): Holder {
  const child = spawn(process.execPath, ["--import", "tsx", holderScript, path, command], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let onLine: (s: string) => void = () => {};
  const ready = new Promise<string>((r) => {
    onLine = r;
  });
  child.stdout!.on("data", (c) => {
    out += c;
    if (out.includes("\n")) onLine(out.split("\n")[0]);
  });
  child.stderr!.on("data", (c) => {
    err += c;
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>(
    (r) =>
      child.on("close", (code, signal) => {
        onLine(`exited ${code}`);
        r({ code, signal, out, err });
      }),
  );
  return { child, ready, done };
}

test("a second process is refused while the first holds the lock, naming its pid and since when; released on exit", async () => {
  const path = join(dir, "a.lock");
  const first = startHolder(path, "sft train");
  assert.equal(await first.ready, `locked ${first.child.pid}`);
  const holder = JSON.parse(readFileSync(path, "utf8")) as LockHolder;
  assert.equal(holder.pid, first.child.pid);
  assert.equal(holder.start_time, processStartTime(first.child.pid!));

  const second = startHolder(path);
  const refused = await second.done;
  assert.equal(refused.code, 3, refused.err);
  assert.match(
    refused.err,
    new RegExp(`is in use: pid ${first.child.pid} \\(sft train\\) has held it since ${holder.since}`),
  );
  // in this process too
  const e = errorOf(() => acquireLock(path, { command: "x", what: "run directory r" }));
  assert.equal(e.code, "E_LOCKED");
  assert.match(e.message, /^run directory r is in use: pid \d+/);

  first.child.stdin!.end();
  const exit = await first.done;
  assert.equal(exit.code, 0, exit.err);
  assert.equal(existsSync(path), false, "released on exit");
  acquireLock(path, { command: "x" }).release();
  assert.equal(existsSync(path), false);
});

test("a lock left by a process killed with a signal is taken over with a warning; Ctrl-C still stops at once", async () => {
  const path = join(dir, "b.lock");
  const interrupted = startHolder(path);
  assert.match(await interrupted.ready, /^locked/);
  interrupted.child.kill("SIGINT");
  assert.equal((await interrupted.done).signal, "SIGINT", "no handler delays or swallows Ctrl-C");
  assert.equal(existsSync(path), true, "a signal leaves the file");
  const afterInt = startHolder(path);
  assert.match(await afterInt.ready, /^locked/);
  afterInt.child.stdin!.end();
  assert.match((await afterInt.done).err, /took over the stale lock .*: process \d+ no longer exists/);

  const killed = startHolder(path);
  assert.match(await killed.ready, /^locked/);
  killed.child.kill("SIGKILL");
  await killed.done;
  assert.equal(existsSync(path), true, "SIGKILL leaves the file");
  const next = startHolder(path);
  assert.equal(await next.ready, `locked ${next.child.pid}`);
  next.child.stdin!.end();
  const exit = await next.done;
  assert.match(
    exit.err,
    new RegExp(
      `warning: took over the stale lock of .*b\\.lock: process ${killed.child.pid} no longer exists`,
    ),
  );
});

test("a reused pid (same pid, another start time) is stale; another host's lock is never taken", () => {
  const path = join(dir, "c.lock");
  const live = processStartTime(process.ppid) ?? processStartTime(process.pid);
  assert.ok(live, "/proc is readable here");
  const reused: LockHolder = {
    pid: process.ppid,
    start_time: "1",
    boot_id: null,
    host: hostname(),
    command: "sft train",
    since: "2026-01-01T00:00:00.000Z",
  };
  writeFileSync(path, JSON.stringify(reused));
  const warnings: string[] = [];
  const lock = acquireLock(path, { command: "t", warn: (m) => warnings.push(m) });
  assert.match(
    warnings[0],
    new RegExp(`process ${process.ppid} is another process now \\(the pid was reused\\)`),
  );
  assert.equal((JSON.parse(readFileSync(path, "utf8")) as LockHolder).pid, process.pid);
  lock.release();

  writeFileSync(path, JSON.stringify({ ...reused, pid: 999999999, host: "elsewhere" }));
  const e = errorOf(() => acquireLock(path, { command: "t" }));
  assert.match(e.message, /pid 999999999 on host elsewhere \(sft train\) has held it since 2026-01-01/);
  assert.ok(existsSync(path));
});

test("of several processes starting at once exactly one gets the lock", async () => {
  const path = join(dir, "d.lock");
  const racers = Array.from({ length: 4 }, () => startHolder(path));
  const lines = await Promise.all(racers.map((r) => r.ready));
  assert.equal(lines.filter((l) => l.startsWith("locked")).length, 1, lines.join("; "));
  assert.equal(lines.filter((l) => l === "exited 3").length, 3, lines.join("; "));
  for (const r of racers) r.child.stdin!.end();
  await Promise.all(racers.map((r) => r.done));
  assert.equal(existsSync(path), false);
});

test("a folder where the lock cannot be created gives an SftError, not a raw errno", (t) => {
  const ro = join(dir, "ro");
  mkdirSync(ro, { mode: 0o555 });
  // root writes through permissions: give it a read-only file system instead
  const asRoot = process.getuid?.() === 0;
  if (asRoot && spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro]).status !== 0) {
    t.skip("root, and a read-only tmpfs cannot be mounted here");
    return;
  }
  try {
    const e = errorOf(() => acquireLock(join(ro, "x.lock"), { command: "t" }));
    assert.match(e.message, asRoot ? /cannot create the lock file of .*x\.lock: EROFS/ : /: EACCES/);
  } finally {
    if (asRoot) spawnSync("umount", [ro]);
  }
});
