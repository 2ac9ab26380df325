/**
 * The linear layer every model is built from, with its optional LoRA branch:
 *   y = x W^T + b + scaling · (dropout(x) A^T) B^T
 * Forward and backward sit together. Two weight layouts exist because checkpoints store
 * them so: "out_in" (nn.Linear, [out, in]) and "in_out" (GPT-2's Conv1D, [in, out]); the
 * weight keeps the checkpoint's layout so parameters and gradients need no transposes.
 */

import { Rng } from "../../util/rng.js";
import type { FloatArray, Kernels } from "../kernels/types.js";
import { fillDropoutMask } from "../lora.js";
import type { Param } from "../params.js";

export interface LoraBranch {
  /** [r, in] */
  A: Param;
  /** [out, r] */
  B: Param;
  r: number;
  scaling: number;
  dropout: number;
}

export interface Linear {
  /** HF module path, e.g. `model.layers.0.self_attn.q_proj`. */
  path: string;
  inF: number;
  outF: number;
  weight: Param;
  /** Frozen weight held as bf16 bit patterns (then weight.data is empty and unused). */
  weightBf16: Uint16Array | null;
  layout: "out_in" | "in_out";
  bias: Param | null;
  lora: LoraBranch | null;
  /** Distinguishes this linear's dropout stream from its neighbours'. */
  streamId: number;
}

/** What a LoRA branch keeps from forward for backward. */
export interface LoraSaved {
  /** scaling · dropout(x) A^T, [rows, r] */
  hidden: FloatArray;
  /** dropout(x), [rows, in]; null when dropout is 0 (then x itself is used). */
  dropped: FloatArray | null;
}

/** Per-call scratch the LoRA backward needs (shared by all linears of a model). */
export interface LoraScratch {
  /** [rows, maxR] */
  dHidden: FloatArray;
  /** [rows, maxIn]: dropout mask, then d(dropout(x)) */
  mask: FloatArray;
  dDropped: FloatArray;
}

function matmulWeight(
  k: Kernels,
  lin: Linear,
  out: FloatArray,
  a: FloatArray,
  M: number,
  N: number,
  K: number,
  transB: boolean,
  accumulate: boolean,
  bias?: FloatArray,
): void {
  const opts = bias ? { transB, accumulate, bias } : { transB, accumulate };
  if (lin.weightBf16) k.matmulBf16(out, a, lin.weightBf16, M, N, K, opts);
  else k.matmul(out, a, lin.weight.data, M, N, K, opts);
}

/**
 * out[rows, outF] (=|+=) x[rows, inF] W^T + b (+ LoRA). `dropoutSeed` seeds this call's
 * mask (training only); null means no dropout (evaluation).
 */
export function linearForward(
  k: Kernels,
  lin: Linear,
  out: FloatArray,
  x: FloatArray,
  rows: number,
  accumulate: boolean,
  saved: LoraSaved | null,
  scratch: LoraScratch | null,
  dropoutSeed: number | null,
): void {
  const { inF, outF } = lin;
  const bias = lin.bias ? lin.bias.data : undefined;
  matmulWeight(k, lin, out, x, rows, outF, inF, lin.layout === "out_in", accumulate, bias);
  const lora = lin.lora;
  if (!lora) return;
  const r = lora.r;
  // Without a saved slot (inference) the hidden goes to scratch.
  const hidden = saved ? saved.hidden : scratch!.dHidden.subarray(0, rows * r);
  let input = x;
  if (lora.dropout > 0 && dropoutSeed !== null) {
    const mask = scratch!.mask.subarray(0, rows * inF);
    fillDropoutMask(mask, lora.dropout, new Rng(dropoutSeed));
    const dropped = saved?.dropped ?? scratch!.dDropped.subarray(0, rows * inF);
    for (let i = 0; i < rows * inF; i++) dropped[i] = x[i] * mask[i];
    input = dropped;
  } else if (saved?.dropped) {
    saved.dropped.set(x.subarray(0, rows * inF));
  }
  k.matmul(hidden, input, lora.A.data, rows, r, inF, { transB: true });
  k.scale(hidden, lora.scaling, rows * r);
  k.matmul(out, hidden, lora.B.data, rows, outF, r, { transB: true, accumulate: true });
}

/**
 * Backward of linearForward: dx (=|+=) dout W (+ LoRA path); dW, db, dA, dB += when the
 * tensor is trainable. `x` is the forward input; `saved` what forward kept. dx null: the
 * input gradient is not needed (nothing below is trainable) and is not computed.
 */
export function linearBackward(
  k: Kernels,
  lin: Linear,
  dx: FloatArray | null,
  dout: FloatArray,
  x: FloatArray,
  rows: number,
  accumulateDx: boolean,
  saved: LoraSaved | null,
  scratch: LoraScratch | null,
  dropoutSeed: number | null,
): void {
  const { inF, outF } = lin;
  // dx = dout[rows, out] · W as op(b)[out, in]
  if (dx) matmulWeight(k, lin, dx, dout, rows, inF, outF, lin.layout === "in_out", accumulateDx);
  const wGrad = lin.weight.grad;
  if (wGrad) {
    if (lin.layout === "out_in")
      k.matmul(wGrad, dout, x, outF, inF, rows, { transA: true, accumulate: true });
    else k.matmul(wGrad, x, dout, inF, outF, rows, { transA: true, accumulate: true });
  }
  if (lin.bias?.grad) k.biasBackward(lin.bias.grad, dout, rows, outF);
  const lora = lin.lora;
  if (!lora || !saved) return;
  if (!dx && !lora.A.grad && !lora.B.grad) return;
  const r = lora.r;
  const sc = scratch!;
  // dB[out, r] += dout^T · hidden (hidden already carries the scaling)
  if (lora.B.grad)
    k.matmul(lora.B.grad, dout, saved.hidden, outF, r, rows, { transA: true, accumulate: true });
  // dHidden[rows, r] = scaling · dout · B
  const dHidden = sc.dHidden.subarray(0, rows * r);
  k.matmul(dHidden, dout, lora.B.data, rows, r, outF);
  k.scale(dHidden, lora.scaling, rows * r);
  const input = saved.dropped ?? x;
  if (lora.A.grad) k.matmul(lora.A.grad, dHidden, input, r, inF, rows, { transA: true, accumulate: true });
  if (!dx) return;
  if (lora.dropout > 0 && dropoutSeed !== null) {
    const dDropped = sc.dDropped.subarray(0, rows * inF);
    k.matmul(dDropped, dHidden, lora.A.data, rows, inF, r);
    const mask = sc.mask.subarray(0, rows * inF);
    fillDropoutMask(mask, lora.dropout, new Rng(dropoutSeed));
    for (let i = 0; i < rows * inF; i++) dx[i] += dDropped[i] * mask[i];
  } else {
    k.matmul(dx, dHidden, lora.A.data, rows, inF, r, { accumulate: true });
  }
}
