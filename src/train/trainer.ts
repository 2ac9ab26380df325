/**
 * The training recipe, read top to bottom: `setup` (plan, optimizer, fresh or resumed
 * state), then per optimizer step `trainStep` (accumulate, clip, AdamW), `reportStep` (log,
 * progress), `evaluate` and `trackBest` (overall and per task, early stopping),
 * `saveCheckpoint` (atomic, keep-last-K + best); at the end `finish` (final eval and save,
 * best weights, adapter or model). Each step is a named function over the typed `Recipe`;
 * `runRecipe` only calls them in order.
 *
 * Determinism: every random choice is addressed by position, not drawn from a running
 * stream — the data order of epoch e comes from (seed, e), and the dropout and NEFTune
 * noise of a micro-batch from (seed, step, micro-batch). A checkpoint therefore needs only
 * the step, the data position, the weights and the AdamW moments to continue exactly.
 */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import type { TrainConfig } from "../config/train.js";
import type { Kernels } from "../engine/kernels/types.js";
import { adamwStep, OptimizerState, type ParamStore } from "../engine/params.js";
import { SftError } from "../errors.js";
import { Rng } from "../util/rng.js";
import { accumulationWindows, type TrainPosition, totalTrainingSteps } from "./batches.js";
import {
  checkpointDir,
  newestVerifiedCheckpoint,
  pruneCheckpoints,
  removeIncompleteCheckpoints,
  writeCheckpoint,
} from "./checkpoints.js";
import type { TrainableModel, TrainBatch } from "./engine-bridge.js";
import { assertFinite, clipGradNorm } from "./gradients.js";
import { MetricsSink } from "./metrics.js";
import { formatSummary, type OutputStream, ProgressReporter, type RunSummary } from "./progress.js";
import {
  checkpointBytes,
  loadOptimizer,
  loadTrainable,
  OPTIMIZER_FILE,
  readCheckpointState,
  TRAINABLE_FILE,
  writeCheckpointFiles,
  writeTrainerState,
} from "./run-files.js";
import { learningRateAt, resolveWarmupSteps, type ScheduleSpec } from "./schedule.js";
import type { LogEntry, TrainerState } from "./state.js";

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
  /**
   * called once per optimizer step after the backward passes of its window and before
   * clipping and AdamW: the store's gradients are the step's raw accumulated gradients and
   * its weights those the update starts from (views; copy what you keep). Lets a caller
   * replay the optimizer on exactly the trainer's gradients (the PyTorch AdamW check).
   */
  onGradients?: (step: number, params: ParamStore) => void;
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

/** What `runRecipe` needs: the resolved config, the opened model and the planned data. */
export interface RecipeInput {
  config: TrainConfig;
  runDir: string;
  model: TrainableModel;
  data: TrainingData;
  kernels: Kernels;
  hooks: TrainHooks;
  /** resume from the run directory's latest valid checkpoint */
  resume: boolean;
}

/** Fixed for the whole run: derived once from the config and the data. */
export interface RunPlan {
  totalSteps: number;
  stepsPerEpoch: number;
  schedule: ScheduleSpec;
  hasEval: boolean;
}

/** Loss and throughput between two log steps. */
export interface LogWindow {
  lossSum: number;
  tokens: number;
  realTokens: number;
  /** when the window's clock started (after the previous log step's eval and save) */
  startedAt: number;
}

/** This process's bookkeeping; not checkpointed (a resumed process rebuilds it from the state). */
export interface ProcessCounters {
  startedAt: number;
  /** training seconds of earlier processes of this run */
  elapsedBefore: number;
  stepsThisProcess: number;
  firstLoss: number | undefined;
  finalLoss: number | undefined;
  lastEvalLoss: number | undefined;
  lastEvalStep: number;
  lastSavedStep: number;
  stoppedEarly: boolean;
}

/** Everything a recipe step reads and changes. `state` is what checkpoints save. */
export interface Recipe {
  readonly config: TrainConfig;
  readonly runDir: string;
  readonly model: TrainableModel;
  readonly data: TrainingData;
  readonly kernels: Kernels;
  readonly hooks: TrainHooks;
  readonly optimizer: OptimizerState;
  readonly plan: RunPlan;
  readonly metrics: MetricsSink;
  readonly progress: ProgressReporter;
  state: TrainerState;
  /** data position after the last completed step */
  position: TrainPosition;
  window: LogWindow;
  counters: ProcessCounters;
}

/** One optimizer step's window of micro-batches, as `accumulationWindows` yields it. */
export interface StepWindow {
  epoch: number;
  batches: TrainBatch[];
  next: TrainPosition;
}

/** What one optimizer step measured. */
export interface StepOutcome {
  step: number;
  /** mean loss per trained token of this step */
  loss: number;
  learningRate: number;
  gradNorm: number;
}

/** Runs (or resumes) the recipe to the end: setup, the steps, finish. */
export async function runRecipe(input: RecipeInput): Promise<TrainResult> {
  const recipe = setup(input);
  announce(recipe);
  if (recipe.plan.hasEval && recipe.config.eval_on_start && recipe.state.global_step === 0) {
    evaluate(recipe);
    writeRunState(recipe);
  }
  // a failure (non-finite loss, a bad batch) still leaves the metrics and state written so far
  try {
    await trainSteps(recipe);
  } catch (e) {
    try {
      writeRunState(recipe);
    } catch {
      // the disk may be full: the original error is the one to report
    }
    recipe.metrics.close();
    throw e;
  }
  return finish(recipe);
}

// ---- setup ----

/** Plans the run, creates the optimizer and the state, and resumes from the latest checkpoint when asked. */
export function setup(input: RecipeInput): Recipe {
  const { config, data, model, runDir } = input;
  const plan = planRun(config, data);
  const optimizer = new OptimizerState(model.params);
  const metrics = new MetricsSink(runDir, config.tensorboard);
  const progress = new ProgressReporter(input.hooks.stdout ?? process.stdout, input.hooks.quiet);
  let state = freshState(config, plan);
  let position: TrainPosition = { epoch: 0, microBatch: 0 };
  if (input.resume) {
    const saved = resumeFromLatestCheckpoint({ runDir, plan, model, optimizer, metrics, progress });
    if (saved) {
      state = { ...state, ...saved, max_steps: plan.totalSteps };
      position = { epoch: saved.sft.epoch, microBatch: saved.sft.microBatch };
    }
  }
  const now = Date.now();
  return {
    config,
    runDir,
    model,
    data,
    kernels: input.kernels,
    hooks: input.hooks,
    optimizer,
    plan,
    metrics,
    progress,
    state,
    position,
    window: { lossSum: 0, tokens: 0, realTokens: 0, startedAt: now },
    counters: {
      startedAt: now,
      elapsedBefore: state.sft.elapsedSeconds,
      stepsThisProcess: 0,
      firstLoss: state.log_history.find((e) => e.loss !== undefined)?.loss,
      finalLoss: [...state.log_history].reverse().find((e) => e.loss !== undefined)?.loss,
      lastEvalLoss: undefined,
      lastEvalStep: -1,
      lastSavedStep: state.global_step > 0 ? state.global_step : -1,
      stoppedEarly: false,
    },
  };
}

export function planRun(config: TrainConfig, data: TrainingData): RunPlan {
  const totalSteps = totalTrainingSteps(
    data.microBatchesPerEpoch,
    config.gradient_accumulation_steps,
    config.num_train_epochs,
    config.max_steps,
  );
  return {
    totalSteps,
    stepsPerEpoch: Math.ceil(data.microBatchesPerEpoch / config.gradient_accumulation_steps),
    schedule: {
      type: config.lr_scheduler_type,
      peakLr: config.learning_rate,
      warmupSteps: resolveWarmupSteps(config.warmup_steps, config.warmup_ratio, totalSteps),
      totalSteps,
    },
    hasEval: data.evalBatches.length > 0,
  };
}

function freshState(config: TrainConfig, plan: RunPlan): TrainerState {
  return {
    global_step: 0,
    epoch: 0,
    max_steps: plan.totalSteps,
    num_train_epochs: Math.ceil(plan.totalSteps / plan.stepsPerEpoch),
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
}

/**
 * Loads weights and AdamW moments of the newest complete checkpoint whose checksums verify
 * (newer corrupt ones are moved aside with a warning) and returns its trainer state.
 */
function resumeFromLatestCheckpoint(into: {
  runDir: string;
  plan: RunPlan;
  model: TrainableModel;
  optimizer: OptimizerState;
  metrics: MetricsSink;
  progress: ProgressReporter;
}): TrainerState | undefined {
  const { runDir, plan, progress } = into;
  removeIncompleteCheckpoints(runDir);
  const { checkpoint: last, corrupt } = newestVerifiedCheckpoint(runDir);
  for (const c of corrupt)
    progress.warn(
      `warning: checkpoint-${c.step} is corrupt (${c.problem}); moved it to ${c.movedTo} and ` +
        (last ? `resume from checkpoint-${last.step}` : "found no earlier checkpoint that verifies"),
    );
  if (!last && corrupt.length > 0)
    throw new SftError("no checkpoint of the run passes its checksums", {
      where: { file: runDir },
      hint:
        `the corrupt ones were kept as ${corrupt.map((c) => basename(c.movedTo)).join(", ")}; ` +
        `start a new run, or run \`sft train --resume ${runDir}\` again to start this one from step 0`,
      code: "E_CHECKPOINT",
    });
  if (!last) {
    into.metrics.truncateAfter(0);
    progress.message("no complete checkpoint in the run directory: starting from step 0");
    return undefined;
  }
  const saved = readCheckpointState(last.dir);
  loadTrainable(into.model, join(last.dir, TRAINABLE_FILE));
  loadOptimizer(into.optimizer, join(last.dir, OPTIMIZER_FILE));
  into.optimizer.step = saved.global_step;
  into.metrics.truncateAfter(saved.global_step);
  progress.message(`resuming from ${last.dir} (step ${saved.global_step}/${plan.totalSteps})`);
  return saved;
}

/** The one-line description of a fresh run (what is trained, for how long, on what mix). */
function announce(recipe: Recipe): void {
  const { model, config, data, state } = recipe;
  if (state.global_step !== 0 || recipe.hooks.quiet) return;
  recipe.progress.message(
    `training ${model.numTrainable.toLocaleString("en")} of ${model.numParams.toLocaleString("en")} parameters ` +
      `(${config.finetuning_type}) for ${recipe.plan.totalSteps} steps; per-task samples per epoch: ` +
      Object.entries(data.taskCounts)
        .map(([k, v]) => `${k}=${v}`)
        .join(", "),
  );
}

// ---- the steps ----

/** Walks the accumulation windows from the current position until the last step or an early stop. */
async function trainSteps(recipe: Recipe): Promise<void> {
  const { config, data, plan } = recipe;
  const windows = accumulationWindows((e) => data.planEpoch(e), config.gradient_accumulation_steps, {
    ...recipe.position,
  });
  while (recipe.state.global_step < plan.totalSteps) {
    const next = windows.next();
    if (next.done) break;
    const outcome = trainStep(recipe, next.value);
    const isLogStep = isLoggingStep(config, plan, outcome.step);
    reportStep(recipe, outcome, isLogStep);
    let improved = false;
    if (isEvalStep(recipe, outcome.step)) {
      improved = trackBest(recipe, evaluate(recipe));
      recipe.counters.lastEvalStep = outcome.step;
    }
    if (isSaveStep(recipe, outcome.step, improved)) {
      await saveCheckpoint(recipe);
      recipe.counters.lastSavedStep = outcome.step;
    } else if (isLogStep) writeRunState(recipe);
    // the next throughput window starts after this step's eval and checkpoint
    if (isLogStep) recipe.window.startedAt = Date.now();
    if (recipe.counters.stoppedEarly) {
      recipe.progress.message(
        `early stopping at step ${outcome.step}: eval loss did not improve for ${config.early_stopping_patience} evaluations`,
      );
      break;
    }
  }
}

/**
 * One optimizer step: forward/backward over the window's micro-batches (the loss summed
 * over the window's trained tokens, so accumulation equals one big batch), the non-finite
 * checks, gradient clipping, AdamW; then the state and data position move past the window.
 */
export function trainStep(recipe: Recipe, window: StepWindow): StepOutcome {
  const { config, model, kernels, state, plan } = recipe;
  const { batches } = window;
  const store = model.params;
  const step = state.global_step + 1;
  const trained = batches.reduce((n, b) => n + b.trainedTokens, 0);
  store.zeroGrad();
  let lossSum = 0;
  for (const [micro, batch] of batches.entries()) {
    lossSum += model.forwardBackward(batch, {
      lossDenominator: Math.max(1, trained),
      dropoutSeed:
        config.finetuning_type === "lora" ? streamSeed(config.seed, "lora-dropout", step, micro) : null,
      neftune:
        config.neftune_noise_alpha !== undefined
          ? { alpha: config.neftune_noise_alpha, seed: streamSeed(config.seed, "neftune", step, micro) }
          : null,
    });
  }
  const loss = lossSum / Math.max(1, trained);
  assertFinite({ step, what: "loss", value: loss, recordIds: recordIdsOf(batches) });
  recipe.hooks.onGradients?.(step, store);
  const { norm } = clipGradNorm([store.trainableGrad], config.max_grad_norm, (x, n) =>
    kernels.sumSquares(x, n),
  );
  assertFinite({ step, what: "gradient norm", value: norm, recordIds: recordIdsOf(batches) });
  const learningRate = learningRateAt(plan.schedule, step - 1);
  adamwStep(kernels, recipe.optimizer, {
    lr: learningRate,
    beta1: config.adam_beta1,
    beta2: config.adam_beta2,
    eps: config.adam_epsilon,
    weightDecay: config.weight_decay,
  });

  const realTokens = batches.reduce((n, b) => n + b.realTokens, 0);
  recipe.position = window.next;
  const { position } = recipe;
  state.global_step = step;
  state.epoch = window.epoch + position.microBatch / Math.max(1, recipe.data.microBatchesPerEpoch);
  if (position.microBatch === 0) state.epoch = position.epoch;
  state.sft.epoch = position.epoch;
  state.sft.microBatch = position.microBatch;
  state.sft.trainedTokens += trained;
  state.sft.realTokens = (state.sft.realTokens ?? 0) + realTokens;
  state.sft.paddedTokens = (state.sft.paddedTokens ?? 0) + batches.reduce((n, b) => n + b.B * b.T, 0);
  recipe.counters.stepsThisProcess += 1;
  recipe.window.lossSum += lossSum;
  recipe.window.tokens += trained;
  recipe.window.realTokens += realTokens;
  state.sft.elapsedSeconds = recipe.counters.elapsedBefore + (Date.now() - recipe.counters.startedAt) / 1000;
  return { step, loss, learningRate, gradNorm: norm };
}

/** Logs a step (on log steps: the window's mean loss and throughput) and updates the progress line. */
export function reportStep(recipe: Recipe, outcome: StepOutcome, isLogStep: boolean): void {
  const { state, window, counters } = recipe;
  const { step } = outcome;
  const seconds = (Date.now() - window.startedAt) / 1000;
  const tokensPerSecond = seconds > 0 ? window.realTokens / seconds : undefined;
  let shownLoss = outcome.loss;
  if (isLogStep) {
    const meanLoss = window.lossSum / Math.max(1, window.tokens);
    shownLoss = meanLoss;
    counters.firstLoss ??= meanLoss;
    counters.finalLoss = meanLoss;
    logEntry(recipe, {
      step,
      epoch: round4(state.epoch),
      loss: meanLoss,
      learning_rate: outcome.learningRate,
      grad_norm: outcome.gradNorm,
      tokens_per_second: tokensPerSecond,
      num_input_tokens_seen: state.sft.paddedTokens,
    });
    recipe.window = { lossSum: 0, tokens: 0, realTokens: 0, startedAt: window.startedAt };
  }
  recipe.progress.update(
    {
      step,
      totalSteps: recipe.plan.totalSteps,
      epoch: state.epoch,
      loss: shownLoss,
      learningRate: outcome.learningRate,
      tokensPerSecond,
      elapsedSeconds: (Date.now() - counters.startedAt) / 1000,
      stepsThisProcess: counters.stepsThisProcess,
    },
    isLogStep,
  );
}

function isLoggingStep(config: TrainConfig, plan: RunPlan, step: number): boolean {
  return step % config.logging_steps === 0 || step === plan.totalSteps || step === 1;
}

function isEvalStep(recipe: Recipe, step: number): boolean {
  return recipe.plan.hasEval && recipe.config.eval_steps > 0 && step % recipe.config.eval_steps === 0;
}

function isSaveStep(recipe: Recipe, step: number, improved: boolean): boolean {
  const { config } = recipe;
  const due =
    (config.save_steps > 0 && step % config.save_steps === 0) || (improved && config.load_best_model_at_end);
  return due || recipe.counters.stoppedEarly || step === recipe.plan.totalSteps;
}

// ---- evaluate ----

/** Eval loss over all eval batches (per trained token), and per task when there are several. */
export function evaluate(recipe: Recipe): number {
  const { state } = recipe;
  let lossSum = 0;
  let tokens = 0;
  const perTask = new Map<string, { loss: number; tokens: number }>();
  for (const { batch, task } of recipe.data.evalBatches) {
    const r = recipe.model.evalLoss(batch);
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
  logEntry(recipe, entry);
  recipe.counters.lastEvalLoss = evalLoss;
  recipe.progress.message(
    `eval at step ${state.global_step}: eval_loss ${evalLoss.toFixed(4)}` +
      (perTask.size > 1
        ? ` (${[...perTask].map(([k, t]) => `${k} ${(t.loss / Math.max(1, t.tokens)).toFixed(4)}`).join(", ")})`
        : ""),
  );
  return evalLoss;
}

/** Records a new best eval loss (and its checkpoint), counts evals without one, decides early stopping. */
export function trackBest(recipe: Recipe, evalLoss: number): boolean {
  const { config, state } = recipe;
  const improved =
    state.best_metric === null || evalLoss < state.best_metric - config.early_stopping_threshold;
  if (improved) {
    state.best_metric = evalLoss;
    state.best_model_checkpoint = checkpointDir(recipe.runDir, state.global_step);
    state.sft.evalsWithoutImprovement = 0;
  } else {
    state.sft.evalsWithoutImprovement += 1;
  }
  if (
    config.early_stopping_patience !== undefined &&
    state.sft.evalsWithoutImprovement >= config.early_stopping_patience
  ) {
    recipe.counters.stoppedEarly = true;
  }
  return improved;
}

// ---- save ----

/** Writes checkpoint-<step> atomically, prunes to keep-last-K + best, writes the run's state. */
export async function saveCheckpoint(recipe: Recipe): Promise<string> {
  const { state, runDir, config } = recipe;
  state.sft.epoch = recipe.position.epoch;
  state.sft.microBatch = recipe.position.microBatch;
  const dir = await writeCheckpoint(
    runDir,
    state.global_step,
    (tmp, writing) => writeCheckpointFiles(tmp, recipe.model, recipe.optimizer, state, writing),
    { expectedBytes: checkpointBytes(recipe.model) },
  );
  const bestStep = state.best_model_checkpoint ? stepOfCheckpoint(state.best_model_checkpoint) : null;
  pruneCheckpoints(runDir, config.save_total_limit, bestStep);
  writeRunState(recipe);
  recipe.progress.message(`saved ${dir}`);
  return dir;
}

// ---- finish ----

/** The final eval and checkpoint (when the last step had none), the best weights, the result folder. */
export async function finish(recipe: Recipe): Promise<TrainResult> {
  const { config, state, runDir, counters, progress } = recipe;
  if (recipe.plan.hasEval && counters.lastEvalStep !== state.global_step) {
    evaluate(recipe);
    writeRunState(recipe);
  }
  if (counters.lastSavedStep !== state.global_step) await saveCheckpoint(recipe);
  if (
    config.load_best_model_at_end &&
    state.best_model_checkpoint &&
    existsSync(state.best_model_checkpoint)
  ) {
    loadTrainable(recipe.model, join(state.best_model_checkpoint, TRAINABLE_FILE));
    progress.message(
      `loaded the best checkpoint (eval_loss ${state.best_metric?.toFixed(4)}): ${state.best_model_checkpoint}`,
    );
  }
  const kind = config.finetuning_type === "lora" ? "adapter" : "model";
  const resultDir = join(runDir, kind);
  recipe.model.saveResult(resultDir);
  writeRunState(recipe);
  recipe.metrics.close();

  const seconds = counters.elapsedBefore + (Date.now() - counters.startedAt) / 1000;
  const summary: RunSummary = {
    runDir,
    steps: state.global_step,
    epochs: state.epoch,
    trainedTokens: state.sft.trainedTokens,
    seconds,
    firstLoss: counters.firstLoss,
    finalLoss: counters.finalLoss,
    finalEvalLoss: counters.lastEvalLoss,
    bestEvalLoss: state.best_metric,
    bestCheckpoint: state.best_model_checkpoint,
    stoppedEarly: counters.stoppedEarly,
    result: resultDir,
  };
  progress.message(formatSummary(summary));
  return {
    runDir,
    resultDir,
    kind,
    globalStep: state.global_step,
    epoch: state.epoch,
    finalLoss: counters.finalLoss,
    finalEvalLoss: counters.lastEvalLoss,
    bestMetric: state.best_metric,
    bestModelCheckpoint: state.best_model_checkpoint,
    stoppedEarly: counters.stoppedEarly,
    taskCounts: recipe.data.taskCounts,
    logHistory: state.log_history,
    trainedTokens: state.sft.trainedTokens,
    realTokens: state.sft.realTokens ?? 0,
    paddedTokens: state.sft.paddedTokens ?? 0,
    seconds,
  };
}

// ---- bookkeeping ----

/** One log_history entry: into the state, metrics.jsonl / TensorBoard, and the caller's hook. */
function logEntry(recipe: Recipe, entry: LogEntry): void {
  recipe.state.log_history.push(entry);
  recipe.metrics.log(entry);
  recipe.hooks.onLog?.(entry);
}

/** The run directory's live trainer_state.json (checkpoints hold their own copy). */
function writeRunState(recipe: Recipe): void {
  writeTrainerState(recipe.runDir, recipe.state);
}

/** Derives a 32-bit seed for one micro-batch of one stream. */
function streamSeed(seed: number, stream: string, step: number, micro: number): number {
  return Rng.seeded(seed, stream, step, micro).nextUint32();
}

function recordIdsOf(batches: readonly TrainBatch[]): string[] {
  return batches.flatMap((b) => b.recordIds);
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function stepOfCheckpoint(dir: string): number | null {
  const m = /checkpoint-(\d+)$/.exec(dir);
  return m ? Number(m[1]) : null;
}
