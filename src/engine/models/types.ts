/**
 * What a family's blocks (models/<family>/blocks.ts) provide to the shared transformer runtime
 * (transformer.ts): its parameter names and shapes, its activation sizes, and explicit
 * forward/backward functions for the embedding, one block, and the final norm.
 */

import { mixSeed } from "../../util/rng.js";
import type { ModelConfig } from "../config.js";
import type { AttentionShape, FloatArray, Kernels } from "../kernels/types.js";
import type { Param } from "../params.js";
import { type Linear, type LoraSaved, type LoraScratch, linearBackward, linearForward } from "./linear.js";
import type { RopeTables } from "./rope.js";

export type Views = Record<string, FloatArray>;

/** A linear layer of a block, as the family declares it. */
export interface LinearDef {
  /** Key inside the layer (`q_proj`, `attn.c_proj`). */
  key: string;
  /** LoRA target name (`q_proj`, `c_proj`). */
  target: string;
  /** HF module path (`model.layers.3.self_attn.q_proj`). */
  path: string;
  inF: number;
  outF: number;
  layout: "out_in" | "in_out";
  bias: boolean;
}

/** A non-linear tensor (norm weight, embedding…). */
export interface TensorDef {
  /** Key inside the layer or the model (`input_layernorm`, `wte`). */
  key: string;
  /** HF tensor name. */
  name: string;
  shape: number[];
  /** Weight decay applies (matrices/embeddings yes, norms/biases no). */
  decay: boolean;
}

export interface LayerParams {
  index: number;
  linears: Record<string, Linear>;
  tensors: Record<string, Param>;
}

/** Everything a forward/backward call shares: shapes, positions, kernels, scratch. */
export interface StepContext {
  k: Kernels;
  config: ModelConfig;
  B: number;
  T: number;
  /** B*T rows */
  N: number;
  /** [N] position of each token (restarts per packed sample) */
  positions: Int32Array;
  /** [N] packed-sample id per token, or undefined (one sample per row) */
  segments: Int32Array | undefined;
  /** Base seed of this call's LoRA dropout; null in evaluation (no dropout). */
  dropoutSeed: number | null;
  rope: RopeTables | null;
  loraScratch: LoraScratch | null;
  /** Incremental decoding: keys/values are appended here and attention reads the cache. */
  kv?: KVCache;
  /** NEFTune embedding noise (training only). */
  neftune?: { alpha: number; seed: number } | null;
}

/**
 * Keys and values of earlier positions for incremental decoding, per layer
 * [B, capacity, KVH, D]; `length` positions of every row are filled.
 */
export interface KVCache {
  B: number;
  capacity: number;
  length: number;
  keys: FloatArray[];
  values: FloatArray[];
}

/**
 * Causal attention of a block: straight to the kernel in training, or through the KV
 * cache when decoding (new keys/values appended, queries attend to all cached ones).
 */
export function attend(
  ctx: StepContext,
  layer: number,
  out: FloatArray,
  lse: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  shape: AttentionShape,
): void {
  const kv = ctx.kv;
  if (!kv) {
    ctx.k.attentionForward(out, lse, q, k, v, shape);
    return;
  }
  const { B, T } = ctx;
  const { H, KVH, D } = shape;
  const rowK = KVH * D;
  const rowQ = H * D;
  const keys = kv.keys[layer];
  const values = kv.values[layer];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const src = (b * T + t) * rowK;
      const dst = (b * kv.capacity + kv.length + t) * rowK;
      keys.set(k.subarray(src, src + rowK), dst);
      values.set(v.subarray(src, src + rowK), dst);
    }
  }
  const Tk = kv.length + T;
  for (let b = 0; b < B; b++) {
    const c0 = b * kv.capacity * rowK;
    ctx.k.attentionForward(
      out.subarray(b * T * rowQ, (b + 1) * T * rowQ),
      lse.subarray(b * H * T, (b + 1) * H * T),
      q.subarray(b * T * rowQ, (b + 1) * T * rowQ),
      keys.subarray(c0, c0 + Tk * rowK),
      values.subarray(c0, c0 + Tk * rowK),
      { B: 1, Tq: T, Tk, H, KVH, D, scale: shape.scale, window: shape.window, softcap: shape.softcap },
    );
  }
}

export interface FamilyBlocks {
  layerLinears(config: ModelConfig, layer: number): LinearDef[];
  layerTensors(config: ModelConfig, layer: number): TensorDef[];
  globalTensors(config: ModelConfig): TensorDef[];
  /** Keys (in globalTensors) of the input embedding tables. */
  embeddingTensorKeys: readonly string[];
  /** Key (in globalTensors) of the output projection; the embedding's key when tied. */
  lmHeadKey(config: ModelConfig): string;
  /** Saved activations of one block for N rows (LoRA tensors are added by the runtime). */
  actSizes(config: ModelConfig, N: number, B: number, T: number): Record<string, number>;
  /** Backward scratch shared by all blocks. */
  scratchSizes(config: ModelConfig, N: number, B: number, T: number): Record<string, number>;
  /** Statistics the final norm saves. */
  finalStatSizes(N: number): Record<string, number>;

  embedForward(ctx: StepContext, g: Record<string, Param>, out: FloatArray, ids: Int32Array): void;
  embedBackward(ctx: StepContext, g: Record<string, Param>, dout: FloatArray, ids: Int32Array): void;
  finalNormForward(
    ctx: StepContext,
    g: Record<string, Param>,
    out: FloatArray,
    stats: Views,
    x: FloatArray,
  ): void;
  /** ACCUMULATES into dx. */
  finalNormBackward(
    ctx: StepContext,
    g: Record<string, Param>,
    dx: FloatArray,
    dout: FloatArray,
    stats: Views,
    x: FloatArray,
  ): void;
  blockForward(
    ctx: StepContext,
    layer: LayerParams,
    acts: Views,
    scratch: Views,
    xIn: FloatArray,
    xOut: FloatArray,
  ): void;
  /**
   * dres holds d(xOut) on entry and d(xIn) on exit. With needInputGrad false (the first
   * block when the embeddings are frozen) d(xIn) may be left incomplete: only parameter
   * gradients are wanted.
   */
  blockBackward(
    ctx: StepContext,
    layer: LayerParams,
    acts: Views,
    scratch: Views,
    xIn: FloatArray,
    dres: FloatArray,
    needInputGrad: boolean,
  ): void;
}

/** The saved LoRA tensors of linear `key` inside a block's activations (null without LoRA). */
export function loraSaved(acts: Views, lin: Linear, key: string): LoraSaved | null {
  if (!lin.lora) return null;
  return { hidden: acts[`lora:${key}:h`], dropped: acts[`lora:${key}:d`] ?? null };
}

/** This call's dropout seed for one linear (null in evaluation). */
export function dropoutSeedFor(ctx: StepContext, lin: Linear): number | null {
  if (ctx.dropoutSeed === null || !lin.lora || lin.lora.dropout === 0) return null;
  return mixSeed(ctx.dropoutSeed, lin.streamId);
}

/** Forward of linear `key` of a block, saving its LoRA tensors in `acts`. */
export function blockLinearForward(
  ctx: StepContext,
  layer: LayerParams,
  key: string,
  acts: Views,
  out: FloatArray,
  x: FloatArray,
  accumulate: boolean,
): void {
  const lin = layer.linears[key];
  linearForward(
    ctx.k,
    lin,
    out,
    x,
    ctx.N,
    accumulate,
    loraSaved(acts, lin, key),
    ctx.loraScratch,
    dropoutSeedFor(ctx, lin),
  );
}

/** Backward of linear `key` of a block. */
export function blockLinearBackward(
  ctx: StepContext,
  layer: LayerParams,
  key: string,
  acts: Views,
  dx: FloatArray | null,
  dout: FloatArray,
  x: FloatArray,
  accumulateDx: boolean,
): void {
  const lin = layer.linears[key];
  linearBackward(
    ctx.k,
    lin,
    dx,
    dout,
    x,
    ctx.N,
    accumulateDx,
    loraSaved(acts, lin, key),
    ctx.loraScratch,
    dropoutSeedFor(ctx, lin),
  );
}
