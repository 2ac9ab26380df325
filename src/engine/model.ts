/**
 * The engine's model API: build a model of any registered family from a ModelConfig (and HF
 * weights, or random ones), optionally with LoRA, and run forward/backward over token
 * batches. Parameters carry Hugging Face names (PEFT names for LoRA tensors); the trainer
 * reads `trainableParameters()` and steps them with the optimizer in params.ts.
 *
 *   const model = createModel(config, tensors, { lora: { r: 8, alpha: 16, targets: ["q_proj", "v_proj"] } });
 *   model.zeroGrad();
 *   const { loss } = model.forwardBackward({ B, T, inputIds, labels });
 */
import { SftError } from "../errors.js";
import type { ModelConfig } from "./config.js";
import { getKernels, referenceKernels } from "./kernels/index.js";
import type { Kernels } from "./kernels/types.js";
import { addLoraDelta, type LoraOptions, type ResolvedLora, resolveLora } from "./lora.js";
import {
  type Batch,
  type ForwardBackwardOptions,
  type LossResult,
  type RuntimeOptions,
  TransformerRuntime,
} from "./models/transformer.js";
import type { KVCache } from "./models/types.js";
import type { DType, Param } from "./params.js";
import type { Tensor, TensorMap } from "./tensor.js";

export type { Batch, ForwardBackwardOptions, KVCache, LossResult };

export interface CreateModelOptions {
  /** float32 (default) for training; float64 for gradient checks (reference kernels). */
  dtype?: DType;
  /** Seeds random init (when no tensors are given), LoRA init and LoRA dropout. Default 0. */
  seed?: number;
  /** Train LoRA adapters on a frozen base instead of every weight. */
  lora?: LoraOptions | null;
  /** Keep only each block's input in forward and recompute the block in backward. */
  gradientCheckpointing?: boolean;
  /** Hold frozen linear weights in bf16 (LoRA only; halves their memory). Default false. */
  frozenBf16?: boolean;
  /** Kernel implementation; default the native kernels (reference for float64). */
  kernels?: Kernels;
  /** Logits materialised at once (rows × vocab). Default 2^21 elements, but at least 64 rows. */
  logitsChunkElements?: number;
}

function runtimeOptions(config: ModelConfig, opts: CreateModelOptions): RuntimeOptions {
  const dtype = opts.dtype ?? "float32";
  const kernels = opts.kernels ?? (dtype === "float64" ? referenceKernels : getKernels());
  if (dtype === "float64" && kernels.name === "native") {
    throw new SftError("the native kernels are float32 only", {
      where: { field: "dtype" },
      hint: "use dtype float64 with the reference kernels",
    });
  }
  const lora = opts.lora ? resolveLora(opts.lora, config) : null;
  return {
    dtype,
    kernels,
    lora,
    gradientCheckpointing: opts.gradientCheckpointing ?? false,
    frozenBf16: (opts.frozenBf16 ?? false) && lora !== null,
    logitsChunkElements: opts.logitsChunkElements ?? null,
    seed: opts.seed ?? 0,
  };
}

/**
 * The shared transformer runtime (forward/backward, logits, KV-cache decoding: see
 * models/transformer.ts) with its weights filled in, plus the views of its parameters
 * that checkpoints are written from (HF, PEFT and merged state dicts).
 */
export class Model extends TransformerRuntime {
  readonly lora: ResolvedLora | null;

  constructor(config: ModelConfig, tensors: TensorMap | null, opts: CreateModelOptions = {}) {
    super(config, runtimeOptions(config, opts));
    this.lora = this.opts.lora;
    // An empty map is what loading a bare config.json gives: random weights.
    if (tensors && tensors.size > 0) this.loadWeights(tensors);
    else this.initRandom(this.opts.seed);
    this.initLora(this.opts.seed);
  }

  get dtype(): DType {
    return this.opts.dtype;
  }

  /** Number of parameters (all) and of trainable ones. */
  get numParameters(): number {
    return this.store.numel;
  }

  get numTrainableParameters(): number {
    return this.store.trainableNumel;
  }

  /** Every tensor that gets a gradient: HF names, or PEFT names with LoRA. */
  trainableParameters(): Param[] {
    return this.store.trainable();
  }

  /** Every tensor of the model (frozen ones have grad null). */
  parameters(): Param[] {
    return this.store.params;
  }

  /** Zeroes every gradient (call before each optimizer step's first micro-batch). */
  zeroGrad(): void {
    this.store.zeroGrad();
  }

  /** Base weights as float32 copies under HF names (tied output projection omitted, as HF saves). */
  stateDict(): TensorMap {
    const out: TensorMap = new Map();
    for (const p of this.store.params) {
      if (p.name.includes(".lora_")) continue;
      out.set(p.name, { shape: [...p.shape], data: this.store.values(p) });
    }
    return out;
  }

  /** LoRA tensors as float32 copies under PEFT names (empty without LoRA). */
  loraStateDict(): TensorMap {
    const out: TensorMap = new Map();
    for (const p of this.store.params) {
      if (p.name.includes(".lora_")) out.set(p.name, { shape: [...p.shape], data: this.store.values(p) });
    }
    return out;
  }

  /** Base weights with every LoRA update folded in: W + scaling · B A (HF names, float32). */
  mergedStateDict(): TensorMap {
    const out = this.stateDict();
    for (const lin of this.loraModules) {
      const lora = lin.lora!;
      const w = out.get(`${lin.path}.weight`) as Tensor;
      addLoraDelta(
        w.data,
        lora.A.data,
        lora.B.data,
        { r: lora.r, inF: lin.inF, outF: lin.outF },
        lora.scaling,
        lin.layout,
      );
    }
    return out;
  }

  /** Loads LoRA tensors saved under PEFT names (adapter_model.safetensors). */
  loadAdapter(tensors: TensorMap, source?: string): void {
    if (!this.lora) {
      throw new SftError("this model has no LoRA adapters to load into", {
        where: { field: "lora" },
        hint: "create the model with the adapter's LoRA options",
      });
    }
    this.loadLoraWeights(tensors, source);
  }
}

/** Builds a model from a config and HF-named weights (random init when tensors is omitted or empty). */
export function createModel(
  config: ModelConfig,
  tensors?: TensorMap | null,
  opts: CreateModelOptions = {},
): Model {
  return new Model(config, tensors ?? null, opts);
}

/** Random HF-named weights for a bare config (GPT-2/Llama style, std 0.02), float32. */
export function initRandom(config: ModelConfig, seed: number): TensorMap {
  return createModel(config, null, { seed, kernels: referenceKernels }).stateDict();
}
