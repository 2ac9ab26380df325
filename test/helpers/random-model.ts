/** A small randomly initialised model saved as an HF directory, with a real tokenizer's files copied in. */
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { saveHfModel } from "../../src/engine/checkpoint/hf.js";
import type { ModelConfig } from "../../src/engine/config.js";
import { initRandom } from "../../src/engine/model.js";
import type { TensorMap } from "../../src/engine/tensor.js";

export function randomModelDir(
  dir: string,
  config: ModelConfig,
  tokenizerDir: string,
  seed = 1,
): { dir: string; tensors: TensorMap } {
  const tensors = initRandom(config, seed);
  saveHfModel(dir, config, tensors);
  for (const name of ["tokenizer.json", "tokenizer_config.json"]) {
    const p = join(tokenizerDir, name);
    if (existsSync(p)) copyFileSync(p, join(dir, name));
  }
  return { dir, tensors };
}
