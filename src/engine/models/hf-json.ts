/**
 * Reading fields of a Hugging Face `config.json`: the typed readers and the error every
 * family's config mapping (models/<family>/hf.ts) reports problems with.
 */
import { SftError } from "../../errors.js";
import type { ModelConfig, RopeScaling } from "../config.js";

export type HfJson = Record<string, unknown>;

export function configError(
  file: string,
  field: string | undefined,
  message: string,
  hint?: string,
): SftError {
  return new SftError(message, {
    where: field === undefined ? { file } : { file, field },
    hint,
    code: "E_CONFIG",
  });
}

export function intField(json: HfJson, file: string, key: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw configError(
      file,
      key,
      `missing required field "${key}"`,
      "every Hugging Face config.json of this model type has it",
    );
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw configError(file, key, `"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function numField(json: HfJson, file: string, key: string, fallback: number): number {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw configError(file, key, `"${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function boolField(json: HfJson, key: string, fallback: boolean): boolean {
  const v = json[key];
  return typeof v === "boolean" ? v : fallback;
}

export function tokenId(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}

export function eosIds(v: unknown): number | number[] | null {
  if (Array.isArray(v)) return v.filter((x): x is number => Number.isInteger(x));
  return tokenId(v);
}

/** The special-token ids every config.json may carry. */
export function specialTokenIds(c: HfJson): Pick<ModelConfig, "bosTokenId" | "eosTokenId" | "padTokenId"> {
  return {
    bosTokenId: tokenId(c.bos_token_id),
    eosTokenId: eosIds(c.eos_token_id),
    padTokenId: tokenId(c.pad_token_id),
  };
}

/** Newer transformers write `rope_parameters: { rope_theta, rope_type, factor, … }` instead of rope_theta/rope_scaling. */
export function ropeParameters(json: HfJson): HfJson | null {
  const p = json.rope_parameters;
  return p && typeof p === "object" && !Array.isArray(p) ? (p as HfJson) : null;
}

export function ropeScaling(json: HfJson, file: string): RopeScaling | null {
  const field = json.rope_scaling == null && ropeParameters(json) ? "rope_parameters" : "rope_scaling";
  const r = json[field];
  if (r === undefined || r === null) return null;
  if (typeof r !== "object") throw configError(file, field, `${field} must be an object or null`);
  const o = r as HfJson;
  const type = String(o.rope_type ?? o.type ?? "");
  if (type === "default" || type === "") return null;
  const factor = typeof o.factor === "number" ? o.factor : 1;
  const out: RopeScaling = { type, factor };
  if (typeof o.low_freq_factor === "number") out.lowFreqFactor = o.low_freq_factor;
  if (typeof o.high_freq_factor === "number") out.highFreqFactor = o.high_freq_factor;
  if (typeof o.original_max_position_embeddings === "number") {
    out.originalMaxPositionEmbeddings = o.original_max_position_embeddings;
  }
  return out;
}

/** RoPE scaling as HF writes it in config.json. */
export function ropeScalingJson(scaling: RopeScaling | null): HfJson | null {
  if (!scaling) return null;
  return {
    rope_type: scaling.type,
    factor: scaling.factor,
    ...(scaling.lowFreqFactor === undefined ? {} : { low_freq_factor: scaling.lowFreqFactor }),
    ...(scaling.highFreqFactor === undefined ? {} : { high_freq_factor: scaling.highFreqFactor }),
    ...(scaling.originalMaxPositionEmbeddings === undefined
      ? {}
      : { original_max_position_embeddings: scaling.originalMaxPositionEmbeddings }),
  };
}

export function hiddenAct(
  c: HfJson,
  file: string,
  key: string,
  fallback: ModelConfig["hiddenAct"],
): ModelConfig["hiddenAct"] {
  const v = c[key] ?? fallback;
  if (v === "silu" || v === "swish") return "silu";
  if (v === "gelu_new" || v === "gelu_pytorch_tanh") return "gelu_new";
  if (v === "gelu") return "gelu";
  throw configError(
    file,
    key,
    `unsupported activation ${JSON.stringify(v)} (supported: silu, gelu_new, gelu)`,
  );
}
