/** A small randomly initialised model saved as an HF directory, with a real tokenizer's files copied in. */
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { saveHfModel } from "../../src/engine/checkpoint/hf.js";
import { floatToHalf, halfToFloat } from "../../src/engine/checkpoint/numeric.js";
import type { ModelConfig } from "../../src/engine/config.js";
import { initRandom } from "../../src/engine/model.js";
import type { TensorMap } from "../../src/engine/tensor.js";

export interface RandomModelOptions {
  seed?: number;
  /**
   * Multiplies the matrices (std 0.02 · scale): a wider spread of logits, so greedy decoding
   * of a random model does not hinge on near-ties that any rounding difference could flip.
   */
  scale?: number;
  /** Rounds every weight to the nearest float16, so an F16 file holds exactly these weights. */
  f16Exact?: boolean;
}

export function randomModelDir(
  dir: string,
  config: ModelConfig,
  tokenizerDir: string,
  opts: RandomModelOptions = {},
): { dir: string; tensors: TensorMap } {
  const tensors = initRandom(config, opts.seed ?? 1);
  for (const t of tensors.values()) {
    const scale = t.shape.length === 2 ? (opts.scale ?? 1) : 1;
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i] * scale;
      t.data[i] = opts.f16Exact ? halfToFloat(floatToHalf(v)) : v;
    }
  }
  saveHfModel(dir, config, tensors);
  for (const name of ["tokenizer.json", "tokenizer_config.json"]) {
    const p = join(tokenizerDir, name);
    if (existsSync(p)) copyFileSync(p, join(dir, name));
  }
  return { dir, tensors };
}
