/**
 * `sft train [CONFIG.yaml] [flags]` and `sft train --resume RUN_DIR`: every config option is
 * also a flag (flags win over the YAML); the run itself is the library's `train`.
 */
import type { Command } from "commander";
import {
  configFromFlags,
  optionKey,
  resolveTrainConfig,
  TRAIN_FLAGS,
  type TrainFlag,
} from "../config/train.js";
import { SftError } from "../errors.js";
import { resumeTraining, train } from "../train/index.js";
import {
  isTorchRun,
  resumeWithTorch,
  type TorchEngineOptions,
  trainWithTorch,
} from "../train/torch-engine/index.js";
import { MODEL_SPEC_DESCRIPTIONS, optionFor as specOptionFor } from "./model-options.js";

const DESCRIPTIONS: Record<string, string> = {
  ...MODEL_SPEC_DESCRIPTIONS,
  adapter: "start from this PEFT adapter directory (LoRA)",
  data: "training data file (JSONL/JSON/CSV/Parquet; record, alpaca, sharegpt, openai, … formats)",
  dataset: "multi-task: PATH[:TASK[:WEIGHT]], repeatable (weight 2 = oversample ×2, 0.5 = half)",
  "eval-data": "eval data file",
  "eval-split": "fraction of the training data held out for eval when no eval data is given",
  "output-dir": "run directory",
  "finetuning-type": "lora or full",
  "lora-r": "LoRA rank",
  "lora-alpha": "LoRA alpha (scaling alpha/r)",
  "lora-dropout": "LoRA dropout",
  "lora-target-modules": "comma-separated module names, or all-linear",
  "lora-rslora": "rank-stabilised scaling alpha/sqrt(r)",
  "num-train-epochs": "epochs (fractions allowed)",
  "max-steps": "optimizer steps (overrides epochs)",
  "per-device-train-batch-size": "sequences per micro-batch",
  "per-device-eval-batch-size": "sequences per eval batch",
  "gradient-accumulation-steps": "micro-batches per optimizer step (loss averaged over all their tokens)",
  "learning-rate": "peak learning rate",
  "weight-decay": "AdamW decoupled weight decay",
  "adam-beta1": "AdamW beta1",
  "adam-beta2": "AdamW beta2",
  "adam-epsilon": "AdamW epsilon",
  "warmup-ratio": "warmup as a fraction of all steps",
  "warmup-steps": "warmup steps (wins over the ratio)",
  "lr-scheduler-type": "linear, cosine, constant or constant_with_warmup",
  "max-grad-norm": "gradient-norm clipping (0: off)",
  seed: "seed of data order, LoRA init, dropout",
  "logging-steps": "log every N steps",
  "eval-on-start": "evaluate the starting weights before the first step",
  "eval-steps": "evaluate every N steps (0: at the end only)",
  "save-steps": "checkpoint every N steps (0: at the end only)",
  "save-total-limit": "keep the newest N checkpoints (plus the best)",
  "load-best-model-at-end": "finish with the weights of the best eval loss",
  "early-stopping-patience": "stop after N evals without improvement",
  "early-stopping-threshold": "minimum eval-loss improvement that counts",
  "neftune-noise-alpha": "NEFTune embedding noise alpha",
  "gradient-checkpointing": "recompute activations in backward (less memory)",
  packing: "pack several samples per sequence (attention never crosses them)",
  truncation:
    "over-long samples: truncate_response (keep the prompt, cut the response), keep_whole_turns or drop",
  "lost-content":
    "records whose rendering lost a tool call/schema/result or system prompt: fail or drop (to rejects.jsonl)",
  preflight: "run the `sft data check` pre-flight checks on every sample first (false: skip)",
  tensorboard: "write TensorBoard event files under runs/",
};

function optionFor(f: TrainFlag, name: string, isAlias: boolean) {
  return specOptionFor(f, name, isAlias ? `same as --${f.flag}` : (DESCRIPTIONS[f.flag] ?? f.path.join(".")));
}

export function register(parent: Command): void {
  const cmd = parent
    .command("train")
    .description("fine-tune a model (LoRA or full) on an instruction dataset")
    .argument("[config]", "YAML config (keys as in Hugging Face TrainingArguments); flags override it")
    .option("--resume <run_dir>", "continue an interrupted run from its last complete checkpoint")
    .option("--full", "full fine-tuning (same as --finetuning-type full)")
    .option("--quiet", "no progress output")
    .option(
      "--engine <engine>",
      "native (this process, CPU) or torch (the PyTorch recipe: CUDA, MPS, several ranks)",
    )
    .option("--python <path>", "torch engine: the Python with torch, transformers, peft (default python3)")
    .option("--device <device>", "torch engine: cpu, cuda or mps (default cpu)")
    .option(
      "--nproc-per-node <n>",
      "torch engine: ranks on this machine (DDP-style gradient all-reduce; gloo on CPU, NCCL on CUDA)",
    )
    .option("--nnodes <n>", "torch engine: machines in the job")
    .option("--node-rank <r>", "torch engine: this machine's index, 0..nnodes-1")
    .option("--master-addr <addr>", "torch engine: address of node 0 (default 127.0.0.1)")
    .option(
      "--master-port <port>",
      "torch engine: rendezvous port on node 0 (default: a free one, one node only)",
    );
  for (const f of TRAIN_FLAGS) {
    cmd.addOption(optionFor(f, f.flag, false));
    for (const a of f.aliases ?? []) cmd.addOption(optionFor(f, a, true));
  }
  cmd.addHelpText(
    "after",
    `
Examples:
  sft train --model ./SmolLM2-135M --data train.jsonl --out runs/lora --max-steps 200 --lr 2e-4 --lora-r 16
  sft train recipe.yaml --seed 7 --eval-data dev.jsonl
  sft train --resume runs/lora
  sft train recipe.yaml --engine torch --python .venv/bin/python --nproc-per-node 2

The run directory holds config.yaml, datasets.json, trainer_state.json (HF log_history),
metrics.jsonl, runs/ (TensorBoard), checkpoint-<step>/ and the result: adapter/ (PEFT) or model/ (HF).`,
  );
  cmd.action(async (configFile: string | undefined, opts: Record<string, unknown>) => {
    const hooks = { quiet: opts.quiet === true };
    const torch = torchOptions(opts);
    if (opts.resume !== undefined) {
      const given = TRAIN_FLAGS.flatMap((f) => [f.flag, ...(f.aliases ?? [])]).filter(
        (n) => opts[optionKey(n)] !== undefined,
      );
      if (configFile || given.length > 0)
        throw new SftError(
          "--resume continues a run with its own saved config; other options are not allowed",
          {
            where: { field: given[0] ?? "config" },
            hint: `run \`sft train --resume ${String(opts.resume)}\` alone`,
          },
        );
      const runDir = String(opts.resume);
      if (isTorchRun(runDir) && opts.engine !== "native") await resumeWithTorch(runDir, torch, hooks);
      else if (opts.engine === "torch")
        throw new SftError("the run was not started with --engine torch", {
          where: { field: "--engine", file: runDir },
          hint: `resume it with the engine it started with: \`sft train --resume ${runDir}\``,
        });
      else await resumeTraining(runDir, hooks);
      return;
    }
    const flags = configFromFlags(opts);
    if (opts.full === true) flags.finetuning_type = "full";
    const config = resolveTrainConfig(configFile, flags);
    if (opts.engine === "torch") await trainWithTorch(config, torch, hooks);
    else await train(config, hooks);
  });
}

const TORCH_ONLY = ["python", "device", "nprocPerNode", "nnodes", "nodeRank", "masterAddr", "masterPort"];

/** The torch engine's flags (numbers checked); an unknown engine, or torch flags without it, fail. */
function torchOptions(opts: Record<string, unknown>): TorchEngineOptions {
  const engine = opts.engine;
  if (engine !== undefined && engine !== "native" && engine !== "torch")
    throw new SftError(`--engine must be native or torch, got ${String(engine)}`, {
      where: { field: "--engine" },
    });
  const given = TORCH_ONLY.filter((k) => opts[k] !== undefined);
  if (engine !== "torch" && opts.resume === undefined && given.length > 0)
    throw new SftError(
      `--${given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is an option of the torch engine`,
      {
        where: { field: "--engine" },
        hint: "add --engine torch",
      },
    );
  const int = (k: string, flag: string): number | undefined => {
    if (opts[k] === undefined) return undefined;
    const n = Number(opts[k]);
    if (!Number.isInteger(n))
      throw new SftError(`${flag} must be a whole number, got ${String(opts[k])}`, {
        where: { field: flag },
      });
    return n;
  };
  return {
    python: opts.python as string | undefined,
    device: opts.device as TorchEngineOptions["device"],
    nprocPerNode: int("nprocPerNode", "--nproc-per-node"),
    nnodes: int("nnodes", "--nnodes"),
    nodeRank: int("nodeRank", "--node-rank"),
    masterAddr: opts.masterAddr as string | undefined,
    masterPort: int("masterPort", "--master-port"),
  };
}
