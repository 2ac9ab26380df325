/**
 * The engine's normalized model configuration. Hugging Face `config.json` files and GGUF
 * metadata are both converted into this shape (see engine/checkpoint); models read only this.
 * `architecture` names the model family (models/<family>/), which gives every difference
 * between families; the other fields are the union of what the families need.
 */
/** A model family's id ("llama", "gpt2"): one of the families in models/registry.ts. */
export type Architecture = string;

export interface RopeScaling {
  /** "linear" | "dynamic" | "llama3" | "yarn" … as in HF `rope_scaling.rope_type`. */
  type: string;
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface ModelConfig {
  architecture: Architecture;
  /** HF `model_type` as read (llama, mistral, qwen2, qwen3, gpt2, …). */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  /** RMSNorm eps (llama family) or LayerNorm eps (gpt2). */
  normEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2/2.5). */
  attentionBias: boolean;
  /** o_proj carries a bias. */
  attentionOutBias: boolean;
  /** gate/up/down carry a bias. */
  mlpBias: boolean;
  /** per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  hiddenAct: "silu" | "gelu_new" | "gelu";
  /**
   * Sliding-window attention: a token sees itself and the slidingWindow - 1 tokens before it
   * (Mistral: every layer; Gemma: the layers `layerTypes` marks sliding). Absent/null: none.
   */
  slidingWindow?: number | null;
  /** Per layer: true where the layer attends through the sliding window (Gemma); absent: every layer when slidingWindow is set. */
  slidingLayers?: boolean[];
  /** RoPE base of the sliding-window layers when it differs from ropeTheta (Gemma 3's rope_local_base_freq). */
  ropeLocalTheta?: number;
  /** Attention scale query_pre_attn_scalar^-1/2 instead of head_dim^-1/2 (Gemma). */
  queryPreAttnScalar?: number;
  /** Attention-logit soft-capping (Gemma 2): scores become cap·tanh(score/cap). */
  attnLogitSoftcap?: number | null;
  /** Final-logit soft-capping (Gemma 2): logits become cap·tanh(logits/cap). */
  finalLogitSoftcap?: number | null;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
}
