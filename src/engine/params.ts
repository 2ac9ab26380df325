/**
 * Parameter, gradient and optimizer-state buffers. All trainable parameters of a model live
 * in ONE contiguous buffer, their gradients in a second one of the same length, and the
 * AdamW moments in two more; frozen parameters live in a separate buffer without gradients.
 * Each named tensor is a typed-array view into these buffers, allocated once per model.
 * Keeping trainable tensors contiguous lets gradient clipping and the optimizer run over a
 * few long arrays instead of hundreds of small ones.
 */
import { SftError } from "../errors.js";
import { bf16ToFloat, floatToBf16 } from "./checkpoint/numeric.js";
import type { FloatArray, Kernels } from "./kernels/types.js";
import { numel } from "./tensor.js";

/** Arithmetic precision of a model: float32 for training, float64 for gradient checks. */
export type DType = "float32" | "float64";

export function allocFloat(dtype: DType, n: number): FloatArray {
  return dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
}

export interface ParamSpec {
  /** Hugging Face name (`model.layers.0.self_attn.q_proj.weight`) or PEFT name for LoRA tensors. */
  name: string;
  shape: number[];
  trainable: boolean;
  /** Decoupled weight decay applies (false for biases, norms and LoRA-free 1-D tensors by convention). */
  decay: boolean;
  /** Frozen only: hold the values as bfloat16 bit patterns (half the memory of float32). */
  bf16?: boolean;
}

/** One named tensor of a model. `grad` is null for frozen tensors: they never get gradients. */
export interface Param {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: FloatArray;
  readonly grad: FloatArray | null;
  readonly trainable: boolean;
  readonly decay: boolean;
  /** bf16 bit patterns of a frozen tensor stored in bf16 (then `data` is empty). */
  readonly bf16: Uint16Array | null;
  /** Offset of this tensor inside ParamStore.trainableData/trainableGrad (-1 when frozen). */
  readonly offset: number;
}

export class ParamStore {
  readonly dtype: DType;
  readonly params: Param[] = [];
  /** Every trainable tensor, back to back, in `params` order. */
  readonly trainableData: FloatArray;
  /** Gradients, same layout as trainableData. Accumulated by backward; cleared by zeroGrad. */
  readonly trainableGrad: FloatArray;
  /** Every frozen tensor, back to back. */
  readonly frozenData: FloatArray;
  /** Every frozen tensor held in bf16, back to back. */
  readonly frozenBf16: Uint16Array;
  private readonly byName = new Map<string, Param>();

  constructor(specs: ParamSpec[], dtype: DType) {
    this.dtype = dtype;
    let nTrain = 0;
    let nFrozen = 0;
    let nBf16 = 0;
    for (const s of specs) {
      if (this.byName.has(s.name)) throw new Error(`duplicate parameter ${s.name}`);
      this.byName.set(s.name, undefined as unknown as Param);
      if (s.trainable) nTrain += numel(s.shape);
      else if (s.bf16) nBf16 += numel(s.shape);
      else nFrozen += numel(s.shape);
    }
    this.trainableData = allocFloat(dtype, nTrain);
    this.trainableGrad = allocFloat(dtype, nTrain);
    this.frozenData = allocFloat(dtype, nFrozen);
    this.frozenBf16 = new Uint16Array(nBf16);
    let tOff = 0;
    let fOff = 0;
    let hOff = 0;
    for (const s of specs) {
      const n = numel(s.shape);
      let p: Param;
      if (!s.trainable && s.bf16) {
        p = {
          name: s.name,
          shape: [...s.shape],
          data: allocFloat(dtype, 0),
          grad: null,
          trainable: false,
          decay: s.decay,
          bf16: this.frozenBf16.subarray(hOff, hOff + n),
          offset: -1,
        };
        hOff += n;
      } else if (s.trainable) {
        p = {
          name: s.name,
          shape: [...s.shape],
          data: this.trainableData.subarray(tOff, tOff + n),
          grad: this.trainableGrad.subarray(tOff, tOff + n),
          trainable: true,
          decay: s.decay,
          bf16: null,
          offset: tOff,
        };
        tOff += n;
      } else {
        p = {
          name: s.name,
          shape: [...s.shape],
          data: this.frozenData.subarray(fOff, fOff + n),
          grad: null,
          trainable: false,
          decay: s.decay,
          bf16: null,
          offset: -1,
        };
        fOff += n;
      }
      this.params.push(p);
      this.byName.set(s.name, p);
    }
  }

  get(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new Error(`no parameter named ${name}`);
    return p;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  trainable(): Param[] {
    return this.params.filter((p) => p.trainable);
  }

  zeroGrad(): void {
    this.trainableGrad.fill(0);
  }

  get numel(): number {
    return this.trainableData.length + this.frozenData.length + this.frozenBf16.length;
  }

  get trainableNumel(): number {
    return this.trainableData.length;
  }

  /** Copies `src` into the named tensor, checking the element count. */
  load(name: string, src: ArrayLike<number>, where = name): void {
    const p = this.get(name);
    const n = p.bf16 ? p.bf16.length : p.data.length;
    if (src.length !== n) {
      throw new SftError(
        `tensor ${name} has ${src.length} elements, the model expects ${n} (shape [${p.shape.join(", ")}])`,
        { where: { field: where }, hint: "check that the checkpoint matches its config.json" },
      );
    }
    if (p.bf16) {
      const bits = p.bf16;
      for (let i = 0; i < n; i++) bits[i] = floatToBf16(src[i]);
    } else p.data.set(src);
  }

  /** The tensor's values as float32 (a copy), whatever its storage. */
  values(p: Param): Float32Array {
    if (!p.bf16) return Float32Array.from(p.data);
    const out = new Float32Array(p.bf16.length);
    for (let i = 0; i < out.length; i++) out[i] = bf16ToFloat(p.bf16[i]);
    return out;
  }
}

/** AdamW hyper-parameters for one step. */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/**
 * AdamW moments for every trainable tensor, laid out like ParamStore.trainableData so one
 * kernel call per tensor (or per run of tensors sharing a decay setting) suffices.
 */
export class OptimizerState {
  readonly m: FloatArray;
  readonly v: FloatArray;
  /** Number of completed steps (AdamW's bias correction uses step + 1 for the next one). */
  step = 0;

  constructor(readonly store: ParamStore) {
    this.m = allocFloat(store.dtype, store.trainableNumel);
    this.v = allocFloat(store.dtype, store.trainableNumel);
  }

  /** Views of the two moments belonging to one trainable tensor. */
  moments(p: Param): { m: FloatArray; v: FloatArray } {
    if (!p.trainable) throw new Error(`${p.name} is frozen and has no optimizer state`);
    const n = p.data.length;
    return { m: this.m.subarray(p.offset, p.offset + n), v: this.v.subarray(p.offset, p.offset + n) };
  }
}

/**
 * One AdamW step over every trainable tensor: weight decay applies only to tensors whose
 * spec says `decay` (matrices and embeddings), as is customary for transformers.
 */
export function adamwStep(kernels: Pick<Kernels, "adamw">, state: OptimizerState, h: AdamWHyper): void {
  state.step += 1;
  const store = state.store;
  // Consecutive tensors with the same decay setting are updated in one call.
  const ps = store.trainable();
  let i = 0;
  while (i < ps.length) {
    const start = ps[i].offset;
    const decay = ps[i].decay;
    let end = start + ps[i].data.length;
    i++;
    while (i < ps.length && ps[i].decay === decay && ps[i].offset === end) {
      end += ps[i].data.length;
      i++;
    }
    kernels.adamw(
      store.trainableData.subarray(start, end),
      store.trainableGrad.subarray(start, end),
      state.m.subarray(start, end),
      state.v.subarray(start, end),
      end - start,
      h.lr,
      h.beta1,
      h.beta2,
      h.eps,
      decay ? h.weightDecay : 0,
      state.step,
    );
  }
}

/**
 * Views into one freshly allocated buffer, one per named size. Used for activations and
 * scratch so that a (B, T) shape costs one allocation.
 */
export function allocViews<K extends string>(
  dtype: DType,
  groups: Record<K, number>[],
): { buffer: FloatArray; views: Record<K, FloatArray>[] } {
  let total = 0;
  for (const g of groups) for (const k in g) total += g[k];
  const buffer = allocFloat(dtype, total);
  let off = 0;
  const views = groups.map((g) => {
    const v = {} as Record<K, FloatArray>;
    for (const k in g) {
      v[k] = buffer.subarray(off, off + g[k]);
      off += g[k];
    }
    return v;
  });
  return { buffer, views };
}
