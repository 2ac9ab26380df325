/**
 * Checkpoint directories that are valid only when complete. A checkpoint is written into
 * `.checkpoint-<step>.tmp`, a checksum manifest (`checksums.sha256`, the format
 * `sha256sum -c` reads) is written over every file, everything is fsynced, a completion
 * marker is written last, and the directory is renamed to `checkpoint-<step>`. A crash at
 * any point leaves either a `.tmp` directory (ignored and cleaned up) or a directory without
 * the marker (ignored), never one that looks valid but is not; a complete checkpoint damaged
 * later (disk fault, a hand edit) fails its checksums, and resuming falls back to the newest
 * one that passes.
 *
 * A write error (disk full, quota, I/O) removes the partial directory and becomes an
 * SftError saying which file failed, that the earlier checkpoints are intact, and how much
 * space a checkpoint takes.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
} from "node:fs";
import { basename, join, relative } from "node:path";
import { SftError } from "../errors.js";
import { writeFileAtomicSync } from "../util/atomic.js";

export const CHECKPOINT_MARKER = "CHECKPOINT_COMPLETE";
export const CHECKSUMS_FILE = "checksums.sha256";
const CHECKPOINT_RE = /^checkpoint-(\d+)$/;

export interface CheckpointRef {
  step: number;
  dir: string;
}

function fsyncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // some platforms refuse fsync on directories; the file fsyncs are what matter there
  } finally {
    closeSync(fd);
  }
}

function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) fsyncTree(p);
    else fsyncPath(p);
  }
  fsyncPath(dir);
}

export function checkpointDir(runDir: string, step: number): string {
  return join(runDir, `checkpoint-${step}`);
}

/** Files of a directory tree, relative to it, sorted. */
function filesUnder(dir: string, root = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, root));
    else out.push(relative(root, p));
  }
  return out.sort();
}

function sha256File(path: string): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 22);
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** Bytes of all files of a directory tree. */
export function treeBytes(dir: string): number {
  return filesUnder(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

export interface WriteCheckpointOptions {
  /** about how many bytes the checkpoint takes, for the message when the disk is full */
  expectedBytes?: number;
}

/** Tells the writer which file `fill` is writing now (named in the error if a write fails). */
export type WritingFile = (name: string) => void;

/**
 * Writes checkpoint `step`: `fill(tmpDir, writing)` writes the contents, then the checksum
 * manifest, the marker, fsync, rename. An existing checkpoint of the same step is replaced.
 */
export async function writeCheckpoint(
  runDir: string,
  step: number,
  fill: (dir: string, writing: WritingFile) => void | Promise<void>,
  opts: WriteCheckpointOptions = {},
): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const tmp = join(runDir, `.checkpoint-${step}.tmp`);
  const final = checkpointDir(runDir, step);
  let current = "the checkpoint directory";
  const writing: WritingFile = (name) => {
    current = name;
  };
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await fill(tmp, writing);
    writing(CHECKSUMS_FILE);
    const sums = filesUnder(tmp).map((f) => `${sha256File(join(tmp, f))}  ${f}\n`);
    writeFileAtomicSync(join(tmp, CHECKSUMS_FILE), sums.join(""));
    writing(CHECKPOINT_MARKER);
    writeFileAtomicSync(
      join(tmp, CHECKPOINT_MARKER),
      `${JSON.stringify({ step, time: new Date().toISOString(), checksums: CHECKSUMS_FILE })}\n`,
    );
    writing("the checkpoint directory (fsync and rename)");
    fsyncTree(tmp);
    if (existsSync(final)) rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    fsyncPath(runDir);
  } catch (e) {
    if (!isWriteError(e)) throw e; // a crash-like failure: the .tmp stays for the resume to clean
    const written = existsSync(tmp) ? treeBytes(tmp) : 0;
    rmSync(tmp, { recursive: true, force: true }); // give the space back
    throw checkpointWriteError(e, { runDir, step, file: current, written, expected: opts.expectedBytes });
  }
  return final;
}

/** An operating-system error of a file operation (ENOSPC, EDQUOT, EIO, EROFS, EACCES, …). */
function isWriteError(e: unknown): e is NodeJS.ErrnoException {
  const err = e as NodeJS.ErrnoException;
  return e instanceof Error && typeof err.code === "string" && typeof err.syscall === "string";
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

function checkpointWriteError(
  e: NodeJS.ErrnoException,
  at: { runDir: string; step: number; file: string; written: number; expected: number | undefined },
): SftError {
  const name = basename(checkpointDir(at.runDir, at.step));
  const earlier = listCheckpoints(at.runDir).filter((c) => c.step !== at.step);
  const newest = earlier[earlier.length - 1];
  const newestOk = newest !== undefined && checkpointProblem(newest.dir) === undefined;
  const need = newest ? treeBytes(newest.dir) : Math.max(at.expected ?? 0, at.written);
  const free = freeBytes(at.runDir);
  const what =
    e.code === "ENOSPC"
      ? "no space left on the device"
      : e.code === "EDQUOT"
        ? "disk quota exceeded"
        : e.message;
  const intact = newest
    ? `the earlier checkpoints are intact (newest: ${basename(newest.dir)}${newestOk ? ", checksums verified" : ""})`
    : "no earlier checkpoint exists";
  return new SftError(`cannot write ${name} (${at.file}): ${what} (${e.code})`, {
    where: { file: join(at.runDir, name) },
    hint:
      `${intact}; the partial ${name} was removed. A checkpoint of this run takes about ${megabytes(need)}` +
      (free !== undefined ? ` and the device of ${at.runDir} has ${megabytes(free)} free` : "") +
      `: make room, then continue with \`sft train --resume ${at.runDir}\``,
    code: "E_CHECKPOINT_WRITE",
    cause: e,
  });
}

/**
 * What is wrong with a complete checkpoint, or undefined when every file matches its
 * checksum. Checkpoints written before checksums existed (no manifest named in the marker)
 * are accepted as they are.
 */
export function checkpointProblem(dir: string): string | undefined {
  let marker: { checksums?: string };
  try {
    marker = JSON.parse(readFileSync(join(dir, CHECKPOINT_MARKER), "utf8")) as { checksums?: string };
  } catch {
    return `${CHECKPOINT_MARKER} is missing or unreadable`;
  }
  if (marker.checksums === undefined) return undefined;
  let manifest: string;
  try {
    manifest = readFileSync(join(dir, marker.checksums), "utf8");
  } catch {
    return `${marker.checksums} is missing`;
  }
  for (const [i, line] of manifest.split("\n").entries()) {
    if (line === "") continue;
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m) return `${marker.checksums}:${i + 1} is not a checksum line`;
    const file = join(dir, m[2]);
    if (!existsSync(file)) return `${m[2]} is missing`;
    if (sha256File(file) !== m[1]) return `${m[2]} does not match its sha256 in ${marker.checksums}`;
  }
  return undefined;
}

export interface CorruptCheckpoint {
  step: number;
  problem: string;
  /** where it was moved, out of the way of listing and pruning (kept for inspection) */
  movedTo: string;
}

/**
 * The newest checkpoint whose checksums verify. Newer ones that fail are moved aside to
 * `checkpoint-<step>.corrupt-<time>` (never deleted) and reported.
 */
export function newestVerifiedCheckpoint(runDir: string): {
  checkpoint: CheckpointRef | undefined;
  corrupt: CorruptCheckpoint[];
} {
  const corrupt: CorruptCheckpoint[] = [];
  const all = listCheckpoints(runDir);
  for (let i = all.length - 1; i >= 0; i--) {
    const problem = checkpointProblem(all[i].dir);
    if (problem === undefined) return { checkpoint: all[i], corrupt };
    const movedTo = `${all[i].dir}.corrupt-${new Date().toISOString().replace(/[-:.]/g, "")}`;
    renameSync(all[i].dir, movedTo);
    corrupt.push({ step: all[i].step, problem, movedTo });
  }
  return { checkpoint: undefined, corrupt };
}

export function isValidCheckpoint(dir: string): boolean {
  try {
    const marker = JSON.parse(readFileSync(join(dir, CHECKPOINT_MARKER), "utf8")) as { step?: number };
    return typeof marker.step === "number";
  } catch {
    return false;
  }
}

/** Valid checkpoints of a run, oldest first. */
export function listCheckpoints(runDir: string): CheckpointRef[] {
  if (!existsSync(runDir)) return [];
  const out: CheckpointRef[] = [];
  for (const name of readdirSync(runDir)) {
    const m = CHECKPOINT_RE.exec(name);
    if (!m) continue;
    const dir = join(runDir, name);
    if (isValidCheckpoint(dir)) out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(runDir: string): CheckpointRef | undefined {
  const all = listCheckpoints(runDir);
  return all[all.length - 1];
}

/** Removes `.tmp` leftovers and marker-less checkpoint directories of an interrupted run. */
export function removeIncompleteCheckpoints(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(runDir)) {
    const dir = join(runDir, name);
    const incomplete =
      (/^\.checkpoint-\d+\.tmp$/.test(name) || (CHECKPOINT_RE.test(name) && !isValidCheckpoint(dir))) &&
      statSync(dir).isDirectory();
    if (incomplete) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Keeps the newest `keepLast` checkpoints plus the best one; deletes the rest. Returns deleted dirs. */
export function pruneCheckpoints(
  runDir: string,
  keepLast: number | undefined,
  bestStep: number | null,
): string[] {
  if (keepLast === undefined) return [];
  const all = listCheckpoints(runDir);
  const keep = new Set(all.slice(Math.max(0, all.length - keepLast)).map((c) => c.step));
  if (bestStep !== null) keep.add(bestStep);
  const removed: string[] = [];
  for (const c of all) {
    if (keep.has(c.step)) continue;
    rmSync(c.dir, { recursive: true, force: true });
    removed.push(c.dir);
  }
  return removed;
}
