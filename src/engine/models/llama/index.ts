/**
 * The Llama family: Llama 2/3, Mistral, Qwen2/2.5, Qwen3 and SmolLM (see blocks.ts for the
 * arithmetic, hf.ts for config.json and tensor names, gguf.ts for llama.cpp's conventions).
 */
import { SftError } from "../../../errors.js";
import type { ModelConfig } from "../../config.js";
import type { ModelFamily } from "../family.js";
import { llamaBlocks } from "./blocks.js";
import { llamaGguf, qwen2Gguf, qwen3Gguf } from "./gguf.js";
import { LLAMA_HF_CLASSES, llamaConfigFields, llamaTensorShapes, parseLlamaConfig } from "./hf.js";

function validateLlamaConfig(c: ModelConfig): void {
  if (c.headDim % 2 !== 0) {
    throw new SftError(`head_dim must be even for RoPE, got ${c.headDim}`, {
      where: { field: "head_dim" },
      hint: "fix config.json",
    });
  }
  if (c.hiddenAct !== "silu") {
    throw new SftError(`llama-family models need hidden_act "silu", got "${c.hiddenAct}"`, {
      where: { field: "hidden_act" },
      hint: "fix config.json",
    });
  }
}

export const llama: ModelFamily = {
  id: "llama",
  label: "llama (Llama, Mistral, Qwen2/3, SmolLM)",
  hfClasses: LLAMA_HF_CLASSES,
  parseHfConfig: parseLlamaConfig,
  hfConfigFields: llamaConfigFields,
  tensorShapes: llamaTensorShapes,
  tensorNameAliases: () => [],
  blocks: llamaBlocks,
  validateConfig: validateLlamaConfig,
  usesRope: true,
  maxPositions: () => null,
  initStd: () => 0.02,
  lora: {
    targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    defaultTargets: ["q_proj", "v_proj"],
    fanInFanOut: false,
  },
  gguf: [llamaGguf, qwen2Gguf, qwen3Gguf],
};
