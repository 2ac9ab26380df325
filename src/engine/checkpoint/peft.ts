/**
 * PEFT LoRA adapters on disk: `adapter_config.json` + `adapter_model.safetensors` with
 * PEFT's key names (`base_model.model.<module path>.lora_A.weight`, A [r, in], B [out, r]),
 * written and read back, and merged into base weights (W += scale · B·A).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SftError } from "../../errors.js";
import type { ModelConfig } from "../config.js";
import { addLoraDelta } from "../lora.js";
import { familyOf } from "../models/registry.js";
import type { Tensor, TensorMap } from "../tensor.js";
import { writeAtomically } from "./file-io.js";
import { readSafetensorsFile, writeSafetensors } from "./safetensors.js";

export const ADAPTER_CONFIG_NAME = "adapter_config.json";
export const ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";
const PEFT_PREFIX = "base_model.model.";

export interface PeftLoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module names (`q_proj`, `c_attn`, …). */
  targetModules: string[];
  baseModelNameOrPath: string | null;
  useRslora: boolean;
  /** True for GPT-2, whose Conv1D weights are stored [in, out]. */
  fanInFanOut: boolean;
  /** PEFT's per-module overrides (keys match the end of a module path). */
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
}

export interface LoraAdapter {
  config: PeftLoraConfig;
  /** PEFT key names → tensors (A [r, in], B [out, r]). */
  tensors: TensorMap;
}

/** PEFT's name for the A or B matrix of the module at HF path `modulePath` (no `.weight`). */
export function peftTensorName(modulePath: string, which: "A" | "B"): string {
  return `${PEFT_PREFIX}${modulePath}.lora_${which}.weight`;
}

/** The `adapter_config.json` PEFT writes for a causal-LM LoRA. */
export function toPeftConfigJson(c: PeftLoraConfig): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: c.baseModelNameOrPath,
    r: c.r,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    target_modules: c.targetModules,
    bias: "none",
    use_rslora: c.useRslora,
    fan_in_fan_out: c.fanInFanOut,
    inference_mode: true,
    modules_to_save: null,
    rank_pattern: c.rankPattern ?? {},
    alpha_pattern: c.alphaPattern ?? {},
  };
}

function adapterError(file: string, field: string | undefined, message: string, hint?: string): SftError {
  return new SftError(message, {
    where: field === undefined ? { file } : { file, field },
    hint,
    code: "E_CHECKPOINT",
  });
}

/** Parses a PEFT `adapter_config.json` object; only LoRA without trained biases is supported. */
export function parsePeftConfig(json: unknown, file: string): PeftLoraConfig {
  if (typeof json !== "object" || json === null)
    throw adapterError(file, undefined, "adapter config must be a JSON object");
  const j = json as Record<string, unknown>;
  if (j.peft_type !== "LORA") {
    throw adapterError(
      file,
      "peft_type",
      `unsupported peft_type ${JSON.stringify(j.peft_type)} (supported: LORA)`,
    );
  }
  if (j.bias !== undefined && j.bias !== "none") {
    throw adapterError(file, "bias", `unsupported bias ${JSON.stringify(j.bias)} (supported: "none")`);
  }
  const r = j.r;
  if (typeof r !== "number" || !Number.isInteger(r) || r < 1) {
    throw adapterError(file, "r", `"r" must be a positive integer, got ${JSON.stringify(r)}`);
  }
  const alpha = j.lora_alpha ?? 8;
  if (typeof alpha !== "number" || !(alpha > 0)) {
    throw adapterError(
      file,
      "lora_alpha",
      `"lora_alpha" must be a positive number, got ${JSON.stringify(alpha)}`,
    );
  }
  let targets: string[];
  if (Array.isArray(j.target_modules)) targets = j.target_modules.map(String);
  else if (typeof j.target_modules === "string") targets = [j.target_modules];
  else targets = [];
  const numbers = (v: unknown): Record<string, number> | undefined => {
    if (!v || typeof v !== "object" || Object.keys(v).length === 0) return undefined;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, Number(x)]));
  };
  const out: PeftLoraConfig = {
    r,
    loraAlpha: alpha,
    loraDropout: typeof j.lora_dropout === "number" ? j.lora_dropout : 0,
    targetModules: targets,
    baseModelNameOrPath: typeof j.base_model_name_or_path === "string" ? j.base_model_name_or_path : null,
    useRslora: j.use_rslora === true,
    fanInFanOut: j.fan_in_fan_out === true,
  };
  const rp = numbers(j.rank_pattern);
  const ap = numbers(j.alpha_pattern);
  if (rp) out.rankPattern = rp;
  if (ap) out.alphaPattern = ap;
  return out;
}

/** Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors`, each atomically. */
export function writePeftAdapter(dir: string, adapter: LoraAdapter): string[] {
  for (const name of adapter.tensors.keys()) {
    if (!/^base_model\.model\..+\.lora_[AB]\.weight$/.test(name)) {
      throw adapterError(
        dir,
        name,
        "not a PEFT LoRA tensor name",
        "names look like base_model.model.<module>.lora_A.weight",
      );
    }
  }
  const weights = join(dir, ADAPTER_WEIGHTS_NAME);
  writeSafetensors(weights, adapter.tensors, { metadata: { format: "pt" } });
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  const json = `${JSON.stringify(toPeftConfigJson(adapter.config), null, 2)}\n`;
  writeAtomically(configPath, (w) => w.write(Buffer.from(json, "utf8")));
  return [configPath, weights];
}

/** One LoRA pair as found in an adapter, keyed by the HF module path. */
export interface LoraPair {
  modulePath: string;
  A: Tensor;
  B: Tensor;
}

/** Groups an adapter's tensors into A/B pairs, checking that every A has its B and their ranks agree. */
export function loraPairs(adapter: LoraAdapter, file = "adapter"): LoraPair[] {
  const byPath = new Map<string, { A?: Tensor; B?: Tensor }>();
  for (const [name, t] of adapter.tensors) {
    const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(name);
    if (!m) continue;
    const entry = byPath.get(m[1]) ?? {};
    entry[m[2] as "A" | "B"] = t;
    byPath.set(m[1], entry);
  }
  const pairs: LoraPair[] = [];
  for (const [modulePath, { A, B }] of byPath) {
    if (!A || !B) {
      throw adapterError(
        file,
        peftTensorName(modulePath, A ? "B" : "A"),
        "missing tensor: every LoRA module needs both lora_A and lora_B",
      );
    }
    if (A.shape.length !== 2 || B.shape.length !== 2 || A.shape[0] !== B.shape[1]) {
      throw adapterError(
        file,
        peftTensorName(modulePath, "A"),
        `wrong shape: lora_A [${A.shape.join(", ")}] and lora_B [${B.shape.join(", ")}] must be [r, in] and [out, r]`,
      );
    }
    pairs.push({ modulePath, A, B });
  }
  return pairs;
}

/** Reads a PEFT adapter directory (adapter_config.json + adapter_model.safetensors). */
export function readPeftAdapter(dir: string): LoraAdapter {
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  if (!existsSync(configPath)) {
    throw adapterError(
      dir,
      undefined,
      `no ${ADAPTER_CONFIG_NAME} in the adapter directory`,
      "pass the directory a LoRA run saved as adapter/",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, "utf8"));
  } catch (e) {
    throw adapterError(configPath, undefined, `not valid JSON (${(e as Error).message})`);
  }
  const config = parsePeftConfig(json, configPath);
  const weights = join(dir, ADAPTER_WEIGHTS_NAME);
  if (!existsSync(weights)) {
    const bin = existsSync(join(dir, "adapter_model.bin"));
    throw adapterError(
      dir,
      undefined,
      `no ${ADAPTER_WEIGHTS_NAME} in the adapter directory`,
      bin ? "PyTorch .bin adapters are not read; re-save with safe_serialization=True" : undefined,
    );
  }
  const tensors: TensorMap = new Map();
  for (const [name, t] of readSafetensorsFile(weights).tensors) {
    // Some PEFT versions keep the adapter name in the key (`lora_A.default.weight`).
    tensors.set(name.replace(/\.lora_([AB])\.[^.]+\.weight$/, ".lora_$1.weight"), {
      shape: t.shape,
      data: t.data,
    });
  }
  const adapter = { config, tensors };
  loraPairs(adapter, weights);
  return adapter;
}

function patternValue(pattern: Record<string, number> | undefined, modulePath: string): number | undefined {
  if (!pattern) return undefined;
  for (const [k, v] of Object.entries(pattern))
    if (modulePath === k || modulePath.endsWith(`.${k}`)) return v;
  return undefined;
}

/** The factor PEFT applies to B·A for a module: alpha/r, or alpha/sqrt(r) with rsLoRA. */
export function loraMergeScale(config: PeftLoraConfig, modulePath: string): number {
  const r = patternValue(config.rankPattern, modulePath) ?? config.r;
  const alpha = patternValue(config.alphaPattern, modulePath) ?? config.loraAlpha;
  return config.useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/**
 * Base weights with every adapter module merged in: W += scale · B·A for nn.Linear weights
 * [out, in]; for GPT-2's Conv1D weights [in, out], W += scale · (B·A)ᵀ. The base map is not
 * modified; merged tensors are new arrays, the rest are shared.
 */
export function mergeLora(baseTensors: TensorMap, adapter: LoraAdapter, config: ModelConfig): TensorMap {
  const out: TensorMap = new Map(baseTensors);
  const inOut = familyOf(config).lora.fanInFanOut || adapter.config.fanInFanOut;
  for (const { modulePath, A, B } of loraPairs(adapter)) {
    const weightName = `${modulePath}.weight`;
    const W = baseTensors.get(weightName);
    if (!W) {
      throw adapterError(
        "adapter",
        peftTensorName(modulePath, "A"),
        `the base model has no ${weightName} to merge into`,
        "is this adapter for this base model?",
      );
    }
    const [r, inF] = A.shape;
    const outF = B.shape[0];
    const want = inOut ? [inF, outF] : [outF, inF];
    if (W.shape.length !== 2 || W.shape[0] !== want[0] || W.shape[1] !== want[1]) {
      throw adapterError(
        "adapter",
        peftTensorName(modulePath, "A"),
        `wrong shape: the adapter implies [${want.join(", ")}] for ${weightName}, the base has [${W.shape.join(", ")}]`,
        "is this adapter for this base model?",
      );
    }
    const scale = loraMergeScale(adapter.config, modulePath);
    const merged = Float32Array.from(W.data);
    addLoraDelta(merged, A.data, B.data, { r, inF, outF }, scale, inOut ? "in_out" : "out_in");
    out.set(weightName, { shape: W.shape, data: merged });
  }
  return out;
}
