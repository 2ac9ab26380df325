/**
 * The run's bookkeeping in Hugging Face's `trainer_state.json` shape (so tools that read HF
 * runs read ours): `log_history` entries carry `step` and `loss` (training) or `eval_loss`,
 * plus `best_metric`, `best_model_checkpoint`, `global_step`, `epoch`. The trainer's own
 * resume fields (data position, RNG streams) live beside them under `sft`.
 */
import { readFileSync } from "node:fs";
import type { RngState } from "../util/rng.js";

export interface LogEntry {
  step: number;
  epoch: number;
  loss?: number;
  eval_loss?: number;
  learning_rate?: number;
  grad_norm?: number;
  [key: string]: number | undefined;
}

export interface ResumeInfo {
  /** data position after the last completed step */
  epoch: number;
  microBatch: number;
  rng: Record<string, RngState>;
  /** evals in a row without improvement (early stopping) */
  evalsWithoutImprovement: number;
  trainedTokens: number;
  /** non-padding tokens and padded positions (B×T) run through the model */
  realTokens?: number;
  paddedTokens?: number;
  elapsedSeconds: number;
}

export interface TrainerState {
  global_step: number;
  epoch: number;
  max_steps: number;
  num_train_epochs: number;
  logging_steps: number;
  eval_steps: number;
  save_steps: number;
  train_batch_size: number;
  best_metric: number | null;
  best_model_checkpoint: string | null;
  log_history: LogEntry[];
  sft: ResumeInfo;
}

export function readTrainerState(file: string): TrainerState {
  return JSON.parse(readFileSync(file, "utf8")) as TrainerState;
}
