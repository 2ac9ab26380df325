/**
 * Loading a model for inference or further training: a base checkpoint (HF directory,
 * .gguf, or bare config.json for random weights), optionally with a PEFT LoRA adapter on
 * top — the `--model BASE --adapter DIR` pair every command takes.
 */
import { type LoadedCheckpoint, loadCheckpoint } from "./checkpoint/hf.js";
import { type LoraAdapter, readPeftAdapter } from "./checkpoint/peft.js";
import type { LoraOptions } from "./lora.js";
import { type CreateModelOptions, createModel, type Model } from "./model.js";

export interface LoadModelOptions extends Omit<CreateModelOptions, "lora"> {
  /** A PEFT adapter directory (adapter_config.json + adapter_model.safetensors). */
  adapter?: string;
}

export interface LoadedModel {
  model: Model;
  checkpoint: LoadedCheckpoint;
  adapter?: LoraAdapter;
}

/** LoRA options that reproduce an adapter's own rank, alpha, targets and scaling. */
export function loraOptionsOf(adapter: LoraAdapter): LoraOptions {
  return {
    r: adapter.config.r,
    alpha: adapter.config.loraAlpha,
    dropout: adapter.config.loraDropout,
    targets: adapter.config.targetModules,
    rsLora: adapter.config.useRslora,
  };
}

export function loadModel(path: string, opts: LoadModelOptions = {}): LoadedModel {
  const checkpoint = loadCheckpoint(path);
  const adapter = opts.adapter ? readPeftAdapter(opts.adapter) : undefined;
  const { adapter: _ignored, ...createOpts } = opts;
  const model = createModel(checkpoint.config, checkpoint.tensors, {
    ...createOpts,
    lora: adapter ? loraOptionsOf(adapter) : null,
  });
  if (adapter && opts.adapter) model.loadAdapter(adapter.tensors, opts.adapter);
  return { model, checkpoint, ...(adapter ? { adapter } : {}) };
}
