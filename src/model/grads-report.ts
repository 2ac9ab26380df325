/**
 * The gradient report behind `sft grads`: one forward/backward on a given batch, written as
 * safetensors so the engine's gradients can be compared with any other implementation
 * (e.g. PyTorch): `loss` [1], `grad.<name>` and `param.<name>` for every trainable tensor.
 */
import { readFileSync } from "node:fs";
import type { ModelSpecInput } from "../config/model-spec.js";
import { writeSafetensors } from "../engine/checkpoint/safetensors.js";
import type { LoraOptions } from "../engine/lora.js";
import type { Batch } from "../engine/model.js";
import type { Tensor } from "../engine/tensor.js";
import { SftError } from "../errors.js";
import { openModelWeights } from "./open.js";

export interface GradsFlags {
  model: string;
  batch: string;
  out: string;
  adapter?: string;
  baseDtype?: string;
  loraR?: string;
  loraAlpha?: string;
  loraTargets?: string;
  loraInit?: string;
}

/** Reads `{ "input_ids": number[][], "labels": number[][] }` (equal-length rows). */
export function readBatchFile(path: string): Batch {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new SftError(`cannot read the batch: ${(e as Error).message}`, {
      where: { file: path },
      hint: 'write JSON like {"input_ids": [[1, 2, 3]], "labels": [[-100, 2, 3]]}',
    });
  }
  const j = json as Record<string, unknown>;
  const grid = (field: string): number[][] => {
    const v = j?.[field];
    if (!Array.isArray(v) || v.length === 0 || !v.every((row) => Array.isArray(row) && row.length > 0)) {
      throw new SftError(`"${field}" must be a non-empty array of non-empty arrays of integers`, {
        where: { file: path, field },
        hint: 'e.g. {"input_ids": [[1, 2, 3]], "labels": [[-100, 2, 3]]}',
      });
    }
    const rows = v as unknown[][];
    rows.forEach((row, b) => {
      if (row.length !== rows[0].length) {
        throw new SftError(`row ${b} has ${row.length} tokens, row 0 has ${rows[0].length}`, {
          where: { file: path, field: `${field}[${b}]` },
          hint: "pad every row to the same length (labels -100 on padding)",
        });
      }
      row.forEach((x, t) => {
        if (typeof x !== "number" || !Number.isInteger(x)) {
          throw new SftError(`${JSON.stringify(x)} is not an integer`, {
            where: { file: path, field: `${field}[${b}][${t}]` },
          });
        }
      });
    });
    return rows as number[][];
  };
  const ids = grid("input_ids");
  const labels = grid("labels");
  if (labels.length !== ids.length || labels[0].length !== ids[0].length) {
    throw new SftError(
      `labels are ${labels.length}×${labels[0].length}, input_ids ${ids.length}×${ids[0].length}`,
      {
        where: { file: path, field: "labels" },
        hint: "labels are aligned with input_ids (the shift happens inside)",
      },
    );
  }
  return {
    B: ids.length,
    T: ids[0].length,
    inputIds: Int32Array.from(ids.flat()),
    labels: Int32Array.from(labels.flat()),
  };
}

function positiveNumber(flag: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new SftError(`${flag} must be a positive ${integer ? "integer" : "number"}, got "${v}"`, {
      where: { field: flag },
    });
  }
  return n;
}

/** LoRA options from the flags, or null for full fine-tuning. */
function loraFromFlags(f: GradsFlags): LoraOptions | null {
  if (f.loraR === undefined) {
    for (const [flag, v] of [
      ["--lora-alpha", f.loraAlpha],
      ["--lora-targets", f.loraTargets],
      ["--lora-init", f.loraInit],
    ] as const) {
      if (v !== undefined) {
        throw new SftError(`${flag} needs --lora-r`, { where: { field: flag }, hint: "add e.g. --lora-r 8" });
      }
    }
    return null;
  }
  const init = f.loraInit ?? "default";
  if (init !== "default" && init !== "random") {
    throw new SftError(`--lora-init must be "default" or "random", got "${init}"`, {
      where: { field: "--lora-init" },
    });
  }
  return {
    r: positiveNumber("--lora-r", f.loraR, true),
    alpha: f.loraAlpha === undefined ? undefined : positiveNumber("--lora-alpha", f.loraAlpha, false),
    targets: f.loraTargets
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    init,
  };
}

/** `spec`: the model side (model, adapter, base_dtype) as the command gave it. */
export function runGrads(
  f: GradsFlags,
  spec: ModelSpecInput,
): { loss: number; trainedTokens: number; tensors: number } {
  const batch = readBatchFile(f.batch);
  const lora = loraFromFlags(f);
  if (spec.adapter !== undefined && lora) {
    throw new SftError("give either --adapter or --lora-* flags, not both", {
      where: { field: "--adapter" },
      hint: "the adapter's adapter_config.json fixes r, alpha and targets",
    });
  }
  // the adapter's own LoRA when there is one (undefined), else the flags' (or none)
  // (dropout off: the gradients are compared exactly)
  const { model } = openModelWeights(spec, {
    lora: spec.adapter !== undefined ? undefined : lora,
    adapterDropout: 0,
    seed: 0,
  });
  model.zeroGrad();
  const result = model.forwardBackward(batch);
  if (result.trainedTokens === 0) {
    throw new SftError("no label is trained: every label after the shift is -100", {
      where: { file: f.batch, field: "labels" },
      hint: "give at least one token id in labels[b][t] for some t >= 1",
    });
  }
  const out = new Map<string, Tensor>();
  out.set("loss", { shape: [1], data: Float32Array.of(result.loss) });
  const params = model.trainableParameters();
  for (const p of params)
    out.set(`grad.${p.name}`, { shape: [...p.shape], data: Float32Array.from(p.grad!) });
  for (const p of params)
    out.set(`param.${p.name}`, { shape: [...p.shape], data: Float32Array.from(p.data) });
  writeSafetensors(f.out, out, {
    metadata: { loss: String(result.loss), trained_tokens: String(result.trainedTokens) },
  });
  return { loss: result.loss, trainedTokens: result.trainedTokens, tensors: out.size };
}
