/**
 * What a model family (models/<family>/) tells the rest of the engine. Everything that
 * differs between families is a field here, so the shared runtime (transformer.ts), the
 * checkpoint readers/writers (checkpoint/) and LoRA never ask which family they run: they
 * look the family up in the registry (registry.ts) and read its data and functions.
 */
import type { GgufTypedValue, GgufValue } from "../checkpoint/gguf-format.js";
import type { ModelConfig } from "../config.js";
import type { StoredTensor, Tensor } from "../tensor.js";
import type { HfJson } from "./hf-json.js";
import type { FamilyBlocks } from "./types.js";

export interface ModelFamily {
  /** The family's id: `ModelConfig.architecture` of its models. */
  readonly id: string;
  /** How hints name the family ("llama (Llama, Mistral, Qwen2/3, SmolLM)"). */
  readonly label: string;

  // --- Hugging Face checkpoints -------------------------------------------------------
  /** Every HF `model_type` this family reads and writes, with the `architectures` class it implies. */
  readonly hfClasses: Readonly<Record<string, string>>;
  /** config.json → ModelConfig; `modelType` is one of hfClasses' keys. Errors name `file` and the field. */
  parseHfConfig(json: HfJson, modelType: string, file: string): ModelConfig;
  /**
   * The family's own config.json fields; the shared ones (architectures, model_type,
   * vocab_size, special-token ids, tie_word_embeddings, torch_dtype) are written by the caller.
   */
  hfConfigFields(config: ModelConfig): HfJson;
  /** Every weight a checkpoint of this config holds, by HF name and in HF's order, with its shape. */
  tensorShapes(config: ModelConfig): Map<string, number[]>;
  /** Other names a checkpoint may store HF tensor `name` under (GPT2Model's names lack `transformer.`). */
  tensorNameAliases(name: string): readonly string[];

  // --- The model ----------------------------------------------------------------------
  /** Parameter layout and the explicit forward/backward of embedding, block and final norm. */
  readonly blocks: FamilyBlocks;
  /** Checks beyond the shared shape checks (activation, RoPE head size…); throws SftError. */
  validateConfig(config: ModelConfig): void;
  /** The blocks read RoPE tables (StepContext.rope). */
  readonly usesRope: boolean;
  /** Positions the model can embed (a learned position table), or null when unbounded (RoPE). */
  maxPositions(config: ModelConfig): number | null;
  /** Standard deviation of the normal random init of matrix/embedding `name` (norms are 1, biases 0). */
  initStd(name: string, config: ModelConfig): number;

  // --- LoRA ---------------------------------------------------------------------------
  readonly lora: {
    /** Linear layers LoRA may wrap (PEFT `target_modules` names). */
    readonly targets: readonly string[];
    /** Targets used when none are given (attention projections, as PEFT's defaults). */
    readonly defaultTargets: readonly string[];
    /** Base weights are stored [in, out] (GPT-2's Conv1D): PEFT's `fan_in_fan_out`. */
    readonly fanInFanOut: boolean;
  };

  // --- GGUF ---------------------------------------------------------------------------
  /** One mapping per GGUF `general.architecture` this family reads (and perhaps writes). */
  readonly gguf: readonly GgufMapping[];
}

/**
 * llama.cpp's conventions for one GGUF architecture ⇄ this engine's (HF names and layouts).
 * Reading needs arch, hfName, fromMetadata (and fromGgufLayout where layouts differ);
 * writing also needs writes, tensorName and metadata. The generic GGUF model reader/writer
 * (checkpoint/gguf-model.ts) adds what is the same for every architecture: the
 * `general.*` and `tokenizer.*` keys, tensor types, and the special-token ids.
 */
export interface GgufMapping {
  /** `general.architecture` value; also the prefix of its metadata keys (`llama.context_length`). */
  readonly arch: string;
  /** GGUF tensor name → HF name; null for tensors with no HF counterpart (`rope_freqs.weight`). */
  hfName(ggufName: string): string | null;
  /** HF tensor name → GGUF name; null when the tensor has no GGUF counterpart. */
  tensorName(hfName: string): string | null;
  /**
   * ModelConfig from `${arch}.*` metadata and the tensor table (presence, shapes, and the data
   * of non-weight tensors such as rope_freqs). Special-token ids are filled in by the caller.
   */
  fromMetadata(
    metadata: Record<string, GgufValue>,
    tensors: Map<string, StoredTensor>,
    file: string,
  ): Omit<ModelConfig, "bosTokenId" | "eosTokenId" | "padTokenId">;
  /** One tensor from GGUF layout into HF layout (llama's Q/K row permutation); absent: same layout. */
  fromGgufLayout?(hfName: string, t: StoredTensor, config: ModelConfig): StoredTensor;
  /** Whether this mapping writes models of this config (absent: read-only). */
  writes?(config: ModelConfig): boolean;
  /** One tensor from HF layout into GGUF layout; absent: same layout. */
  toGgufLayout?(hfName: string, t: Tensor, config: ModelConfig): Tensor;
  /** The `${arch}.*` metadata of a written file. */
  metadata?(config: ModelConfig): Record<string, GgufValue | GgufTypedValue>;
  /** Tensors a written file carries besides the weights (`rope_freqs.weight` for llama3 RoPE). */
  extraTensors?(config: ModelConfig): { name: string; tensor: Tensor }[];
}
