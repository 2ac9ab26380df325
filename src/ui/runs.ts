/**
 * What the dashboard knows of a run directory, read from the files the trainer writes:
 * `config.yaml` (written first), `metrics.jsonl` (one line per log event), `trainer_state.json`,
 * the run lock, and the final `adapter/` or `model/`.
 *
 * State: a lock whose holder is alive → running; a lock left by a process that is gone (killed
 * by a signal, which leaves the lock file) → interrupted; no lock and a final result → finished;
 * no lock and no result (the trainer exited with an error, which releases the lock) → failed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as yamlParse } from "yaml";
import { METRICS_FILE } from "../train/metrics.js";
import { CONFIG_FILE, RUN_LOCK_FILE, STATE_FILE } from "../train/run-files.js";
import { type LockHolder, staleReason } from "../util/lock.js";
import { confinedEntry } from "./paths.js";

export type RunState = "running" | "finished" | "failed" | "interrupted";

export interface RunSummary {
  id: string;
  state: RunState;
  /** the resolved config as written by `sft train`; null when it cannot be read yet */
  config: Record<string, unknown> | null;
  global_step: number | null;
  max_steps: number | null;
  /** the last metrics line */
  last: Record<string, unknown> | null;
  /** ISO time of the last change to metrics.jsonl (or the config) */
  updated: string | null;
}

export interface MetricsRead {
  entries: Record<string, unknown>[];
  /** for each entry, the byte offset just past its line (so a reader can tell what it has seen) */
  ends: number[];
  /** bytes of metrics.jsonl consumed: up to the end of the last complete line */
  offset: number;
  /** lines that are not JSON (line numbers are 1-based) */
  errors: { line: number; message: string }[];
}

export function runState(dir: string): RunState {
  const lockPath = join(dir, RUN_LOCK_FILE);
  if (existsSync(lockPath)) {
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(readFileSync(lockPath, "utf8")) as LockHolder;
    } catch {
      return "running"; // being written this instant (locks are linked complete, so rarely)
    }
    return staleReason(holder) === undefined ? "running" : "interrupted";
  }
  if (existsSync(join(dir, "adapter")) || existsSync(join(dir, "model"))) return "finished";
  return "failed";
}

/** Parses complete lines of metrics.jsonl from byte `from`; a trailing partial line waits. */
export function readMetrics(dir: string, from = 0): MetricsRead {
  const file = join(dir, METRICS_FILE);
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return { entries: [], ends: [], offset: 0, errors: [] };
  }
  const end = buf.lastIndexOf(0x0a) + 1;
  const out: MetricsRead = { entries: [], ends: [], offset: Math.max(end, from), errors: [] };
  if (end <= from) return out;
  const firstLine = from === 0 ? 1 : buf.subarray(0, from).toString("utf8").split("\n").length;
  const lines = buf.subarray(from, end).toString("utf8").split("\n");
  lines.pop();
  let pos = from;
  lines.forEach((l, i) => {
    pos += Buffer.byteLength(l) + 1;
    if (!l.trim()) return;
    try {
      out.entries.push(JSON.parse(l) as Record<string, unknown>);
      out.ends.push(pos);
    } catch (e) {
      out.errors.push({ line: firstLine + i, message: (e as Error).message });
    }
  });
  return out;
}

function readConfig(dir: string): Record<string, unknown> | null {
  try {
    const v = yamlParse(readFileSync(join(dir, CONFIG_FILE), "utf8")) as unknown;
    return v && typeof v === "object" ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function mtime(file: string): string | null {
  try {
    return statSync(file).mtime.toISOString();
  } catch {
    return null;
  }
}

/** A directory is a run once `sft train` has locked it or written its config. */
export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, CONFIG_FILE)) || existsSync(join(dir, RUN_LOCK_FILE));
}

export function summarizeRun(id: string, dir: string): RunSummary {
  const config = readConfig(dir);
  let globalStep: number | null = null;
  let maxSteps: number | null = null;
  try {
    const s = JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as {
      global_step: number;
      max_steps: number;
    };
    globalStep = s.global_step;
    maxSteps = s.max_steps;
  } catch {
    // no state yet: the run has not finished a step (or is not a run of this trainer)
  }
  const metrics = readMetrics(dir);
  const last = metrics.entries.at(-1) ?? null;
  if (last && typeof last.step === "number" && (globalStep === null || last.step > globalStep))
    globalStep = last.step;
  if (maxSteps === null && config && typeof config.max_steps === "number" && config.max_steps > 0)
    maxSteps = config.max_steps;
  return {
    id,
    state: runState(dir),
    config,
    global_step: globalStep,
    max_steps: maxSteps,
    last,
    updated: mtime(join(dir, METRICS_FILE)) ?? mtime(join(dir, CONFIG_FILE)),
  };
}

/** Every run directory directly under `runsDir` (symlinks that lead outside are left out). */
export function listRuns(runsDir: string): RunSummary[] {
  let names: string[];
  try {
    names = readdirSync(runsDir);
  } catch {
    return [];
  }
  const out: RunSummary[] = [];
  for (const name of names.sort()) {
    const dir = confinedEntry(runsDir, name);
    if (!dir || !statSync(dir).isDirectory() || !isRunDir(dir)) continue;
    out.push(summarizeRun(name, dir));
  }
  return out;
}
