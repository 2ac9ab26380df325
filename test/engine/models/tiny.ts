/** Tiny configurations of every supported architecture variant, shared by the model tests. */
import type { ModelConfig } from "../../../src/engine/config.js";
import type { Batch } from "../../../src/engine/model.js";
import { llamaConfig } from "../../helpers/llama-config.js";

function llamaBase(): ModelConfig {
  return llamaConfig();
}

export const TINY: Record<string, ModelConfig> = {
  llama: llamaBase(),
  "llama-tied-llama3rope": {
    ...llamaBase(),
    tieWordEmbeddings: true,
    ropeScaling: {
      type: "llama3",
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 16,
    },
  },
  "qwen2-bias": {
    ...llamaBase(),
    modelType: "qwen2",
    attentionBias: true,
    tieWordEmbeddings: true,
    ropeTheta: 1e6,
  },
  "llama-all-biases": {
    ...llamaBase(),
    attentionBias: true,
    attentionOutBias: true,
    mlpBias: true,
    numKvHeads: 2,
  },
  "qwen3-qknorm": {
    ...llamaBase(),
    modelType: "qwen3",
    qkNorm: true,
    headDim: 6,
    numHeads: 4,
    numKvHeads: 2,
  },
  // Window 2 < the test sequence length 5: every query beyond the second loses keys.
  "mistral-window": {
    ...llamaBase(),
    modelType: "mistral",
    slidingWindow: 2,
  },
  // Layer 0 slides (window 2 < 5 tokens) with its own RoPE base; layer 1 is global.
  gemma3: {
    ...llamaBase(),
    architecture: "gemma",
    modelType: "gemma3_text",
    headDim: 6,
    numHeads: 2,
    numKvHeads: 1,
    qkNorm: true,
    tieWordEmbeddings: true,
    hiddenAct: "gelu_new",
    ropeTheta: 1e6,
    ropeLocalTheta: 10000,
    ropeScaling: { type: "linear", factor: 2 },
    slidingWindow: 2,
    slidingLayers: [true, false],
    queryPreAttnScalar: 5,
  },
  // Small caps so that the tanh curvature matters at these logit sizes.
  gemma2: {
    ...llamaBase(),
    architecture: "gemma",
    modelType: "gemma2",
    tieWordEmbeddings: true,
    hiddenAct: "gelu_new",
    slidingWindow: 3,
    slidingLayers: [true, false],
    queryPreAttnScalar: 3,
    attnLogitSoftcap: 5,
    finalLogitSoftcap: 2,
  },
  gpt2: {
    ...llamaBase(),
    architecture: "gpt2",
    modelType: "gpt2",
    intermediateSize: 32,
    numKvHeads: 2,
    maxPositionEmbeddings: 16,
    tieWordEmbeddings: true,
    hiddenAct: "gelu_new",
  },
  "gpt2-untied": {
    ...llamaBase(),
    architecture: "gpt2",
    modelType: "gpt2",
    intermediateSize: 32,
    numKvHeads: 2,
    maxPositionEmbeddings: 16,
    tieWordEmbeddings: false,
    hiddenAct: "gelu_new",
  },
};

/** B=2, T=5 with unlabelled positions and a packed second row (two segments). */
export function tinyBatch(V: number, packed = true): Batch {
  const B = 2;
  const T = 5;
  const inputIds = Int32Array.from([3, 7, 1, 9, 4, 2, 5, 10, 6, 8].map((x) => x % V));
  const labels = Int32Array.from([-100, 7, 1, 9, 4, 2, 5, -100, 6, 8].map((x) => (x === -100 ? x : x % V)));
  const batch: Batch = { B, T, inputIds, labels };
  if (packed) batch.segments = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  return batch;
}
