/**
 * What the PyTorch recipe reads, written once by sftkit into `RUN/torch/`: every training
 * micro-batch in training order (`batches.bin`, little-endian int32: input ids, labels and,
 * when packed, positions and segment ids, each [B·T]), the eval batches, and `plan.json`
 * (per optimizer step: its micro-batches, learning rate, epoch and data position; the
 * optimizer, logging, eval and save settings). The starting weights are written beside them:
 * an HF model directory for the base and, for LoRA, sftkit's initial adapter as PEFT files,
 * so both engines start from the same LoRA init of the same seed.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { resolveBaseDtype, type TrainConfig } from "../../config/train.js";
import { saveHfModel } from "../../engine/checkpoint/hf.js";
import { SftError } from "../../errors.js";
import { writeFileAtomicSync } from "../../util/atomic.js";
import { accumulationWindows } from "../batches.js";
import type { TrainBatch } from "../engine-bridge.js";
import type { PreparedRun } from "../index.js";
import { learningRateAt } from "../schedule.js";
import { planRun } from "../trainer.js";

export const TORCH_DIR = "torch";
export const PLAN_FILE = "plan.json";
export const BATCHES_FILE = "batches.bin";

/** Where one micro-batch lies in batches.bin (offset in int32 elements). */
export interface PlannedBatch {
  offset: number;
  B: number;
  T: number;
  packed: boolean;
  trained: number;
  real: number;
  task?: string;
}

export interface PlannedStep {
  /** indices into train_batches */
  micro: number[];
  lr: number;
  /** the fractional epoch after the step, as the native trainer counts it */
  epoch: number;
  next: { epoch: number; microBatch: number };
  trained: number;
  real: number;
  padded: number;
}

export interface TorchDeviceOptions {
  device: "cpu" | "cuda" | "mps";
  quiet: boolean;
  /** seconds a collective may wait for another rank before the job fails */
  timeoutSeconds: number;
}

/** Refuses options the recipe does not carry over, before anything is written. */
export function checkTorchSupport(config: TrainConfig): void {
  const dtype = resolveBaseDtype(config);
  if (dtype !== "f32")
    throw new SftError(
      `base_dtype ${dtype} is not supported by the torch engine (it trains a float32 base)`,
      {
        where: { field: "base_dtype" },
        hint: "drop base_dtype / --bf16 for --engine torch, or train with the native engine",
      },
    );
  if (config.neftune_noise_alpha !== undefined)
    throw new SftError("neftune_noise_alpha is not supported by the torch engine", {
      where: { field: "neftune_noise_alpha" },
      hint: "remove it, or train with the native engine (drop --engine torch)",
    });
}

/** Writes RUN/torch/ (batches, plan, starting weights) and returns its path. */
export function writeTorchPlan(
  config: TrainConfig,
  prepared: PreparedRun,
  device: TorchDeviceOptions,
): string {
  const { data } = prepared;
  const runDir = config.output_dir;
  const dir = join(runDir, TORCH_DIR);
  mkdirSync(dir, { recursive: true });
  const plan = planRun(config, data);

  const tmpBatches = join(dir, `${BATCHES_FILE}.tmp`);
  const fd = openSync(tmpBatches, "w");
  let offset = 0;
  const put = (a: Int32Array) => {
    // int32 little-endian: the byte order of every platform torch ships for
    writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    offset += a.length;
  };
  const place = (b: TrainBatch, task?: string): PlannedBatch => {
    const at = offset;
    const packed = b.positions !== undefined && b.segments !== undefined;
    put(b.inputIds);
    put(b.labels);
    if (packed) {
      put(b.positions as Int32Array);
      put(b.segments as Int32Array);
    }
    return { offset: at, B: b.B, T: b.T, packed, trained: b.trainedTokens, real: b.realTokens, task };
  };
  const trainBatches: PlannedBatch[] = [];
  const steps: PlannedStep[] = [];
  let evalBatches: PlannedBatch[] = [];
  try {
    const windows = accumulationWindows((e) => data.planEpoch(e), config.gradient_accumulation_steps, {
      epoch: 0,
      microBatch: 0,
    });
    while (steps.length < plan.totalSteps) {
      const w = windows.next();
      if (w.done) break;
      const micro = w.value.batches.map((b) => trainBatches.push(place(b)) - 1);
      const next = w.value.next;
      const epoch =
        next.microBatch === 0
          ? next.epoch
          : w.value.epoch + next.microBatch / Math.max(1, data.microBatchesPerEpoch);
      steps.push({
        micro,
        lr: learningRateAt(plan.schedule, steps.length),
        epoch,
        next,
        trained: w.value.batches.reduce((n, b) => n + b.trainedTokens, 0),
        real: w.value.batches.reduce((n, b) => n + b.realTokens, 0),
        padded: w.value.batches.reduce((n, b) => n + b.B * b.T, 0),
      });
    }
    evalBatches = data.evalBatches.map(({ batch, task }) => place(batch, task));
  } finally {
    closeSync(fd);
  }
  renameSync(tmpBatches, join(dir, BATCHES_FILE));

  const start = writeStartingWeights(config, prepared, dir);
  const json = {
    run_dir: resolve(runDir),
    base_dir: start.baseDir,
    init_adapter_dir: start.adapterDir,
    base_model_name: resolve(config.model),
    finetuning_type: config.finetuning_type,
    gradient_checkpointing: config.gradient_checkpointing,
    seed: config.seed,
    device: device.device,
    quiet: device.quiet,
    timeout_s: device.timeoutSeconds,
    total_steps: plan.totalSteps,
    num_train_epochs: Math.ceil(plan.totalSteps / plan.stepsPerEpoch),
    logging_steps: config.logging_steps,
    eval_steps: config.eval_steps,
    save_steps: config.save_steps,
    save_total_limit: config.save_total_limit ?? null,
    eval_on_start: config.eval_on_start,
    load_best_model_at_end: config.load_best_model_at_end,
    early_stopping_patience: config.early_stopping_patience ?? null,
    early_stopping_threshold: config.early_stopping_threshold,
    train_batch_size: config.per_device_train_batch_size,
    tensorboard: config.tensorboard,
    max_grad_norm: config.max_grad_norm,
    optimizer: {
      learning_rate: config.learning_rate,
      weight_decay: config.weight_decay,
      beta1: config.adam_beta1,
      beta2: config.adam_beta2,
      eps: config.adam_epsilon,
    },
    eval_tasks: [...new Set(evalBatches.map((b) => b.task as string))],
    steps,
    train_batches: trainBatches,
    eval_batches: evalBatches,
  };
  writeFileAtomicSync(join(dir, PLAN_FILE), `${JSON.stringify(json)}\n`);
  return dir;
}

/**
 * The base as an HF directory (the model's own when it is one, else written from the
 * opened weights) and, for LoRA, the initial adapter as PEFT files.
 */
function writeStartingWeights(
  config: TrainConfig,
  prepared: PreparedRun,
  dir: string,
): { baseDir: string; adapterDir: string | null } {
  const { opened } = prepared;
  const own = resolve(config.model);
  const isHfDir =
    existsSync(join(own, "config.json")) && readdirSync(own).some((n) => n.endsWith(".safetensors"));
  const baseDir = join(dir, "base");
  const adapterDir = join(dir, "init-adapter");
  rmSync(baseDir, { recursive: true, force: true });
  rmSync(adapterDir, { recursive: true, force: true });
  if (config.finetuning_type === "lora") {
    opened.trainable.saveResult(adapterDir);
    if (isHfDir) return { baseDir: own, adapterDir };
    saveHfModel(baseDir, opened.modelConfig, opened.model.stateDict());
    return { baseDir, adapterDir };
  }
  // full: the starting weights (with any adapter already folded in by the opener) and the tokenizer
  opened.trainable.saveResult(baseDir);
  return { baseDir, adapterDir: null };
}
