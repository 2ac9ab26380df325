/**
 * Watches the runs folder and every run's metrics.jsonl (fs.watch, then reads only the bytes
 * past the last offset) and tells listeners of new metric lines, runs appearing and state
 * changes. A state can change with no file event (a trainer killed by a signal leaves its
 * lock), so states are also re-read on a slow timer here, on the server, never by the page.
 */
import { type FSWatcher, statSync, watch } from "node:fs";
import { join } from "node:path";
import { METRICS_FILE } from "../train/metrics.js";
import { confinedEntry } from "./paths.js";
import { listRuns, type RunState, type RunSummary, readMetrics } from "./runs.js";

export type WatchEvent =
  | { type: "runs"; runs: RunSummary[] }
  | { type: "metric"; run: string; offset: number; entry: Record<string, unknown> }
  /** metrics.jsonl got shorter (a resume drops the lines after its checkpoint): read it again */
  | { type: "reset"; run: string };

const STATE_RECHECK_MS = 2000;

export class RunsWatcher {
  private readonly listeners = new Set<(e: WatchEvent) => void>();
  private readonly offsets = new Map<string, number>();
  private readonly watchers = new Map<string, FSWatcher>();
  private states = new Map<string, RunState>();
  private rootWatcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly runsDir: string) {}

  start(): void {
    this.rootWatcher = watch(this.runsDir, () => this.rescan());
    this.timer = setInterval(() => this.rescan(), STATE_RECHECK_MS);
    this.timer.unref();
    this.rescan(false);
  }

  subscribe(fn: (e: WatchEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.rootWatcher?.close();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    if (this.timer) clearInterval(this.timer);
  }

  private emit(e: WatchEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  /** Picks up new runs and state changes; announces the list when anything changed. */
  private rescan(announce = true): void {
    const runs = listRuns(this.runsDir);
    let changed = runs.length !== this.states.size;
    const next = new Map<string, RunState>();
    for (const r of runs) {
      next.set(r.id, r.state);
      if (this.states.get(r.id) !== r.state) changed = true;
      if (!this.watchers.has(r.id)) this.follow(r.id);
    }
    this.states = next;
    if (changed && announce) this.emit({ type: "runs", runs });
  }

  private follow(id: string): void {
    const dir = confinedEntry(this.runsDir, id);
    if (!dir) return;
    this.offsets.set(id, readMetrics(dir).offset);
    try {
      // a directory watch sees metrics.jsonl created, appended to and rewritten
      const w = watch(dir, (_event, name) => {
        if (name === METRICS_FILE || name === null) this.tail(id, dir);
        else this.rescan();
      });
      this.watchers.set(id, w);
    } catch {
      // the directory went away between listing and watching
    }
  }

  private tail(id: string, dir: string): void {
    const from = this.offsets.get(id) ?? 0;
    let size = 0;
    try {
      size = statSync(join(dir, METRICS_FILE)).size;
    } catch {
      return;
    }
    if (size < from) {
      this.offsets.set(id, readMetrics(dir).offset);
      this.emit({ type: "reset", run: id });
      return;
    }
    const read = readMetrics(dir, from);
    if (read.offset === from) return;
    this.offsets.set(id, read.offset);
    for (const [i, entry] of read.entries.entries())
      this.emit({ type: "metric", run: id, offset: read.ends[i], entry });
    if (read.entries.length > 0 && this.states.get(id) !== "running") this.rescan();
  }
}
