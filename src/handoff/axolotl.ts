/**
 * The Axolotl side of a hand-off: a `config.yml` whose keys all exist in Axolotl's config
 * reference (docs/config-reference.qmd of axolotl-ai-cloud/axolotl, checked at commit
 * 29468bf2), training on the exported pre-tokenized rows (`ds_type: json`, no `type:`).
 */
import type { TrainConfig } from "../config/train.js";
import { baseDtypeFates, dataCarried, type MappedOptions, mapOptions, type OptionTable } from "./options.js";

export interface HandoffFiles {
  /** paths as the target reads them (relative to the hand-off directory) */
  train: string;
  eval?: string;
  /** Hugging Face model directory or hub id */
  baseModel: string;
  /** a LoRA adapter to start from */
  adapter?: string;
}

const none = (why: string) => ({ kind: "none" as const, why });

export function axolotlTable(files: HandoffFiles): OptionTable {
  return {
    ...dataCarried(),
    ...baseDtypeFates("axolotl"),
    model: { kind: "mapped", to: () => ({ base_model: files.baseModel }) },
    adapter: {
      kind: "mapped",
      to: () => (files.adapter ? { lora_model_dir: files.adapter } : {}),
    },
    output_dir: { kind: "mapped", to: () => ({ output_dir: "./outputs" }) },
    finetuning_type: {
      kind: "mapped",
      to: (c) => (c.finetuning_type === "lora" ? { adapter: "lora" } : {}),
    },
    lora: {
      kind: "mapped",
      to: (c) =>
        c.finetuning_type !== "lora"
          ? {}
          : {
              lora_r: c.lora.r,
              lora_alpha: c.lora.alpha,
              lora_dropout: c.lora.dropout,
              ...(c.lora.target_modules === "all-linear"
                ? { lora_target_linear: true }
                : { lora_target_modules: c.lora.target_modules }),
              ...(c.lora.rslora ? { peft_use_rslora: true } : {}),
            },
    },
    num_train_epochs: { kind: "mapped", to: (c) => ({ num_epochs: c.num_train_epochs }) },
    max_steps: { kind: "mapped", to: (c) => ({ max_steps: c.max_steps }) },
    per_device_train_batch_size: {
      kind: "mapped",
      to: (c) => ({ micro_batch_size: c.per_device_train_batch_size }),
    },
    per_device_eval_batch_size: {
      kind: "mapped",
      to: (c) => ({ eval_batch_size: c.per_device_eval_batch_size }),
    },
    gradient_accumulation_steps: {
      kind: "mapped",
      to: (c) => ({ gradient_accumulation_steps: c.gradient_accumulation_steps }),
    },
    learning_rate: { kind: "mapped", to: (c) => ({ learning_rate: c.learning_rate }) },
    weight_decay: { kind: "mapped", to: (c) => ({ weight_decay: c.weight_decay, optimizer: "adamw_torch" }) },
    adam_beta1: { kind: "mapped", to: (c) => ({ adam_beta1: c.adam_beta1 }) },
    adam_beta2: { kind: "mapped", to: (c) => ({ adam_beta2: c.adam_beta2 }) },
    adam_epsilon: { kind: "mapped", to: (c) => ({ adam_epsilon: c.adam_epsilon }) },
    // Axolotl rejects warmup_steps together with warmup_ratio: sftkit's warmup_steps wins when set
    warmup_ratio: {
      kind: "mapped",
      to: (c) => (c.warmup_steps > 0 || c.warmup_ratio === 0 ? {} : { warmup_ratio: c.warmup_ratio }),
    },
    warmup_steps: {
      kind: "mapped",
      to: (c) => (c.warmup_steps > 0 || c.warmup_ratio === 0 ? { warmup_steps: c.warmup_steps } : {}),
    },
    lr_scheduler_type: { kind: "mapped", to: (c) => ({ lr_scheduler: c.lr_scheduler_type }) },
    max_grad_norm: { kind: "mapped", to: (c) => ({ max_grad_norm: c.max_grad_norm }) },
    seed: { kind: "mapped", to: (c) => ({ seed: c.seed }) },
    logging_steps: { kind: "mapped", to: (c) => ({ logging_steps: c.logging_steps }) },
    eval_on_start: none("Axolotl has no option to evaluate before the first step"),
    eval_steps: {
      kind: "mapped",
      to: (c) => (files.eval && c.eval_steps > 0 ? { eval_steps: c.eval_steps } : {}),
    },
    save_steps: { kind: "mapped", to: (c) => (c.save_steps > 0 ? { save_steps: c.save_steps } : {}) },
    save_total_limit: { kind: "mapped", to: (c) => ({ save_total_limit: c.save_total_limit }) },
    load_best_model_at_end: {
      kind: "mapped",
      to: (c) => ({ load_best_model_at_end: c.load_best_model_at_end }),
    },
    early_stopping_patience: {
      kind: "mapped",
      to: (c) => ({ early_stopping_patience: c.early_stopping_patience }),
    },
    early_stopping_threshold: none(
      "Axolotl's early stopping takes a patience only; an improvement below the threshold still counts there",
    ),
    neftune_noise_alpha: { kind: "mapped", to: (c) => ({ neftune_noise_alpha: c.neftune_noise_alpha }) },
    gradient_checkpointing: {
      kind: "mapped",
      to: (c) => ({ gradient_checkpointing: c.gradient_checkpointing }),
    },
    max_seq_length: { kind: "mapped", to: (c) => ({ sequence_len: c.max_seq_length }) },
    packing: {
      kind: "mapped",
      // rows are already packed (with restarting position_ids); Axolotl must not pack again
      to: () => ({ sample_packing: false }),
    },
    tensorboard: { kind: "mapped", to: (c) => (c.tensorboard ? { use_tensorboard: true } : {}) },
  };
}

/** The Axolotl config (key → value) and what did not carry over. */
export function axolotlConfig(config: TrainConfig, files: HandoffFiles): MappedOptions {
  const mapped = mapOptions(config, axolotlTable(files));
  const datasets = [{ path: files.train, ds_type: "json", split: "train" }];
  const keys: Record<string, unknown> = {
    base_model: mapped.keys.base_model,
    datasets,
    ...(files.eval ? { test_datasets: [{ path: files.eval, ds_type: "json", split: "train" }] } : {}),
    val_set_size: 0,
    dataset_prepared_path: "./prepared",
    // keep the exported order: it is sftkit's epoch order
    shuffle_merged_datasets: false,
    ...mapped.keys,
  };
  return { ...mapped, keys };
}
