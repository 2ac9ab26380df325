/** Small random configs of every GGUF-exported family, each paired with a real tokenizer of that family. */
import { resolve } from "node:path";
import type { ModelConfig } from "../../src/engine/config.js";
import { llamaConfig } from "./llama-config.js";

const shared = resolve(new URL("../..", import.meta.url).pathname, "../shared/tokenizers");

function base(vocabSize: number): ModelConfig {
  return llamaConfig({
    vocabSize,
    hiddenSize: 64,
    intermediateSize: 128,
    numKvHeads: 2,
    numHeads: 4,
    headDim: 16,
    maxPositionEmbeddings: 512,
    bosTokenId: null,
    eosTokenId: null,
  });
}

export interface FamilyCase {
  name: string;
  config: ModelConfig;
  tokenizerDir: string;
  /** The `tokenizer.ggml.pre` llama.cpp expects for this tokenizer (null: SentencePiece). */
  pre: string | null;
}

/** One case per exported family; the vocabulary sizes are the real tokenizers' sizes. */
export const FAMILY_CASES: FamilyCase[] = [
  {
    name: "llama3 (llama-bpe, llama3 RoPE scaling)",
    config: {
      ...base(128256),
      ropeTheta: 500000,
      ropeScaling: {
        type: "llama3",
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositionEmbeddings: 8192,
      },
      bosTokenId: 128000,
      eosTokenId: 128001,
    },
    tokenizerDir: resolve(shared, "llama3"),
    pre: "llama-bpe",
  },
  {
    name: "mistral (SentencePiece)",
    config: { ...base(32000), modelType: "mistral", bosTokenId: 1, eosTokenId: 2 },
    tokenizerDir: resolve(shared, "mistral"),
    pre: null,
  },
  {
    name: "qwen2 (q/k/v biases, tied)",
    config: {
      ...base(151669),
      modelType: "qwen2",
      attentionBias: true,
      tieWordEmbeddings: true,
      ropeTheta: 1e6,
      eosTokenId: 151645,
      padTokenId: 151643,
    },
    tokenizerDir: resolve(shared, "qwen3"),
    pre: "qwen2",
  },
  {
    name: "qwen3 (q/k norms)",
    config: {
      ...base(151669),
      modelType: "qwen3",
      qkNorm: true,
      headDim: 32,
      ropeTheta: 1e6,
      eosTokenId: 151645,
      padTokenId: 151643,
    },
    tokenizerDir: resolve(shared, "qwen3"),
    pre: "qwen2",
  },
  {
    name: "gpt2 (learned positions, Conv1D)",
    config: {
      ...base(128256),
      architecture: "gpt2",
      modelType: "gpt2",
      numKvHeads: 4,
      tieWordEmbeddings: true,
      attentionBias: true,
      attentionOutBias: true,
      mlpBias: true,
      hiddenAct: "gelu_new",
      ropeTheta: 0,
      bosTokenId: 128000,
      eosTokenId: 128001,
    },
    // No GPT-2 tokenizer.json is among the real test material: the Llama 3 one stands in.
    tokenizerDir: resolve(shared, "llama3"),
    pre: "llama-bpe",
  },
];
