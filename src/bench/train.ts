/**
 * The training benchmark behind `sft bench train`: times full training steps (forward,
 * backward, AdamW) on random tokens; the result is one JSON object: tokens/s, median step
 * time, peak RSS, parameter counts, and with `profile` a per-op time table of a step.
 */
import type { ModelSpecInput } from "../config/model-spec.js";
import { getKernels } from "../engine/kernels/index.js";
import { nativeInfo, nativePeakGflops } from "../engine/kernels/native.js";
import { type ProfileRow, profileKernels } from "../engine/kernels/profile.js";
import { familyOf } from "../engine/models/registry.js";
import { adamwStep, OptimizerState } from "../engine/params.js";
import { SftError } from "../errors.js";
import { openModelWeights } from "../model/open.js";
import { Rng } from "../util/rng.js";

export interface BenchFlags {
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
  profile?: boolean;
}

/** `--profile`: where one step's time goes, per op group, averaged over the timed steps. */
export interface StepProfile {
  rows: (ProfileRow & {
    calls_per_step: number;
    ms_per_step: number;
    share: number;
    gflops: number | null;
  })[];
  /** Mean time of the timed steps (the shares are of this). */
  step_ms_mean: number;
  /** Step time not spent inside any kernel (TypeScript between the calls, allocation). */
  other_ms_per_step: number;
  /** GEMM + attention arithmetic of one step, counted from the calls. */
  step_gflop: number;
  /** step_gflop / median step time. */
  achieved_gflops: number;
  /** The machine's measured FMA peak at the SIMD level in use (null: reference kernels). */
  peak_gflops: number | null;
  /** achieved_gflops / peak_gflops (null when the peak is unknown). */
  peak_share: number | null;
  /** The GEMMs alone: their GFLOP/s while running, and its share of the peak. */
  gemm_gflops: number | null;
  gemm_peak_share: number | null;
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
  /** The system BLAS the GEMMs use for large shapes (null: built-in kernels only). */
  blas?: string | null;
  profile?: StepProfile;
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

/** `spec`: the model side (model, base_dtype) as the command gave it. */
export function benchTrain(f: BenchFlags, spec: ModelSpecInput): BenchTrainResult {
  const B = count("--batch-size", f.batchSize, null, 1);
  const T = count("--seq-len", f.seqLen, null, 2);
  const steps = count("--steps", f.steps, null, 1);
  const warmup = count("--warmup", f.warmup, 1, 0);
  const loraR = count("--lora-r", f.loraR, 0, 0);
  if (f.frozenBf16 && spec.base_dtype === undefined && spec.bf16 === undefined)
    spec = { ...spec, base_dtype: "bf16" };
  // the profiler learns the vocabulary size once the model is open (it reads the shape at
  // each call, so the LM-head GEMMs made after that are told apart)
  const profileShape = { vocabSize: -1, loraR };
  const profiler = f.profile ? profileKernels(getKernels(), profileShape) : null;
  const { model } = openModelWeights(spec, {
    seed: 0,
    ...(profiler ? { kernels: profiler.kernels } : {}),
    lora: loraR > 0 ? { r: loraR, alpha: 2 * loraR, targets: f.loraTargets?.split(",") } : null,
    gradientCheckpointing: f.gradientCheckpointing ?? false,
  });
  const config = model.config;
  profileShape.vocabSize = config.vocabSize;
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
    if (step === warmup) profiler?.reset();
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
  let blas: string | null = null;
  if (model.kernels.name === "native") {
    const info = nativeInfo();
    threads = info.threads;
    simd = info.simd;
    blas = info.blas;
  }
  const profile = profiler
    ? summarize(profiler.rows(), times, median, model.kernels.name === "native")
    : undefined;
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
    blas,
    ...(profile ? { profile } : {}),
  };
}

function summarize(rows: ProfileRow[], times: number[], medianMs: number, native: boolean): StepProfile {
  const steps = times.length;
  const stepMs = times.reduce((a, b) => a + b, 0) / steps;
  const peak = native ? (nativePeakGflops(0.1, 3) ?? null) : null;
  let inKernels = 0;
  let gflop = 0;
  let gemmGflop = 0;
  let gemmMs = 0;
  const out = rows.map((r) => {
    inKernels += r.ms;
    if (r.gflop !== null) gflop += r.gflop;
    if (r.op.startsWith("GEMM")) {
      gemmGflop += r.gflop ?? 0;
      gemmMs += r.ms;
    }
    return {
      ...r,
      calls_per_step: r.calls / steps,
      ms_per_step: r.ms / steps,
      share: r.ms / steps / stepMs,
      gflops: r.gflop === null || r.ms === 0 ? null : r.gflop / (r.ms / 1000),
    };
  });
  const stepGflop = gflop / steps;
  const achieved = stepGflop / (medianMs / 1000);
  const gemmRate = gemmMs > 0 ? gemmGflop / (gemmMs / 1000) : null;
  return {
    rows: out,
    step_ms_mean: stepMs,
    other_ms_per_step: (stepMs * steps - inKernels) / steps,
    step_gflop: stepGflop,
    achieved_gflops: achieved,
    peak_gflops: peak,
    peak_share: peak ? achieved / peak : null,
    gemm_gflops: gemmRate,
    gemm_peak_share: peak && gemmRate !== null ? gemmRate / peak : null,
  };
}

/** The profile as a table for people (stderr; stdout keeps its one JSON line). */
export function formatProfile(p: StepProfile): string {
  const head = ["op", "calls/step", "ms/step", "share", "GFLOP/s"];
  const body = p.rows.map((r) => [
    r.op,
    String(r.calls_per_step),
    r.ms_per_step.toFixed(1),
    `${(100 * r.share).toFixed(1)}%`,
    r.gflops === null ? "-" : r.gflops.toFixed(1),
  ]);
  body.push([
    "other (between kernels)",
    "-",
    p.other_ms_per_step.toFixed(1),
    `${((100 * p.other_ms_per_step) / p.step_ms_mean).toFixed(1)}%`,
    "-",
  ]);
  const w = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((x, c) => (c === 0 ? x.padEnd(w[c]) : x.padStart(w[c]))).join("  ");
  const pk = p.peak_gflops === null ? "peak unknown" : `peak ${p.peak_gflops.toFixed(1)} GFLOP/s`;
  const share = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(0)}%`);
  return [
    line(head),
    ...body.map(line),
    `step: ${p.step_gflop.toFixed(2)} GFLOP counted (GEMM + attention), ${p.achieved_gflops.toFixed(1)} GFLOP/s = ${share(p.peak_share)} of ${pk}; ` +
      `GEMMs alone ${p.gemm_gflops === null ? "-" : p.gemm_gflops.toFixed(1)} GFLOP/s = ${share(p.gemm_peak_share)}`,
  ].join("\n");
}
