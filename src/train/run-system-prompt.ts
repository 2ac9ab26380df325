/**
 * The system prompt a run was trained with, as `sft export --ollama` needs it: Ollama applies
 * a Modelfile's SYSTEM to every conversation that brings none, so it is right only when the
 * training data gave every record the same one. The trainer records the counts in the run's
 * datasets.json; this reads them back and says why when there is no single prompt to use.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DATASETS_FILE } from "./run-files.js";

/** As written to datasets.json under `system_prompts`. */
export interface SystemPromptCounts {
  /** training records read */
  records: number;
  /** distinct system prompts, "no system prompt" counted as one */
  distinct: number;
  /** the most common ones (null = records without a system prompt), most frequent first */
  top: { system: string | null; records: number }[];
}

const SHOWN = 10;

export function systemPromptCounts(counts: ReadonlyMap<string, number>): SystemPromptCounts {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  return {
    records: sorted.reduce((n, [, c]) => n + c, 0),
    distinct: sorted.length,
    top: sorted.slice(0, SHOWN).map(([system, records]) => ({ system: system || null, records })),
  };
}

export type TrainedSystemPrompt = { system: string; note: string } | { system: null; note: string | null };

/**
 * The run directory a model or adapter path belongs to: the path itself or one of its two
 * parents (run/adapter, run/checkpoint-N/adapter) that holds datasets.json.
 */
export function runDirOf(path: string): string | null {
  let dir = resolve(path);
  for (let up = 0; up < 3; up++, dir = dirname(dir)) {
    if (existsSync(join(dir, DATASETS_FILE))) return dir;
  }
  return null;
}

/** The one system prompt every training record of the run had, or why there is none to use. */
export function trainedSystemPrompt(runDir: string): TrainedSystemPrompt {
  const file = join(runDir, DATASETS_FILE);
  let counts: SystemPromptCounts | undefined;
  try {
    counts = (JSON.parse(readFileSync(file, "utf8")) as { system_prompts?: SystemPromptCounts })
      .system_prompts;
  } catch {
    return { system: null, note: `no SYSTEM: cannot read ${file}` };
  }
  if (!counts) return { system: null, note: `no SYSTEM: ${file} predates system-prompt counts` };
  if (counts.records === 0 || (counts.distinct === 1 && counts.top[0].system === null))
    return { system: null, note: null };
  if (counts.distinct === 1 && counts.top[0].system !== null)
    return {
      system: counts.top[0].system,
      note: `SYSTEM: the system prompt of all ${counts.records} training records (${file})`,
    };
  const none = counts.top.find((t) => t.system === null)?.records ?? 0;
  return {
    system: null,
    note:
      `no SYSTEM: the training data has ${counts.distinct - (none ? 1 : 0)} different system prompts` +
      `${none ? ` and ${none} records without one` : ""} (${file}); pass --system TEXT to set one`,
  };
}
