/**
 * The trainer's data side: read each dataset, tokenize every record with its label mask,
 * hold out eval records, fingerprint the files, and turn the weighted multi-task mix into a
 * deterministic micro-batch plan per epoch (with optional packing).
 */
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { pickModelSpec } from "../config/model-spec.js";
import type { TrainConfig } from "../config/train.js";
import { readRecords } from "../data/io/index.js";
import { SftError } from "../errors.js";
import { tokenizeOptionsFor } from "../model/open.js";
import type { SftRecord } from "../record/record.js";
import { LOST_CONTENT_HINT } from "../tokenize/content-loss.js";
import {
  IGNORE_INDEX,
  type RejectionKind,
  type TokenizeOptions,
  tryTokenizeRecord,
} from "../tokenize/mask.js";
import { collate, type PackedRow, packSamples } from "../tokenize/pack.js";
import {
  checkPacking,
  checkSample,
  type PreflightFailure,
  showTokens,
  trailerNotice,
} from "../tokenize/preflight.js";
import type { TextTokenizer } from "../tokenize/tokenizer.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { Rng } from "../util/rng.js";
import { microBatches } from "./batches.js";
import type { TrainBatch } from "./engine-bridge.js";
import { type MixTask, mixEpoch, taskDrawCounts } from "./mixing.js";
import type { TrainingData } from "./trainer.js";

export interface Sample {
  id: string;
  task: string;
  inputIds: number[];
  labels: number[];
}

export interface DatasetFingerprint {
  path: string;
  task: string;
  role: "train" | "eval";
  sha256: string;
  bytes: number;
  records: number;
  samples: number;
  rejected: number;
  truncated: number;
}

/** A record that gave no sample, as written to the run's rejects.jsonl. */
export interface RejectedSample {
  file: string;
  id: string;
  kind: RejectionKind;
  reason: string;
}

export interface PreparedData {
  tasks: { name: string; weight: number; samples: Sample[] }[];
  evalSamples: Sample[];
  fingerprints: DatasetFingerprint[];
  /** kind of rejection (untrainable, too-long, lost-content) → count */
  rejections: Record<string, number>;
  /** every rejected record with its reason */
  rejects: RejectedSample[];
  /** generation headers trimmed off the end of samples: text → tokens and sample count */
  trailers: Map<string, { tokens: number; samples: number }>;
  /** the system prompts of the training records (text → records; "" = none), for `sft export --ollama` */
  systemPrompts: Map<string, number>;
}

export const REJECTS_FILE = "rejects.jsonl";

/** Writes every rejected record with its reason to RUN_DIR/rejects.jsonl (empty when none). */
export function writeRejects(runDir: string, prepared: PreparedData): string {
  const path = join(runDir, REJECTS_FILE);
  writeFileAtomicSync(path, prepared.rejects.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return path;
}

/**
 * The one-line data summary (`144 truncated, 3 rejected: see run/rejects.jsonl`) and the
 * notices, or nothing when no record was changed or set aside.
 */
export function dataSummary(prepared: PreparedData, rejectsPath: string): string[] {
  const truncated = prepared.fingerprints.reduce((n, f) => n + f.truncated, 0);
  const rejected = prepared.rejects.length;
  const lines: string[] = [];
  if (truncated > 0 || rejected > 0) {
    const kinds = Object.entries(prepared.rejections)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ");
    lines.push(
      `${truncated} truncated, ${rejected} rejected${rejected ? ` (${kinds}): see ${rejectsPath}` : ""}`,
    );
  }
  for (const [text, t] of prepared.trailers) lines.push(`note: ${trailerNotice(text, t.tokens, t.samples)}`);
  return lines;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function taskNameOf(path: string): string {
  return basename(path, extname(path));
}

interface Source {
  path: string;
  task: string | undefined;
  weight: number;
  template: string | undefined;
  role: "train" | "eval";
}

async function loadSource(
  src: Source,
  tokenizer: TextTokenizer,
  config: TrainConfig,
  out: Pick<PreparedData, "rejections" | "rejects" | "trailers" | "systemPrompts">,
  preflightFailures: FileFailure[] | null,
): Promise<{ samples: Sample[]; fingerprint: DatasetFingerprint }> {
  let bytes: number;
  try {
    bytes = statSync(src.path).size;
  } catch {
    throw new SftError("dataset file not found", {
      where: { file: src.path, field: src.role === "train" ? "data" : "eval_data" },
      hint: "check the path in `data`, `datasets[].path`, `eval_data` or `datasets[].eval_path`",
    });
  }
  const samples: Sample[] = [];
  let records = 0;
  let rejected = 0;
  let truncated = 0;
  // the spec's options, as `sft data check` derives them; a dataset's own template wins
  const tokenizeOptions: TokenizeOptions = {
    ...tokenizeOptionsFor(pickModelSpec(config), {
      tokenize: { truncation: config.truncation, lostContent: config.lost_content },
    }),
    ...(src.template ? { template: src.template } : {}),
  };
  const read = readRecords(src.path, { allowNonAlternating: config.allow_non_alternating });
  for await (const record of read as AsyncGenerator<SftRecord>) {
    records++;
    const result = tryTokenizeRecord(record, tokenizer, tokenizeOptions);
    if (!result.ok) {
      rejected++;
      out.rejections[result.kind] = (out.rejections[result.kind] ?? 0) + 1;
      out.rejects.push({ file: src.path, id: result.id, kind: result.kind, reason: result.reason });
      continue;
    }
    if (result.sample.truncated) truncated++;
    const trailer = result.sample.trimmedTrailer;
    if (trailer) {
      const t = out.trailers.get(trailer.text) ?? { tokens: trailer.tokens, samples: 0 };
      t.samples++;
      out.trailers.set(trailer.text, t);
    }
    if (preflightFailures) {
      for (const f of checkSample(record, result.sample, tokenizer, tokenizeOptions))
        preflightFailures.push({ ...f, file: src.path });
    }
    if (src.role === "train") {
      const system = record.messages.find((m) => m.role === "system")?.content ?? "";
      out.systemPrompts.set(system, (out.systemPrompts.get(system) ?? 0) + 1);
    }
    samples.push({
      id: record.id,
      task: src.task ?? record.meta.task ?? "default",
      inputIds: result.sample.inputIds,
      labels: result.sample.labels,
    });
  }
  return {
    samples,
    fingerprint: {
      path: src.path,
      task: src.task ?? "default",
      role: src.role,
      sha256: await sha256File(src.path),
      bytes,
      records,
      samples: samples.length,
      rejected,
      truncated,
    },
  };
}

type FileFailure = PreflightFailure & { file: string };

/** Failures shown in the error; the rest are counted. */
const PREFLIGHT_SHOWN = 20;

/**
 * Stops the run when a pre-flight check failed: the same checks and messages as
 * `sft data check`, so a wrong label mask or template costs no training step.
 */
function throwPreflight(failures: FileFailure[], tokenizer: TextTokenizer): never {
  const counts = new Map<string, number>();
  for (const f of failures) counts.set(f.check, (counts.get(f.check) ?? 0) + 1);
  const ids = [...new Set(failures.map((f) => f.recordId))];
  const lines = failures
    .slice(0, PREFLIGHT_SHOWN)
    .map(
      (f) =>
        `  ${f.check}: ${f.message}${f.tokens.length ? ` — tokens ${showTokens(tokenizer, f.tokens)}` : ""}`,
    );
  if (failures.length > PREFLIGHT_SHOWN) lines.push(`  … ${failures.length - PREFLIGHT_SHOWN} more`);
  throw new SftError(
    `pre-flight failed for ${ids.length} record(s) (${[...counts].map(([c, n]) => `${n}× ${c}`).join(", ")}): ${ids
      .slice(0, PREFLIGHT_SHOWN)
      .join(", ")}${ids.length > PREFLIGHT_SHOWN ? ", …" : ""}\n${lines.join("\n")}`,
    {
      where: { file: failures[0].file, field: "preflight" },
      hint: `${counts.has("lost-content") ? `lost content: ${LOST_CONTENT_HINT.replace("--lost-content drop", "lost_content: drop (--lost-content drop)")}; otherwise ` : ""}fix the records or the template (\`sft data check\` shows the same report), or set \`preflight: false\` to train anyway`,
    },
  );
}

/** Reads and tokenizes every dataset of the config; with `preflight`, checks every sample. */
export async function prepareData(config: TrainConfig, tokenizer: TextTokenizer): Promise<PreparedData> {
  const preflightFailures: FileFailure[] | null = config.preflight ? [] : null;
  const entries = config.datasets ?? [
    { path: config.data!, weight: 1 } as NonNullable<TrainConfig["datasets"]>[number],
  ];
  const rejected: Pick<PreparedData, "rejections" | "rejects" | "trailers" | "systemPrompts"> = {
    rejections: {},
    rejects: [],
    trailers: new Map(),
    systemPrompts: new Map(),
  };
  const fingerprints: DatasetFingerprint[] = [];
  const tasks: PreparedData["tasks"] = [];
  const evalSamples: Sample[] = [];
  for (const [i, entry] of entries.entries()) {
    const task = entry.task ?? (config.datasets ? taskNameOf(entry.path) : undefined);
    const { samples, fingerprint } = await loadSource(
      { path: entry.path, task, weight: entry.weight, template: entry.template, role: "train" },
      tokenizer,
      config,
      rejected,
      preflightFailures,
    );
    fingerprints.push(fingerprint);
    let train = samples;
    if (config.eval_split > 0 && !config.eval_data && !entry.eval_path) {
      // a seeded hold-out per dataset, so every task is represented in eval
      const order = Rng.seeded(config.seed, "eval-split", i).permutation(samples.length);
      const nEval = Math.max(1, Math.round(config.eval_split * samples.length));
      const held = new Set(Array.from(order.subarray(0, nEval)));
      evalSamples.push(...samples.filter((_, k) => held.has(k)));
      train = samples.filter((_, k) => !held.has(k));
    }
    if (entry.eval_path) {
      const ev = await loadSource(
        { path: entry.eval_path, task, weight: 1, template: entry.template, role: "eval" },
        tokenizer,
        config,
        rejected,
        preflightFailures,
      );
      fingerprints.push(ev.fingerprint);
      evalSamples.push(...ev.samples);
    }
    if (train.length === 0)
      throw new SftError("no usable training samples in this dataset", {
        where: { file: entry.path },
        hint: `every record was rejected (${rejected.rejects
          .filter((r) => r.file === entry.path)
          .slice(0, 3)
          .map((r) => `record ${r.id}: ${r.reason}`)
          .join("; ")}); run \`sft data check\` on it`,
      });
    // several entries may share a task name: each keeps its own weight
    tasks.push({ name: task ?? "default", weight: entry.weight, samples: train });
  }
  if (config.eval_data) {
    const ev = await loadSource(
      { path: config.eval_data, task: undefined, weight: 1, template: undefined, role: "eval" },
      tokenizer,
      config,
      rejected,
      preflightFailures,
    );
    fingerprints.push(ev.fingerprint);
    evalSamples.push(...ev.samples);
  }
  if (preflightFailures) {
    if (config.packing) {
      // the rows the run packs are planned per epoch; packing all samples once at the run's
      // length checks the same invariants (positions, segments, ids and labels kept)
      for (const group of [...tasks.map((t) => t.samples), evalSamples]) {
        if (group.length === 0) continue;
        const { rows } = packSamples(group, { maxSeqLength: config.max_seq_length });
        for (const f of checkPacking(rows, group))
          preflightFailures.push({ ...f, file: fingerprints[0].path });
      }
    }
    if (preflightFailures.length > 0) throwPreflight(preflightFailures, tokenizer);
  }
  return { tasks, evalSamples, fingerprints, ...rejected };
}

// ---------------------------------------------------------------------------------------
// Batches

/** Trained tokens after the label shift (position t predicts labels[t+1], never across a segment change). */
export function countTrainedTokens(labels: Int32Array, B: number, T: number, segments?: Int32Array): number {
  let n = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      const i = b * T + t;
      if (labels[i + 1] === IGNORE_INDEX) continue;
      if (segments && segments[i] !== segments[i + 1]) continue;
      n++;
    }
  }
  return n;
}

/** The engine's batch from rows made by src/tokenize (padding to a multiple of 8, labels -100 there). */
function toTrainBatch(rows: (PackedRow | Sample)[], padId: number): TrainBatch {
  const c = collate(rows, { padTokenId: padId });
  let realTokens = 0;
  for (const r of rows) realTokens += r.inputIds.length;
  return {
    B: c.B,
    T: c.T,
    inputIds: c.inputIds,
    labels: c.labels,
    positions: c.positions,
    segments: c.segments,
    recordIds: c.sampleIds.flat(),
    trainedTokens: countTrainedTokens(c.labels, c.B, c.T, c.segments),
    realTokens,
  };
}

/**
 * The rows of one epoch in training order: the weighted task mix of (seed, epoch), packed
 * and shuffled when packing is on. Hand-offs to other trainers write these same rows.
 */
export function epochRows(
  prepared: PreparedData,
  config: TrainConfig,
  epoch: number,
): (PackedRow | Sample)[] {
  const all = prepared.tasks.flatMap((t) => t.samples);
  const mixTasks: MixTask[] = prepared.tasks.map((t) => ({
    name: t.name,
    size: t.samples.length,
    weight: t.weight,
  }));
  const { order } = mixEpoch(mixTasks, config.seed, epoch);
  const picked = Array.from(order, (id) => all[id]);
  if (!config.packing) return picked;
  // packing sorts by length; shuffle the packed rows so batches are not length-ordered
  const rows = packSamples(picked, { maxSeqLength: config.max_seq_length }).rows;
  Rng.seeded(config.seed, "pack-order", epoch).shuffle(rows);
  return rows;
}

/** The loop's view of the data: the per-epoch micro-batch plan and the eval batches. */
export function buildTrainingData(prepared: PreparedData, config: TrainConfig, padId: number): TrainingData {
  const mixTasks: MixTask[] = prepared.tasks.map((t) => ({
    name: t.name,
    size: t.samples.length,
    weight: t.weight,
  }));
  const batchSize = config.per_device_train_batch_size;
  const planEpoch = (epoch: number): TrainBatch[] =>
    microBatches(epochRows(prepared, config, epoch), batchSize).map((group) => toTrainBatch(group, padId));
  // the number of micro-batches is the same every epoch (same counts; packing may vary, so measure epoch 0)
  const microBatchesPerEpoch = config.packing
    ? planEpoch(0).length
    : Math.ceil(Object.values(taskDrawCounts(mixTasks)).reduce((a, b) => a + b, 0) / batchSize);

  // eval: task-homogeneous batches so each batch's loss belongs to one task
  const byTask = new Map<string, Sample[]>();
  for (const s of prepared.evalSamples) byTask.set(s.task, [...(byTask.get(s.task) ?? []), s]);
  const evalBatches: TrainingData["evalBatches"] = [];
  for (const [task, samples] of byTask) {
    for (const group of microBatches(samples, config.per_device_eval_batch_size)) {
      evalBatches.push({ batch: toTrainBatch(group, padId), task });
    }
  }
  return { planEpoch, microBatchesPerEpoch, evalBatches, taskCounts: taskDrawCounts(mixTasks) };
}
