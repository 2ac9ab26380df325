/**
 * Checkpoint directories that are valid only when complete. A checkpoint is written into
 * `.checkpoint-<step>.tmp`, every file is fsynced, a completion marker is written last, and
 * the directory is renamed to `checkpoint-<step>`. A crash at any point leaves either a
 * `.tmp` directory (ignored and cleaned up) or a directory without the marker (ignored), never
 * one that looks valid but is not.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "../util/atomic.js";

export const CHECKPOINT_MARKER = "CHECKPOINT_COMPLETE";
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

/**
 * Writes checkpoint `step`: `fill(tmpDir)` writes the contents, then the marker, fsync, rename.
 * An existing checkpoint of the same step is replaced.
 */
export async function writeCheckpoint(
  runDir: string,
  step: number,
  fill: (dir: string) => void | Promise<void>,
): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const tmp = join(runDir, `.checkpoint-${step}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await fill(tmp);
  writeFileAtomicSync(
    join(tmp, CHECKPOINT_MARKER),
    `${JSON.stringify({ step, time: new Date().toISOString() })}\n`,
  );
  fsyncTree(tmp);
  const final = checkpointDir(runDir, step);
  if (existsSync(final)) rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  fsyncPath(runDir);
  return final;
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
