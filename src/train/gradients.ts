/**
 * Global gradient-norm clipping (as torch.nn.utils.clip_grad_norm_) and the non-finite
 * check that stops a run before a NaN or Inf reaches the weights.
 */
import type { FloatArray } from "../engine/kernels/types.js";
import { SftError } from "../errors.js";

export interface GradientNormResult {
  /** the global L2 norm before clipping */
  norm: number;
  /** the factor the gradients were multiplied by (1 when not clipped) */
  scale: number;
}

/** L2 norm over all gradients; `sumSquares` is the kernels' float64-accumulating reduction. */
export function globalGradNorm(
  grads: readonly FloatArray[],
  sumSquares: (x: FloatArray, n: number) => number,
): number {
  let total = 0;
  for (const g of grads) total += sumSquares(g, g.length);
  return Math.sqrt(total);
}

/** Clips in place to `maxNorm` (0 disables) and returns the pre-clip norm. */
export function clipGradNorm(
  grads: readonly FloatArray[],
  maxNorm: number,
  sumSquares: (x: FloatArray, n: number) => number,
): GradientNormResult {
  const norm = globalGradNorm(grads, sumSquares);
  if (!(maxNorm > 0) || !Number.isFinite(norm)) return { norm, scale: 1 };
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { norm, scale: 1 };
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return { norm, scale: coef };
}

export interface NonFiniteContext {
  step: number;
  what: "loss" | "gradient norm";
  value: number;
  recordIds: readonly string[];
}

/** The error a run stops with when its loss or gradients stop being finite numbers. */
export function nonFiniteError(ctx: NonFiniteContext): SftError {
  const ids =
    ctx.recordIds.slice(0, 20).join(", ") +
    (ctx.recordIds.length > 20 ? `, … (${ctx.recordIds.length} in all)` : "");
  return new SftError(`training stopped at step ${ctx.step}: the ${ctx.what} is ${ctx.value} (not finite)`, {
    hint:
      `the batch held records: ${ids}. Lower learning_rate, set max_grad_norm (e.g. 1.0), add warmup, ` +
      "or inspect those records (`sft data inspect`); resume from the last checkpoint with `sft train --resume DIR`",
    code: "E_NONFINITE",
  });
}

/** Throws the non-finite error when `value` is NaN or ±Inf. */
export function assertFinite(ctx: NonFiniteContext): void {
  if (!Number.isFinite(ctx.value)) throw nonFiniteError(ctx);
}
