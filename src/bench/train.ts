/**
 * The training benchmark behind `sft bench train`: times full training steps (forward,
 * backward, AdamW) on random tokens; the result is one JSON object: tokens/s, median step
 * time, peak RSS, parameter counts.
 */
import { loadCheckpoint } from "../engine/checkpoint/hf.js";
import { nativeInfo } from "../engine/kernels/native.js";
import { createModel } from "../engine/model.js";
import { familyOf } from "../engine/models/registry.js";
import { adamwStep, OptimizerState } from "../engine/params.js";
import { SftError } from "../errors.js";
import { Rng } from "../util/rng.js";

/** The command's flags as given (strings; validated here). */
export interface BenchFlags {
  model: string;
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
  const { config, tensors } = loadCheckpoint(f.model);
  const maxPositions = familyOf(config).maxPositions(config);
  if (maxPositions !== null && T > maxPositions) {
    throw new SftError(`--seq-len ${T} exceeds the model's ${maxPositions} positions`, {
      where: { field: "--seq-len" },
    });
  }
  const model = createModel(config, tensors.size > 0 ? tensors : null, {
    seed: 0,
    lora: loraR > 0 ? { r: loraR, alpha: 2 * loraR, targets: f.loraTargets?.split(",") } : null,
    gradientCheckpointing: f.gradientCheckpointing ?? false,
    frozenBf16: f.frozenBf16 ?? false,
  });
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
