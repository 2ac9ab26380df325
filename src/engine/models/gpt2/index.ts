/**
 * GPT-2: learned absolute positions (a hard limit of n_positions), Conv1D weights stored
 * [in, out] (PEFT's fan_in_fan_out), GPT-2's scaled init of the residual projections.
 * blocks.ts holds the arithmetic, hf.ts config.json and tensor names, gguf.ts llama.cpp's conventions.
 */
import { SftError } from "../../../errors.js";
import type { ModelConfig } from "../../config.js";
import type { ModelFamily } from "../family.js";
import { gpt2Blocks } from "./blocks.js";
import { gpt2Gguf } from "./gguf.js";
import {
  GPT2_HF_CLASSES,
  gpt2ConfigFields,
  gpt2TensorNameAliases,
  gpt2TensorShapes,
  parseGpt2Config,
} from "./hf.js";

function validateGpt2Config(c: ModelConfig): void {
  const bad = (field: string, msg: string, hint: string) => {
    throw new SftError(msg, { where: { field }, hint });
  };
  if (c.hiddenSize !== c.numHeads * c.headDim) {
    bad("n_embd", `n_embd (${c.hiddenSize}) must equal n_head × head_dim`, "fix config.json");
  }
  if (c.numKvHeads !== c.numHeads) bad("n_head", "GPT-2 has no grouped-query attention", "fix config.json");
  if (c.hiddenAct !== "gelu_new") {
    bad(
      "activation_function",
      `GPT-2 blocks use the tanh GELU ("gelu_new"), got "${c.hiddenAct}"`,
      'set "activation_function": "gelu_new"',
    );
  }
}

export const gpt2: ModelFamily = {
  id: "gpt2",
  label: "gpt2",
  hfClasses: GPT2_HF_CLASSES,
  parseHfConfig: parseGpt2Config,
  hfConfigFields: gpt2ConfigFields,
  tensorShapes: gpt2TensorShapes,
  tensorNameAliases: gpt2TensorNameAliases,
  blocks: gpt2Blocks,
  validateConfig: validateGpt2Config,
  usesRope: false,
  maxPositions: (config) => config.maxPositionEmbeddings,
  // GPT-2 scales the init of the projections into the residual stream by 1/sqrt(2·layers).
  initStd: (name, config) =>
    name.endsWith("c_proj.weight") ? 0.02 * (1 / Math.sqrt(2 * config.numLayers)) : 0.02,
  lora: { targets: ["c_attn", "c_proj", "c_fc"], defaultTargets: ["c_attn"], fanInFanOut: true },
  gguf: [gpt2Gguf],
};
