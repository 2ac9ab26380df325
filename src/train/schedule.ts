/**
 * Learning-rate schedules with the semantics of Hugging Face `get_scheduler`: a multiplier
 * of the peak learning rate as a function of the number of optimizer steps already taken
 * (0 for the first update). Warmup rises linearly from 0; cosine is a half cosine to 0 at
 * `totalSteps`; linear decays to 0 at `totalSteps`.
 */

export const LR_SCHEDULER_TYPES = ["linear", "cosine", "constant", "constant_with_warmup"] as const;
export type LrSchedulerType = (typeof LR_SCHEDULER_TYPES)[number];

export interface ScheduleSpec {
  type: LrSchedulerType;
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** The multiplier applied to the peak LR for the update that follows `stepsDone` updates. */
export function lrMultiplier(spec: Omit<ScheduleSpec, "peakLr">, stepsDone: number): number {
  const { type, warmupSteps, totalSteps } = spec;
  if (type === "constant") return 1;
  if (stepsDone < warmupSteps) return stepsDone / Math.max(1, warmupSteps);
  if (type === "constant_with_warmup") return 1;
  const progress = (stepsDone - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (type === "linear") return Math.max(0, 1 - progress);
  // cosine with half a cycle
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

export function learningRateAt(spec: ScheduleSpec, stepsDone: number): number {
  return spec.peakLr * lrMultiplier(spec, stepsDone);
}

/** Warmup steps as HF resolves them: explicit steps win; else ceil(ratio × total). */
export function resolveWarmupSteps(warmupSteps: number, warmupRatio: number, totalSteps: number): number {
  if (warmupSteps > 0) return warmupSteps;
  return Math.ceil(warmupRatio * totalSteps);
}
