/**
 * The trainer's library API, the same run as `sft train`:
 *
 *   const result = await train({ model: "base/", data: "train.jsonl", output_dir: "run/", max_steps: 100 },
 *                              { onLog: (e) => console.log(e) });
 *   await resumeTraining("run/");
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  loadTrainConfig,
  type TrainConfig,
  type TrainConfigInput,
  validateTrainConfig,
} from "../config/train.js";
import type { Model } from "../engine/model.js";
import { SftError } from "../errors.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { acquireLock } from "../util/lock.js";
import { listCheckpoints } from "./checkpoints.js";
import {
  buildTrainingData,
  type DatasetFingerprint,
  dataSummary,
  prepareData,
  writeRejects,
} from "./data.js";
import { openTrainableModel } from "./engine-bridge.js";
import { ProgressReporter } from "./progress.js";
import { DATASETS_FILE, RUN_LOCK_FILE, runConfigFile, STATE_FILE, writeRunConfig } from "./run-files.js";
import { systemPromptCounts } from "./run-system-prompt.js";
import { runRecipe, type TrainHooks, type TrainRunResult } from "./trainer.js";

export type { LogEntry, TrainerState } from "./state.js";
export type { TrainHooks, TrainResult, TrainRunResult } from "./trainer.js";

export { DATASETS_FILE, RUN_LOCK_FILE };

/** Paths made absolute, so a run can be resumed from any working directory. */
function absolutePaths(c: TrainConfig): TrainConfig {
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  return {
    ...c,
    model: resolve(c.model),
    adapter: abs(c.adapter),
    tokenizer: abs(c.tokenizer),
    data: abs(c.data),
    eval_data: abs(c.eval_data),
    output_dir: resolve(c.output_dir),
    datasets: c.datasets?.map((d) => ({ ...d, path: resolve(d.path), eval_path: abs(d.eval_path) })),
    // keep templates that are file paths working too
    template: c.template && existsSync(c.template) ? resolve(c.template) : c.template,
    chat_template:
      typeof c.chat_template === "string" && existsSync(c.chat_template)
        ? resolve(c.chat_template)
        : c.chat_template,
  };
}

function dropUndefined<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

async function run(config: TrainConfig, hooks: TrainHooks, resume: boolean): Promise<TrainRunResult<Model>> {
  return withPreparedRun(config, hooks, resume, async ({ opened, data }) => {
    const result = await runRecipe({
      config,
      runDir: config.output_dir,
      model: opened.trainable,
      data,
      kernels: opened.model.kernels,
      hooks,
      resume,
    });
    return { ...result, model: opened.model };
  });
}

/** What every engine starts from: the opened model and the planned data of the run. */
export interface PreparedRun {
  opened: Awaited<ReturnType<typeof openTrainableModel>>;
  data: ReturnType<typeof buildTrainingData>;
  progress: ProgressReporter;
}

/**
 * Takes the run directory's lock, checks it (a new run into an empty one, a resume with
 * unchanged data), opens the model, prepares the data once and runs `body` on them.
 */
export async function withPreparedRun<R>(
  config: TrainConfig,
  hooks: TrainHooks,
  resume: boolean,
  body: (prepared: PreparedRun) => Promise<R>,
): Promise<R> {
  const runDir = config.output_dir;
  // one process per run directory, taken before anything else is written there
  mkdirSync(runDir, { recursive: true });
  const lock = acquireLock(join(runDir, RUN_LOCK_FILE), {
    command: resume ? "sft train --resume" : "sft train",
    what: `run directory ${runDir}`,
  });
  try {
    return await body(await prepareLocked(config, hooks, resume));
  } finally {
    lock.release();
  }
}

async function prepareLocked(config: TrainConfig, hooks: TrainHooks, resume: boolean): Promise<PreparedRun> {
  const runDir = config.output_dir;
  const progress = new ProgressReporter(hooks.stdout ?? process.stdout, hooks.quiet);
  if (!resume && (existsSync(join(runDir, STATE_FILE)) || listCheckpoints(runDir).length > 0))
    throw new SftError("the output directory already holds a training run", {
      where: { file: runDir, field: "output_dir" },
      hint: `continue it with \`sft train --resume ${runDir}\`, or choose another --out`,
    });
  if (!resume) writeRunConfig(runDir, config);

  const opened = await openTrainableModel(config);
  const prepared = await prepareData(config, opened.tokenizer);
  const datasetsFile = join(runDir, DATASETS_FILE);
  if (resume && existsSync(datasetsFile)) {
    const before = JSON.parse(readFileSync(datasetsFile, "utf8")) as { fingerprints: DatasetFingerprint[] };
    for (const f of prepared.fingerprints) {
      const old = before.fingerprints.find((o) => o.path === f.path && o.role === f.role);
      if (old && old.sha256 !== f.sha256)
        throw new SftError(
          "a dataset changed since the run started; resuming would not see the same data order",
          {
            where: { file: f.path },
            hint: "restore the original file, or start a new run",
          },
        );
    }
  }
  const data = buildTrainingData(prepared, config, opened.tokenizer.padTokenId);
  writeFileAtomicSync(
    datasetsFile,
    `${JSON.stringify(
      {
        fingerprints: prepared.fingerprints,
        task_counts_per_epoch: data.taskCounts,
        rejected: prepared.rejections,
        eval_samples: prepared.evalSamples.length,
        system_prompts: systemPromptCounts(prepared.systemPrompts),
      },
      null,
      2,
    )}\n`,
  );
  for (const line of dataSummary(prepared, writeRejects(runDir, prepared))) progress.message(line);
  return { opened, data, progress };
}

/** Trains from a config object (the YAML's keys); returns where the result went and the metrics. */
/** The config `train` runs with: validated, paths absolute. */
export function resolvedTrainConfig(input: TrainConfigInput | TrainConfig): TrainConfig {
  return dropUndefined(absolutePaths(validateTrainConfig(input)));
}

/** The saved config of the run in `runDir`, as `resumeTraining` reads it. */
export function savedTrainConfig(runDir: string): TrainConfig {
  const config = loadTrainConfig(runConfigFile(runDir));
  if (resolve(config.output_dir) !== resolve(runDir)) config.output_dir = resolve(runDir);
  return config;
}

export async function train(
  input: TrainConfigInput | TrainConfig,
  hooks: TrainHooks = {},
): Promise<TrainRunResult<Model>> {
  return run(resolvedTrainConfig(input), hooks, false);
}

/** Continues the run in `runDir` from its last complete checkpoint, with the run's own config. */
export async function resumeTraining(runDir: string, hooks: TrainHooks = {}): Promise<TrainRunResult<Model>> {
  // the saved config goes through the same loader as any train YAML (file:line errors, caps)
  return run(savedTrainConfig(runDir), hooks, true);
}
