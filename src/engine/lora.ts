/**
 * LoRA: low-rank adapters on linear layers, W x + (alpha/r) · B A dropout(x), as in PEFT.
 * This module holds the configuration (validation, scaling, initialisation, PEFT naming);
 * the forward/backward arithmetic lives next to the linear layer in models/linear.ts; merging
 * an adapter into its base weight (addLoraDelta) serves both Model and PEFT export.
 */
import { SftError } from "../errors.js";
import type { Rng } from "../util/rng.js";
import type { ModelConfig } from "./config.js";
import type { FloatArray } from "./kernels/types.js";
import { familyOf } from "./models/registry.js";

/** The targets LoRA may wrap, and the defaults, per family id (each family's `lora` field). */
export { DEFAULT_LORA_TARGETS, LORA_TARGETS } from "./models/registry.js";

export interface LoraOptions {
  /** Rank r (>= 1). */
  r: number;
  /** Scale numerator: the update is scaled by alpha/r (or alpha/sqrt(r) with rsLora). Default 8, as PEFT. */
  alpha?: number;
  /** Names of the wrapped linears (see LORA_TARGETS) or "all-linear"; default DEFAULT_LORA_TARGETS. */
  targets?: readonly string[];
  /** Dropout on the LoRA input during training, in [0, 1). Default 0. */
  dropout?: number;
  /** rsLoRA scaling alpha/sqrt(r). Default false. */
  rsLora?: boolean;
  /**
   * "default": A kaiming-uniform as PEFT, B zeros (the adapter starts as a no-op).
   * "random": B drawn too (PEFT's init_lora_weights=False), so every gradient is non-zero.
   */
  init?: "default" | "random";
}

export interface ResolvedLora {
  r: number;
  alpha: number;
  targets: string[];
  dropout: number;
  rsLora: boolean;
  init: "default" | "random";
  /** The factor applied to B A x. */
  scaling: number;
}

export function loraScaling(r: number, alpha: number, rsLora: boolean): number {
  return rsLora ? alpha / Math.sqrt(r) : alpha / r;
}

/** Validates LoRA options against the model and fills defaults. */
export function resolveLora(opts: LoraOptions, config: ModelConfig): ResolvedLora {
  const where = { field: "lora" };
  if (!Number.isInteger(opts.r) || opts.r < 1) {
    throw new SftError(`LoRA rank must be a positive integer, got ${opts.r}`, {
      where: { field: "lora.r" },
      hint: "use e.g. --lora-r 8",
    });
  }
  const alpha = opts.alpha ?? 8;
  if (!Number.isFinite(alpha) || alpha <= 0) {
    throw new SftError(`LoRA alpha must be a positive number, got ${opts.alpha}`, {
      where: { field: "lora.alpha" },
      hint: "use e.g. --lora-alpha 16",
    });
  }
  const dropout = opts.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) {
    throw new SftError(`LoRA dropout must be in [0, 1), got ${opts.dropout}`, {
      where: { field: "lora.dropout" },
      hint: "use e.g. 0.05",
    });
  }
  const family = familyOf(config);
  const allowed = family.lora.targets;
  // PEFT also accepts "all-linear" and dotted module paths ("self_attn.q_proj"); both are
  // reduced to the family's module names.
  const requested = opts.targets ?? family.lora.defaultTargets;
  const targets = requested.includes("all-linear")
    ? [...allowed]
    : [...new Set(requested.map((t) => t.split(".").pop() ?? t))];
  if (targets.length === 0) {
    throw new SftError("LoRA needs at least one target module", {
      where: { field: "lora.targets" },
      hint: `choose from ${allowed.join(",")}`,
    });
  }
  for (const t of targets) {
    if (!allowed.includes(t)) {
      throw new SftError(`unknown LoRA target "${t}" for a ${config.architecture} model`, {
        where: { field: "lora.targets" },
        hint: `choose from ${allowed.join(",")}`,
      });
    }
  }
  const init = opts.init ?? "default";
  if (init !== "default" && init !== "random") {
    throw new SftError(`unknown LoRA init "${String(init)}"`, { where, hint: 'use "default" or "random"' });
  }
  const rsLora = opts.rsLora ?? false;
  return { r: opts.r, alpha, targets, dropout, rsLora, init, scaling: loraScaling(opts.r, alpha, rsLora) };
}

/** PEFT's key for an adapter tensor of the module at HF path `modulePath` (no `.weight`). */
export function peftKey(modulePath: string, which: "A" | "B"): string {
  return `base_model.model.${modulePath}.lora_${which}.weight`;
}

/**
 * PEFT initialisation. A: kaiming_uniform(a=sqrt(5)) over fan_in = in, i.e. U(±1/sqrt(in)).
 * B: zeros, or with init "random" the same rule over its own fan_in = r (nn.Linear's default).
 */
export function initLoraA(a: FloatArray, inFeatures: number, rng: Rng): void {
  const bound = 1 / Math.sqrt(inFeatures);
  for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
}

export function initLoraB(b: FloatArray, r: number, init: "default" | "random", rng: Rng): void {
  if (init === "default") {
    b.fill(0);
    return;
  }
  const bound = 1 / Math.sqrt(r);
  for (let i = 0; i < b.length; i++) b[i] = (2 * rng.uniform() - 1) * bound;
}

/** The `adapter_config.json` object PEFT writes for this adapter (LoRA, causal LM). */
export function peftAdapterConfig(lora: ResolvedLora, baseModelPath: string | null): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModelPath,
    r: lora.r,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    target_modules: lora.targets,
    use_rslora: lora.rsLora,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: false,
    init_lora_weights: lora.init === "default",
    modules_to_save: null,
  };
}

/**
 * Fills `mask` with the inverted-dropout factors (0 or 1/(1-p)) for one LoRA input. The
 * stream is a pure function of `seed`, so gradient checkpointing can regenerate the mask.
 */
export function fillDropoutMask(mask: FloatArray, p: number, rng: Rng): void {
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < p ? 0 : keep;
}

/**
 * Folds one adapter into its base weight in place: W += scale · B·A, where A is [r, inF] and
 * B is [outF, r]. `weight` is [outF, inF] for nn.Linear ("out_in") or [inF, outF] for GPT-2's
 * Conv1D ("in_out"), which then receives (B·A)ᵀ. Sums run in float64, one output row at a time.
 */
export function addLoraDelta(
  weight: FloatArray,
  A: FloatArray,
  B: FloatArray,
  dims: { r: number; inF: number; outF: number },
  scale: number,
  layout: "out_in" | "in_out",
): void {
  const { r, inF, outF } = dims;
  const row = new Float64Array(inF);
  for (let o = 0; o < outF; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const bok = B[o * r + k];
      if (bok === 0) continue;
      const aRow = k * inF;
      for (let i = 0; i < inF; i++) row[i] += bok * A[aRow + i];
    }
    if (layout === "in_out") for (let i = 0; i < inF; i++) weight[i * outF + o] += scale * row[i];
    else for (let i = 0; i < inF; i++) weight[o * inF + i] += scale * row[i];
  }
}
