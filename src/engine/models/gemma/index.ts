/**
 * The Gemma family: Gemma 2 and Gemma 3 (text; also the language model of gemma3 vision
 * checkpoints). blocks.ts holds the arithmetic, hf.ts config.json and tensor names. No GGUF
 * mapping yet.
 */
import { SftError } from "../../../errors.js";
import type { ModelConfig } from "../../config.js";
import type { ModelFamily } from "../family.js";
import { gemmaBlocks } from "./blocks.js";
import {
  GEMMA_HF_CLASSES,
  gemmaConfigFields,
  gemmaTensorNameAliases,
  gemmaTensorShapes,
  parseGemmaConfig,
} from "./hf.js";

function validateGemmaConfig(c: ModelConfig): void {
  const bad = (field: string, msg: string) => {
    throw new SftError(msg, { where: { field }, hint: "fix config.json" });
  };
  if (c.headDim % 2 !== 0) bad("head_dim", `head_dim must be even for RoPE, got ${c.headDim}`);
  if (c.hiddenAct !== "gelu_new") {
    bad("hidden_activation", `Gemma blocks use the tanh GELU ("gelu_pytorch_tanh"), got "${c.hiddenAct}"`);
  }
  if (c.slidingLayers && c.slidingLayers.length !== c.numLayers) {
    bad("layer_types", `layer_types has ${c.slidingLayers.length} entries for ${c.numLayers} layers`);
  }
  if (c.slidingLayers?.some((s) => s) && !c.slidingWindow) {
    bad("sliding_window", "layer_types names sliding-window layers but sliding_window is not set");
  }
}

export const gemma: ModelFamily = {
  id: "gemma",
  label: "gemma (Gemma 2, Gemma 3 text)",
  hfClasses: GEMMA_HF_CLASSES,
  parseHfConfig: parseGemmaConfig,
  hfConfigFields: gemmaConfigFields,
  tensorShapes: gemmaTensorShapes,
  tensorNameAliases: gemmaTensorNameAliases,
  blocks: gemmaBlocks,
  validateConfig: validateGemmaConfig,
  usesRope: true,
  maxPositions: () => null,
  initStd: () => 0.02,
  lora: {
    targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    defaultTargets: ["q_proj", "v_proj"],
    fanInFanOut: false,
  },
  gguf: [],
};
