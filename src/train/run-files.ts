/**
 * What a run directory holds besides checkpoints (the resolved config, the live trainer
 * state) and what one checkpoint holds: the trainable tensors, the AdamW moments and the
 * trainer state at that step. Reading checks every tensor against the model being trained.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify as yamlStringify } from "yaml";
import type { TrainConfig } from "../config/train.js";
import { readSafetensorsSync, writeSafetensors } from "../engine/checkpoint/safetensors.js";
import type { OptimizerState } from "../engine/params.js";
import type { Tensor } from "../engine/tensor.js";
import { SftError } from "../errors.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import type { TrainableModel } from "./engine-bridge.js";
import type { TrainerState } from "./state.js";

export const CONFIG_FILE = "config.yaml";
/** The datasets a run read: fingerprints, task counts, rejections, system prompts. */
export const DATASETS_FILE = "datasets.json";
export const STATE_FILE = "trainer_state.json";
export const TRAINABLE_FILE = "trainable.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
/** Held while a process trains into the run directory (see util/lock.ts). */
export const RUN_LOCK_FILE = ".sft-train.lock";

/** Writes the resolved config of a new run. */
export function writeRunConfig(runDir: string, config: TrainConfig): void {
  mkdirSync(runDir, { recursive: true });
  writeFileAtomicSync(join(runDir, CONFIG_FILE), yamlStringify(config));
}

/** The saved config of the run in `runDir` (read back by `--resume` through the config loader). */
export function runConfigFile(runDir: string): string {
  const file = join(runDir, CONFIG_FILE);
  if (!existsSync(file))
    throw new SftError(`no ${CONFIG_FILE} in the run directory`, {
      where: { file: runDir },
      hint: "--resume takes the output directory of an earlier `sft train` run",
    });
  return file;
}

/** The trainer state as `trainer_state.json` (in the run directory and in each checkpoint). */
export function writeTrainerState(dir: string, state: TrainerState): void {
  writeFileAtomicSync(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/** About how many bytes one checkpoint takes: the trainable tensors and two AdamW moments (F32). */
export function checkpointBytes(model: TrainableModel): number {
  return model.params.trainable().reduce((n, p) => n + p.data.length * 4 * 3, 0);
}

/** Fills a checkpoint directory: trainable tensors, AdamW moments (with the step), trainer state. */
export function writeCheckpointFiles(
  dir: string,
  model: TrainableModel,
  optimizer: OptimizerState,
  state: TrainerState,
  writing: (name: string) => void = () => {},
): void {
  const trainable = model.params.trainable();
  writing(TRAINABLE_FILE);
  writeSafetensors(
    join(dir, TRAINABLE_FILE),
    trainable.map((p) => [p.name, { shape: [...p.shape], data: p.data as Float32Array }] as const),
  );
  const moments: [string, Tensor][] = trainable.flatMap((p) => {
    const { m, v } = optimizer.moments(p);
    return [
      [`m.${p.name}`, { shape: [...p.shape], data: m as Float32Array }],
      [`v.${p.name}`, { shape: [...p.shape], data: v as Float32Array }],
    ] as [string, Tensor][];
  });
  writing(OPTIMIZER_FILE);
  writeSafetensors(join(dir, OPTIMIZER_FILE), moments, { metadata: { step: String(optimizer.step) } });
  writing(STATE_FILE);
  writeTrainerState(dir, state);
}

export function readCheckpointState(dir: string): TrainerState {
  return JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as TrainerState;
}

/** Loads a checkpoint's trainable tensors into the model. */
export function loadTrainable(model: TrainableModel, file: string): void {
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

/** Loads a checkpoint's AdamW moments; the step count comes from the trainer state (global_step). */
export function loadOptimizer(optimizer: OptimizerState, file: string): void {
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
}
