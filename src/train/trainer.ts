/**
 * The training loop, in the order a reader expects: setup (run directory, model, data,
 * optimizer, resume), train (accumulate, clip, step, log), evaluate (overall and per task),
 * save (atomic checkpoints, keep-last-K + best), finish (best weights, adapter or model).
 *
 * Determinism: every random choice is addressed by position, not drawn from a running
 * stream — the data order of epoch e comes from (seed, e), and the dropout and NEFTune
 * noise of a micro-batch from (seed, step, micro-batch). A checkpoint therefore needs only
 * the step, the data position, the weights and the AdamW moments to continue exactly.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify as yamlStringify } from "yaml";
import type { TrainConfig } from "../config/train.js";
import { readSafetensorsSync, writeSafetensors } from "../engine/checkpoint/safetensors.js";
import type { Kernels } from "../engine/kernels/types.js";
import { adamwStep, OptimizerState } from "../engine/params.js";
import type { Tensor } from "../engine/tensor.js";
import { SftError } from "../errors.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { accumulationWindows, type TrainPosition, totalTrainingSteps } from "./batches.js";
import {
  checkpointDir,
  latestCheckpoint,
  pruneCheckpoints,
  removeIncompleteCheckpoints,
  writeCheckpoint,
} from "./checkpoints.js";
import type { TrainableModel, TrainBatch } from "./engine-bridge.js";
import { assertFinite, clipGradNorm } from "./gradients.js";
import { MetricsSink } from "./metrics.js";
import { formatSummary, type OutputStream, ProgressReporter, type RunSummary } from "./progress.js";
import { Rng } from "./rng.js";
import { learningRateAt, resolveWarmupSteps, type ScheduleSpec } from "./schedule.js";
import type { LogEntry, TrainerState } from "./state.js";

export const CONFIG_FILE = "config.yaml";
export const STATE_FILE = "trainer_state.json";
const TRAINABLE_FILE = "trainable.safetensors";
const OPTIMIZER_FILE = "optimizer.safetensors";

/** The data side as the loop sees it: a deterministic micro-batch plan per epoch and eval batches. */
export interface TrainingData {
  /** micro-batches of epoch `epoch` (a pure function of the seed and the epoch) */
  planEpoch(epoch: number): TrainBatch[];
  /** micro-batches per epoch (the same for every epoch) */
  microBatchesPerEpoch: number;
  /** eval batches, each of one task */
  evalBatches: { batch: TrainBatch; task: string }[];
  /** per-task sample counts of one epoch of the training mix */
  taskCounts: Record<string, number>;
}

export interface TrainHooks {
  /** called for every log_history entry (training logs and evals) */
  onLog?: (entry: LogEntry) => void;
  /** where progress and the summary go (default process.stdout) */
  stdout?: OutputStream;
  quiet?: boolean;
}

export interface TrainResult {
  runDir: string;
  /** `adapter/` or `model/` inside the run directory */
  resultDir: string;
  kind: "adapter" | "model";
  globalStep: number;
  epoch: number;
  finalLoss: number | undefined;
  finalEvalLoss: number | undefined;
  bestMetric: number | null;
  bestModelCheckpoint: string | null;
  stoppedEarly: boolean;
  taskCounts: Record<string, number>;
  logHistory: LogEntry[];
  trainedTokens: number;
  /** non-padding tokens and padded positions (B×T) run through the model in training */
  realTokens: number;
  paddedTokens: number;
  seconds: number;
}

/** The result plus the trained model itself, in memory (the library API returns it). */
export interface TrainRunResult<M> extends TrainResult {
  model: M;
}

/** Derives a 32-bit seed for one micro-batch of one stream. */
function streamSeed(seed: number, stream: string, step: number, micro: number): number {
  return Rng.seeded(seed, stream, step, micro).nextUint32();
}

export interface LoopSetup {
  config: TrainConfig;
  runDir: string;
  model: TrainableModel;
  data: TrainingData;
  kernels: Kernels;
  hooks: TrainHooks;
  /** resume from the run directory's latest valid checkpoint */
  resume: boolean;
}

/** Writes the resolved config; on resume checks it is the run's own. */
export function writeRunConfig(runDir: string, config: TrainConfig): void {
  mkdirSync(runDir, { recursive: true });
  writeFileAtomicSync(join(runDir, CONFIG_FILE), yamlStringify(config));
}

export function readRunConfig(runDir: string): unknown {
  const file = join(runDir, CONFIG_FILE);
  if (!existsSync(file))
    throw new SftError(`no ${CONFIG_FILE} in the run directory`, {
      where: { file: runDir },
      hint: "--resume takes the output directory of an earlier `sft train` run",
    });
  return readFileSync(file, "utf8");
}

/** Runs (or resumes) the loop to the end: train, evaluate, save, finish. */
export async function runTrainingLoop(setup: LoopSetup): Promise<TrainResult> {
  const { config, runDir, model, data, kernels, hooks } = setup;
  const out = hooks.stdout ?? process.stdout;
  const progress = new ProgressReporter(out, hooks.quiet);
  const store = model.params;
  const optimizer = new OptimizerState(store);

  const totalSteps = totalTrainingSteps(
    data.microBatchesPerEpoch,
    config.gradient_accumulation_steps,
    config.num_train_epochs,
    config.max_steps,
  );
  const stepsPerEpoch = Math.ceil(data.microBatchesPerEpoch / config.gradient_accumulation_steps);
  const schedule: ScheduleSpec = {
    type: config.lr_scheduler_type,
    peakLr: config.learning_rate,
    warmupSteps: resolveWarmupSteps(config.warmup_steps, config.warmup_ratio, totalSteps),
    totalSteps,
  };

  // ---- state (fresh or resumed) ----
  const state: TrainerState = {
    global_step: 0,
    epoch: 0,
    max_steps: totalSteps,
    num_train_epochs: Math.ceil(totalSteps / stepsPerEpoch),
    logging_steps: config.logging_steps,
    eval_steps: config.eval_steps,
    save_steps: config.save_steps,
    train_batch_size: config.per_device_train_batch_size,
    best_metric: null,
    best_model_checkpoint: null,
    log_history: [],
    sft: {
      epoch: 0,
      microBatch: 0,
      rng: {},
      evalsWithoutImprovement: 0,
      trainedTokens: 0,
      elapsedSeconds: 0,
    },
  };
  let position: TrainPosition = { epoch: 0, microBatch: 0 };
  const metrics = new MetricsSink(runDir, config.tensorboard);

  if (setup.resume) {
    removeIncompleteCheckpoints(runDir);
    const last = latestCheckpoint(runDir);
    if (last) {
      const saved = JSON.parse(readFileSync(join(last.dir, STATE_FILE), "utf8")) as TrainerState;
      loadTrainable(model, join(last.dir, TRAINABLE_FILE));
      loadOptimizer(optimizer, join(last.dir, OPTIMIZER_FILE));
      optimizer.step = saved.global_step;
      Object.assign(state, saved, { max_steps: totalSteps });
      position = { epoch: saved.sft.epoch, microBatch: saved.sft.microBatch };
      metrics.truncateAfter(saved.global_step);
      progress.message(`resuming from ${last.dir} (step ${saved.global_step}/${totalSteps})`);
    } else {
      metrics.truncateAfter(0);
      progress.message("no complete checkpoint in the run directory: starting from step 0");
    }
  }

  const log = (entry: LogEntry) => {
    state.log_history.push(entry);
    metrics.log(entry);
    hooks.onLog?.(entry);
  };
  const writeState = () =>
    writeFileAtomicSync(join(runDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);

  // ---- evaluate ----
  const hasEval = data.evalBatches.length > 0;
  let lastEvalLoss: number | undefined;
  const evaluate = (): number => {
    let lossSum = 0;
    let tokens = 0;
    const perTask = new Map<string, { loss: number; tokens: number }>();
    for (const { batch, task } of data.evalBatches) {
      const r = model.evalLoss(batch);
      lossSum += r.lossSum;
      tokens += r.tokens;
      const t = perTask.get(task) ?? { loss: 0, tokens: 0 };
      t.loss += r.lossSum;
      t.tokens += r.tokens;
      perTask.set(task, t);
    }
    const evalLoss = lossSum / Math.max(1, tokens);
    const entry: LogEntry = { step: state.global_step, epoch: round4(state.epoch), eval_loss: evalLoss };
    if (perTask.size > 1)
      for (const [task, t] of perTask) entry[`eval_${task}_loss`] = t.loss / Math.max(1, t.tokens);
    log(entry);
    lastEvalLoss = evalLoss;
    progress.message(
      `eval at step ${state.global_step}: eval_loss ${evalLoss.toFixed(4)}` +
        (perTask.size > 1
          ? ` (${[...perTask].map(([k, t]) => `${k} ${(t.loss / Math.max(1, t.tokens)).toFixed(4)}`).join(", ")})`
          : ""),
    );
    return evalLoss;
  };

  // ---- save ----
  const saveCheckpoint = async (): Promise<string> => {
    state.sft.epoch = position.epoch;
    state.sft.microBatch = position.microBatch;
    const step = state.global_step;
    const dir = await writeCheckpoint(runDir, step, (tmp) => {
      writeSafetensors(
        join(tmp, TRAINABLE_FILE),
        store
          .trainable()
          .map((p) => [p.name, { shape: [...p.shape], data: p.data as Float32Array }] as const),
      );
      const moments: [string, Tensor][] = store.trainable().flatMap((p) => {
        const { m, v } = optimizer.moments(p);
        return [
          [`m.${p.name}`, { shape: [...p.shape], data: m as Float32Array }],
          [`v.${p.name}`, { shape: [...p.shape], data: v as Float32Array }],
        ] as [string, Tensor][];
      });
      writeSafetensors(join(tmp, OPTIMIZER_FILE), moments, { metadata: { step: String(optimizer.step) } });
      writeFileAtomicSync(join(tmp, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    });
    const bestStep = state.best_model_checkpoint ? stepOfCheckpoint(state.best_model_checkpoint) : null;
    pruneCheckpoints(runDir, config.save_total_limit, bestStep);
    writeState();
    progress.message(`saved ${dir}`);
    return dir;
  };

  // ---- train ----
  const started = Date.now();
  const elapsedBefore = state.sft.elapsedSeconds;
  let stepsThisProcess = 0;
  let windowLossSum = 0;
  let windowTokens = 0;
  let windowRealTokens = 0;
  let windowStart = Date.now();
  let firstLoss: number | undefined;
  let finalLoss: number | undefined = [...state.log_history]
    .reverse()
    .find((e) => e.loss !== undefined)?.loss;
  firstLoss = state.log_history.find((e) => e.loss !== undefined)?.loss;
  let stoppedEarly = false;
  let lastSavedStep = state.global_step > 0 ? state.global_step : -1;
  let lastEvalStep = -1;

  if (state.global_step === 0 && !hooks.quiet) {
    progress.message(
      `training ${model.numTrainable.toLocaleString("en")} of ${model.numParams.toLocaleString("en")} parameters ` +
        `(${config.finetuning_type}) for ${totalSteps} steps; per-task samples per epoch: ` +
        Object.entries(data.taskCounts)
          .map(([k, v]) => `${k}=${v}`)
          .join(", "),
    );
  }

  if (hasEval && config.eval_on_start && state.global_step === 0) {
    evaluate();
    writeState();
  }

  // a failure (non-finite loss, a bad batch) still leaves the metrics and state written so far
  try {
    const windows = accumulationWindows(
      (e) => data.planEpoch(e),
      config.gradient_accumulation_steps,
      position,
    );
    while (state.global_step < totalSteps) {
      const next = windows.next();
      if (next.done) break;
      const { batches, epoch } = next.value;
      const step = state.global_step + 1;
      const trained = batches.reduce((n, b) => n + b.trainedTokens, 0);
      const recordIds = () => batches.flatMap((b) => b.recordIds);
      store.zeroGrad();
      let lossSum = 0;
      batches.forEach((batch, micro) => {
        lossSum += model.forwardBackward(batch, {
          lossDenominator: Math.max(1, trained),
          dropoutSeed:
            config.finetuning_type === "lora" ? streamSeed(config.seed, "lora-dropout", step, micro) : null,
          neftune:
            config.neftune_noise_alpha !== undefined
              ? { alpha: config.neftune_noise_alpha, seed: streamSeed(config.seed, "neftune", step, micro) }
              : null,
        });
      });
      const loss = lossSum / Math.max(1, trained);
      assertFinite({ step, what: "loss", value: loss, recordIds: recordIds() });
      const { norm } = clipGradNorm([store.trainableGrad], config.max_grad_norm, (x, n) =>
        kernels.sumSquares(x, n),
      );
      assertFinite({ step, what: "gradient norm", value: norm, recordIds: recordIds() });
      const lr = learningRateAt(schedule, step - 1);
      adamwStep(kernels, optimizer, {
        lr,
        beta1: config.adam_beta1,
        beta2: config.adam_beta2,
        eps: config.adam_epsilon,
        weightDecay: config.weight_decay,
      });

      position = next.value.next;
      state.global_step = step;
      state.epoch = epoch + position.microBatch / Math.max(1, data.microBatchesPerEpoch);
      if (position.microBatch === 0) state.epoch = position.epoch;
      state.sft.epoch = position.epoch;
      state.sft.microBatch = position.microBatch;
      state.sft.trainedTokens += trained;
      state.sft.realTokens = (state.sft.realTokens ?? 0) + batches.reduce((n, b) => n + b.realTokens, 0);
      state.sft.paddedTokens = (state.sft.paddedTokens ?? 0) + batches.reduce((n, b) => n + b.B * b.T, 0);
      stepsThisProcess += 1;
      windowLossSum += lossSum;
      windowTokens += trained;
      windowRealTokens += batches.reduce((n, b) => n + b.realTokens, 0);

      const elapsed = elapsedBefore + (Date.now() - started) / 1000;
      state.sft.elapsedSeconds = elapsed;
      const isLogStep = step % config.logging_steps === 0 || step === totalSteps || step === 1;
      const seconds = (Date.now() - windowStart) / 1000;
      const tokensPerSecond = seconds > 0 ? windowRealTokens / seconds : undefined;
      let shownLoss = loss;
      if (isLogStep) {
        const meanLoss = windowLossSum / Math.max(1, windowTokens);
        shownLoss = meanLoss;
        firstLoss ??= meanLoss;
        finalLoss = meanLoss;
        log({
          step,
          epoch: round4(state.epoch),
          loss: meanLoss,
          learning_rate: lr,
          grad_norm: norm,
          tokens_per_second: tokensPerSecond,
          num_input_tokens_seen: state.sft.paddedTokens,
        });
        windowLossSum = 0;
        windowTokens = 0;
        windowRealTokens = 0;
      }
      progress.update(
        {
          step,
          totalSteps,
          epoch: state.epoch,
          loss: shownLoss,
          learningRate: lr,
          tokensPerSecond,
          elapsedSeconds: (Date.now() - started) / 1000,
          stepsThisProcess,
        },
        isLogStep,
      );

      // evaluate, track the best, stop early
      const evalDue = hasEval && config.eval_steps > 0 && step % config.eval_steps === 0;
      let improved = false;
      if (evalDue) {
        const evalLoss = evaluate();
        lastEvalStep = step;
        improved =
          state.best_metric === null || evalLoss < state.best_metric - config.early_stopping_threshold;
        if (improved) {
          state.best_metric = evalLoss;
          state.best_model_checkpoint = checkpointDir(runDir, step);
          state.sft.evalsWithoutImprovement = 0;
        } else {
          state.sft.evalsWithoutImprovement += 1;
        }
        if (
          config.early_stopping_patience !== undefined &&
          state.sft.evalsWithoutImprovement >= config.early_stopping_patience
        ) {
          stoppedEarly = true;
        }
      }
      const saveDue =
        (config.save_steps > 0 && step % config.save_steps === 0) ||
        (improved && config.load_best_model_at_end);
      if (saveDue || stoppedEarly || step === totalSteps) {
        await saveCheckpoint();
        lastSavedStep = step;
      } else if (isLogStep) writeState();
      // the next throughput window starts after this step's eval and checkpoint
      if (isLogStep) windowStart = Date.now();
      if (stoppedEarly) {
        progress.message(
          `early stopping at step ${step}: eval loss did not improve for ${config.early_stopping_patience} evaluations`,
        );
        break;
      }
    }
  } catch (e) {
    writeState();
    metrics.close();
    throw e;
  }

  // ---- finish ----
  if (hasEval && lastEvalStep !== state.global_step) {
    evaluate();
    writeState();
  }
  if (lastSavedStep !== state.global_step) await saveCheckpoint();
  if (
    config.load_best_model_at_end &&
    state.best_model_checkpoint &&
    existsSync(state.best_model_checkpoint)
  ) {
    loadTrainable(model, join(state.best_model_checkpoint, TRAINABLE_FILE));
    progress.message(
      `loaded the best checkpoint (eval_loss ${state.best_metric?.toFixed(4)}): ${state.best_model_checkpoint}`,
    );
  }
  const kind = config.finetuning_type === "lora" ? "adapter" : "model";
  const resultDir = join(runDir, kind);
  model.saveResult(resultDir);
  writeState();
  metrics.close();

  const seconds = elapsedBefore + (Date.now() - started) / 1000;
  const summary: RunSummary = {
    runDir,
    steps: state.global_step,
    epochs: state.epoch,
    trainedTokens: state.sft.trainedTokens,
    seconds,
    firstLoss,
    finalLoss,
    finalEvalLoss: lastEvalLoss,
    bestEvalLoss: state.best_metric,
    bestCheckpoint: state.best_model_checkpoint,
    stoppedEarly,
    result: resultDir,
  };
  progress.message(formatSummary(summary));
  return {
    runDir,
    resultDir,
    kind,
    globalStep: state.global_step,
    epoch: state.epoch,
    finalLoss,
    finalEvalLoss: lastEvalLoss,
    bestMetric: state.best_metric,
    bestModelCheckpoint: state.best_model_checkpoint,
    stoppedEarly,
    taskCounts: data.taskCounts,
    logHistory: state.log_history,
    trainedTokens: state.sft.trainedTokens,
    realTokens: state.sft.realTokens ?? 0,
    paddedTokens: state.sft.paddedTokens ?? 0,
    seconds,
  };
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function stepOfCheckpoint(dir: string): number | null {
  const m = /checkpoint-(\d+)$/.exec(dir);
  return m ? Number(m[1]) : null;
}

function loadTrainable(model: TrainableModel, file: string): void {
  const tensors = readSafetensorsSync(file);
  for (const p of model.params.trainable()) {
    const t = tensors.get(p.name);
    if (!t)
      throw new SftError(`checkpoint lacks trainable tensor ${p.name}`, {
        where: { file, field: p.name },
        hint: "the checkpoint belongs to a different model or LoRA setup; resume with the run's own config",
        code: "E_CHECKPOINT",
      });
    model.params.load(p.name, t.data, `${file}: ${p.name}`);
  }
}

function loadOptimizer(optimizer: OptimizerState, file: string): void {
  const tensors = readSafetensorsSync(file);
  for (const p of optimizer.store.trainable()) {
    const { m, v } = optimizer.moments(p);
    const tm = tensors.get(`m.${p.name}`);
    const tv = tensors.get(`v.${p.name}`);
    if (!tm || !tv || tm.data.length !== m.length || tv.data.length !== v.length)
      throw new SftError(`optimizer state for ${p.name} is missing or has the wrong size`, {
        where: { file, field: p.name },
        code: "E_CHECKPOINT",
      });
    m.set(tm.data);
    v.set(tv.data);
  }
  // the step count is not a tensor: it is kept in the checkpoint's trainer_state (global_step)
}

/** Absolute run directory from a config. */
export function runDirOf(config: TrainConfig): string {
  return resolve(config.output_dir);
}
