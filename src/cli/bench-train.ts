/**
 * `sft bench train`: times full training steps (forward, backward, AdamW) on random
 * tokens and prints one JSON line: tokens/s, median step time, peak RSS, parameter counts.
 */
import type { Command } from "commander";
import { nativeInfo } from "../engine/kernels/native.js";
import { familyOf } from "../engine/models/registry.js";
import { adamwStep, OptimizerState } from "../engine/params.js";
import { SftError } from "../errors.js";
import { openModelWeights } from "../model/open.js";
import { addModelSpecOptions, modelSpecFromOptions } from "./model-options.js";

/** Random tokens, no adapter: the spec's model and base dtype only. */
const BENCH_SPEC = {
  omit: ["adapter", "tokenizer", "template", "chat_template", "mask_policy", "max_seq_length"] as const,
};

import { Rng } from "../util/rng.js";

interface BenchFlags {
  model: string;
  baseDtype?: string;
  batchSize: string;
  seqLen: string;
  steps: string;
  warmup?: string;
  loraR?: string;
  loraTargets?: string;
  gradientCheckpointing?: boolean;
  frozenBf16?: boolean;
}

export interface BenchTrainResult {
  impl: "sftkit";
  kernels: string;
  threads: number | null;
  simd: string | null;
  batch_size: number;
  seq_len: number;
  steps: number;
  tokens_per_s: number;
  step_ms: number;
  step_ms_all: number[];
  peak_rss_mb: number;
  params: number;
  trainable_params: number;
  loss: number;
}

function count(flag: string, v: string | undefined, fallback: number | null, min: number): number {
  if (v === undefined) {
    if (fallback === null) throw new SftError(`${flag} is required`, { where: { field: flag } });
    return fallback;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new SftError(`${flag} must be an integer >= ${min}, got "${v}"`, { where: { field: flag } });
  }
  return n;
}

export function benchTrain(f: BenchFlags): BenchTrainResult {
  const B = count("--batch-size", f.batchSize, null, 1);
  const T = count("--seq-len", f.seqLen, null, 2);
  const steps = count("--steps", f.steps, null, 1);
  const warmup = count("--warmup", f.warmup, 1, 0);
  const loraR = count("--lora-r", f.loraR, 0, 0);
  const spec = modelSpecFromOptions(f as unknown as Record<string, unknown>, BENCH_SPEC);
  if (f.frozenBf16 && spec.base_dtype === undefined && spec.bf16 === undefined) spec.base_dtype = "bf16";
  const { model } = openModelWeights(spec, {
    seed: 0,
    lora: loraR > 0 ? { r: loraR, alpha: 2 * loraR, targets: f.loraTargets?.split(",") } : null,
    gradientCheckpointing: f.gradientCheckpointing ?? false,
  });
  const config = model.config;
  const maxPositions = familyOf(config).maxPositions(config);
  if (maxPositions !== null && T > maxPositions) {
    throw new SftError(`--seq-len ${T} exceeds the model's ${maxPositions} positions`, {
      where: { field: "--seq-len" },
    });
  }
  const opt = new OptimizerState(model.store);
  const hyper = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  const rng = new Rng(1);
  const ids = new Int32Array(B * T);
  const times: number[] = [];
  let loss = 0;
  for (let step = 0; step < warmup + steps; step++) {
    for (let i = 0; i < ids.length; i++) ids[i] = rng.nextUint32() % config.vocabSize;
    const t0 = performance.now();
    model.zeroGrad();
    loss = model.forwardBackward({ B, T, inputIds: ids, labels: ids }).loss;
    adamwStep(model.kernels, opt, hyper);
    const dt = performance.now() - t0;
    if (step >= warmup) times.push(dt);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  let threads: number | null = null;
  let simd: string | null = null;
  if (model.kernels.name === "native") {
    const info = nativeInfo();
    threads = info.threads;
    simd = info.simd;
  }
  return {
    impl: "sftkit",
    kernels: model.kernels.name,
    threads,
    simd,
    batch_size: B,
    seq_len: T,
    steps,
    tokens_per_s: (B * T) / (median / 1000),
    step_ms: median,
    step_ms_all: times.map((t) => Math.round(t * 10) / 10),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    params: model.numParameters,
    trainable_params: model.numTrainableParameters,
    loss,
  };
}

export function register(parent: Command): void {
  const cmd = parent
    .command("train")
    .description("time training steps (forward, backward, AdamW) on random tokens; prints one JSON line");
  addModelSpecOptions(cmd, {
    ...BENCH_SPEC,
    describe: { model: "HF model directory, .gguf file, or a bare config.json (random weights) (required)" },
  })
    .requiredOption("--batch-size <n>", "sequences per step")
    .requiredOption("--seq-len <n>", "tokens per sequence")
    .requiredOption("--steps <n>", "timed steps")
    .option("--warmup <n>", "untimed steps first (default 1)")
    .option("--lora-r <n>", "train LoRA adapters of this rank instead of every weight")
    .option("--lora-targets <list>", "LoRA modules (default q_proj,v_proj; GPT-2 c_attn)")
    .option("--gradient-checkpointing", "recompute each block in backward (less memory)")
    .option("--frozen-bf16", "same as --base-dtype bf16 (with --lora-r)")
    .addHelpText(
      "after",
      "\nExample:\n  sft bench train --model config.json --batch-size 4 --seq-len 256 --steps 5\n",
    )
    .action((opts: BenchFlags) => {
      process.stdout.write(`${JSON.stringify(benchTrain(opts))}\n`);
    });
}
