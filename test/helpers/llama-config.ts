/** A Llama-shaped `ModelConfig` for tests: tiny by default, each test overriding what it needs. */
import type { ModelConfig } from "../../src/engine/config.js";

export function llamaConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    architecture: "llama",
    modelType: "llama",
    vocabSize: 11,
    hiddenSize: 8,
    intermediateSize: 12,
    numLayers: 2,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 4,
    maxPositionEmbeddings: 64,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    tieWordEmbeddings: false,
    attentionBias: false,
    attentionOutBias: false,
    mlpBias: false,
    qkNorm: false,
    hiddenAct: "silu",
    bosTokenId: 1,
    eosTokenId: 2,
    padTokenId: null,
    ...overrides,
  };
}
