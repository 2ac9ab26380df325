/**
 * The run's metric sinks: `metrics.jsonl` (one JSON object per log event, appended and
 * flushed as it happens, so a killed run keeps its metrics) and TensorBoard scalars.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LogEntry } from "./state.js";
import { TfEventsWriter } from "./tfevents.js";

export const METRICS_FILE = "metrics.jsonl";

const TB_TAGS: Record<string, string> = {
  loss: "train/loss",
  learning_rate: "train/learning_rate",
  grad_norm: "train/grad_norm",
  tokens_per_second: "train/tokens_per_second",
  eval_loss: "eval/loss",
};

export class MetricsSink {
  private readonly file: string;
  private tb: TfEventsWriter | undefined;

  constructor(runDir: string, tensorboard: boolean) {
    this.file = join(runDir, METRICS_FILE);
    if (tensorboard) this.tb = new TfEventsWriter(join(runDir, "runs"));
  }

  /**
   * After a resume: drops metric lines of steps after `step` (written after the checkpoint
   * the run resumes from), so the file reads as one uninterrupted run.
   */
  truncateAfter(step: number): void {
    if (!existsSync(this.file)) return;
    const kept = readFileSync(this.file, "utf8")
      .split("\n")
      .filter((l) => l.trim() && (JSON.parse(l) as { step: number }).step <= step);
    writeFileSync(this.file, kept.map((l) => `${l}\n`).join(""));
  }

  log(entry: LogEntry & Record<string, unknown>): void {
    appendFileSync(this.file, `${JSON.stringify({ ...entry, time: new Date().toISOString() })}\n`);
    if (!this.tb) return;
    const scalars: Record<string, number | undefined> = {};
    for (const [k, v] of Object.entries(entry)) {
      if (typeof v !== "number" || k === "step" || k === "epoch") continue;
      scalars[TB_TAGS[k] ?? (k.startsWith("eval_") ? `eval/${k.slice(5)}` : `train/${k}`)] = v;
    }
    this.tb.scalars(entry.step, scalars);
  }

  close(): void {
    this.tb?.close();
    this.tb = undefined;
  }
}
