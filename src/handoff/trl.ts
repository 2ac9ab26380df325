/**
 * The TRL side of a hand-off: a Python script that trains with TRL's SFTTrainer (1.13) on the
 * exported pre-tokenized rows (`input_ids` + `labels`, used as they are), with a PEFT LoRA
 * config and SFTConfig arguments taken from the sftkit config.
 */
import type { TrainConfig } from "../config/train.js";
import type { HandoffFiles } from "./axolotl.js";
import { baseDtypeFates, dataCarried, type MappedOptions, mapOptions, type OptionTable } from "./options.js";

const none = (why: string) => ({ kind: "none" as const, why });

/** SFTConfig (TrainingArguments) keyword arguments, plus `peft` for the LoraConfig. */
export function trlTable(files: HandoffFiles, config: TrainConfig): OptionTable {
  // transformers' EarlyStoppingCallback refuses to run without load_best_model_at_end
  const earlyStopping = config.load_best_model_at_end && files.eval !== undefined;
  return {
    ...dataCarried(),
    ...baseDtypeFates(
      "none",
      "the TRL script loads the base in float32; a bf16 or 8-/4-bit base needs torch_dtype or a bitsandbytes setup on CUDA",
    ),
    model: { kind: "mapped", to: () => ({ model: files.baseModel }) },
    adapter: none(
      "the script starts a fresh LoRA adapter; load the sftkit adapter with PeftModel.from_pretrained by hand",
    ),
    output_dir: { kind: "mapped", to: () => ({ output_dir: "outputs" }) },
    finetuning_type: { kind: "mapped", to: (c) => ({ finetuning_type: c.finetuning_type }) },
    lora: {
      kind: "mapped",
      to: (c) =>
        c.finetuning_type !== "lora"
          ? {}
          : {
              peft: {
                r: c.lora.r,
                lora_alpha: c.lora.alpha,
                lora_dropout: c.lora.dropout,
                target_modules: c.lora.target_modules,
                use_rslora: c.lora.rslora,
              },
            },
    },
    num_train_epochs: { kind: "mapped", to: (c) => ({ num_train_epochs: c.num_train_epochs }) },
    max_steps: { kind: "mapped", to: (c) => ({ max_steps: c.max_steps }) },
    per_device_train_batch_size: {
      kind: "mapped",
      to: (c) => ({ per_device_train_batch_size: c.per_device_train_batch_size }),
    },
    per_device_eval_batch_size: {
      kind: "mapped",
      to: (c) => ({ per_device_eval_batch_size: c.per_device_eval_batch_size }),
    },
    gradient_accumulation_steps: {
      kind: "mapped",
      to: (c) => ({ gradient_accumulation_steps: c.gradient_accumulation_steps }),
    },
    learning_rate: { kind: "mapped", to: (c) => ({ learning_rate: c.learning_rate }) },
    weight_decay: { kind: "mapped", to: (c) => ({ weight_decay: c.weight_decay }) },
    adam_beta1: { kind: "mapped", to: (c) => ({ adam_beta1: c.adam_beta1 }) },
    adam_beta2: { kind: "mapped", to: (c) => ({ adam_beta2: c.adam_beta2 }) },
    adam_epsilon: { kind: "mapped", to: (c) => ({ adam_epsilon: c.adam_epsilon }) },
    // transformers 5 takes a warmup ratio as a float below 1 in warmup_steps
    warmup_ratio: {
      kind: "mapped",
      to: (c) => (c.warmup_steps > 0 || c.warmup_ratio === 0 ? {} : { warmup_steps: c.warmup_ratio }),
    },
    warmup_steps: { kind: "mapped", to: (c) => (c.warmup_steps > 0 ? { warmup_steps: c.warmup_steps } : {}) },
    lr_scheduler_type: { kind: "mapped", to: (c) => ({ lr_scheduler_type: c.lr_scheduler_type }) },
    max_grad_norm: { kind: "mapped", to: (c) => ({ max_grad_norm: c.max_grad_norm }) },
    seed: { kind: "mapped", to: (c) => ({ seed: c.seed, data_seed: c.seed }) },
    logging_steps: {
      kind: "mapped",
      to: (c) => ({ logging_steps: c.logging_steps, logging_first_step: true }),
    },
    eval_on_start: { kind: "mapped", to: (c) => (files.eval ? { eval_on_start: c.eval_on_start } : {}) },
    eval_steps: {
      kind: "mapped",
      to: (c) =>
        !files.eval
          ? { eval_strategy: "no" }
          : c.eval_steps > 0
            ? { eval_strategy: "steps", eval_steps: c.eval_steps }
            : { eval_strategy: "epoch" },
    },
    save_steps: {
      kind: "mapped",
      to: (c) =>
        c.save_steps > 0 ? { save_strategy: "steps", save_steps: c.save_steps } : { save_strategy: "epoch" },
    },
    save_total_limit: { kind: "mapped", to: (c) => ({ save_total_limit: c.save_total_limit }) },
    load_best_model_at_end: {
      kind: "mapped",
      to: (c) => ({ load_best_model_at_end: c.load_best_model_at_end }),
    },
    early_stopping_patience: earlyStopping
      ? { kind: "mapped", to: (c) => ({ early_stopping_patience: c.early_stopping_patience }) }
      : none("transformers' EarlyStoppingCallback needs load_best_model_at_end and eval data"),
    early_stopping_threshold: earlyStopping
      ? {
          kind: "mapped",
          to: (c) =>
            c.early_stopping_patience ? { early_stopping_threshold: c.early_stopping_threshold } : {},
        }
      : none("transformers' EarlyStoppingCallback needs load_best_model_at_end and eval data"),
    neftune_noise_alpha: { kind: "mapped", to: (c) => ({ neftune_noise_alpha: c.neftune_noise_alpha }) },
    gradient_checkpointing: {
      kind: "mapped",
      to: (c) => ({ gradient_checkpointing: c.gradient_checkpointing }),
    },
    max_seq_length: { kind: "mapped", to: (c) => ({ max_length: c.max_seq_length }) },
    // packed rows carry seq_lengths; the padding-free collator restarts positions from them
    packing: { kind: "mapped", to: (c) => ({ packing: false, padding_free: c.packing }) },
    tensorboard: { kind: "mapped", to: (c) => ({ report_to: c.tensorboard ? ["tensorboard"] : [] }) },
  };
}

const SCRIPT_ONLY = new Set([
  "model",
  "finetuning_type",
  "peft",
  "early_stopping_patience",
  "early_stopping_threshold",
]);

function py(value: unknown): string {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  if (Array.isArray(value)) return `[${value.map(py).join(", ")}]`;
  if (typeof value === "object")
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`)
      .join(", ")}}`;
  return JSON.stringify(value);
}

/** The script's text and what did not carry over. */
export function trlScript(config: TrainConfig, files: HandoffFiles): MappedOptions & { script: string } {
  const mapped = mapOptions(config, trlTable(files, config));
  const k = mapped.keys;
  const args = Object.entries(k)
    .filter(([key]) => !SCRIPT_ONLY.has(key))
    .map(([key, v]) => `    ${key}=${py(v)},`)
    .join("\n");
  const peft = k.peft as Record<string, unknown> | undefined;
  const script = `"""Trains with TRL's SFTTrainer on rows exported by \`sft handoff trl\`.

The rows are pre-tokenized exactly as sftkit trains on them (template, label mask,
truncation, packing): TRL uses their input_ids and labels as they are.
Launch: accelerate launch train_trl.py   (or: python train_trl.py)
"""
import sys

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, EarlyStoppingCallback
from trl import SFTConfig, SFTTrainer

MODEL = ${py(files.baseModel)}
OUTPUT_DIR = sys.argv[1] if len(sys.argv) > 1 else "outputs"

data_files = {"train": ${py(files.train)}${files.eval ? `, "eval": ${py(files.eval)}` : ""}}
data = load_dataset("json", data_files=data_files)

args = SFTConfig(
${args.replace('output_dir="outputs"', "output_dir=OUTPUT_DIR")}
    # sftkit trains in float32; on a machine without CUDA run on the CPU
    bf16=False,
    use_cpu=not torch.cuda.is_available(),
    # the rows are in sftkit's epoch order; pre-tokenized rows keep their labels
    shuffle_dataset=False,
    dataset_kwargs={"skip_prepare_dataset": False},
)
peft_config = ${peft ? `LoraConfig(task_type="CAUSAL_LM", **${py(peft)})` : "None"}
callbacks = []
${
  k.early_stopping_patience !== undefined
    ? `callbacks.append(EarlyStoppingCallback(early_stopping_patience=${py(k.early_stopping_patience)}, early_stopping_threshold=${py(k.early_stopping_threshold ?? 0)}))`
    : ""
}
model = AutoModelForCausalLM.from_pretrained(MODEL, dtype="float32")
trainer = SFTTrainer(
    model=model,
    args=args,
    train_dataset=data["train"],
    eval_dataset=data.get("eval"),
    peft_config=peft_config,
    callbacks=callbacks,
)
trainer.train()
trainer.save_model(OUTPUT_DIR + ${peft ? '"/adapter"' : '"/model"'})
`;
  return { ...mapped, script };
}
