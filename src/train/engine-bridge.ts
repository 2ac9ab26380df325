/**
 * What the trainer needs from the engine, the tokenizer and dataset I/O, in one place: the
 * trainer loop is written against these types, and this module wires them to the engine's
 * public API (models, LoRA, checkpoint I/O) and to src/tokenize.
 */
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pickModelSpec } from "../config/model-spec.js";
import { ALL_LINEAR, type TrainConfig } from "../config/train.js";
import { saveHfModel } from "../engine/checkpoint/hf.js";
import { hfTokenizerFromGguf } from "../engine/checkpoint/hf-tokenizer.js";
import { writePeftAdapter } from "../engine/checkpoint/peft.js";
import type { ModelConfig } from "../engine/config.js";
import type { LoraOptions } from "../engine/lora.js";
import type { Model } from "../engine/model.js";
import { familyOf } from "../engine/models/registry.js";
import type { ParamStore } from "../engine/params.js";
import { openModel } from "../model/open.js";
import type { TokenizeOptions } from "../tokenize/mask.js";
import type { TextTokenizer } from "../tokenize/tokenizer.js";
import { writeFileAtomicSync } from "../util/atomic.js";

/** One collated micro-batch, row-major [B, T]. Labels are aligned with input ids (-100 = not trained); the shift happens in the model. */
export interface TrainBatch {
  B: number;
  T: number;
  inputIds: Int32Array;
  labels: Int32Array;
  /** [B*T] position of each token (restarts per packed sample); absent: 0..T-1 per row */
  positions?: Int32Array;
  /** [B*T] packed-sample id per token; absent: one sample per row */
  segments?: Int32Array;
  /** ids of the records in this batch, for error messages */
  recordIds: string[];
  /** tokens that contribute to the loss (labels after the shift that are not -100) */
  trainedTokens: number;
  /** tokens that are not padding */
  realTokens: number;
}

export interface ForwardBackwardOptions {
  /** trained tokens of the whole accumulated batch: the loss is averaged over them */
  lossDenominator: number;
  /** LoRA dropout seed for this micro-batch (null: no dropout) */
  dropoutSeed: number | null;
  /** NEFTune: uniform noise of this magnitude alpha/sqrt(T·C) added to the input embeddings */
  neftune: { alpha: number; seed: number } | null;
}

/** A model ready to train: its parameters plus forward/backward over a batch. */
export interface TrainableModel {
  readonly params: ParamStore;
  /** Number of all parameters and of trainable ones. */
  readonly numParams: number;
  readonly numTrainable: number;
  /** Forward and backward; gradients ACCUMULATE into params.trainableGrad. Returns the sum of token losses. */
  forwardBackward(batch: TrainBatch, opts: ForwardBackwardOptions): number;
  /** Forward only: the sum of token losses and the trained-token count. */
  evalLoss(batch: TrainBatch): { lossSum: number; tokens: number };
  /** Writes the result: a PEFT adapter (LoRA) or an HF model directory (full). */
  saveResult(dir: string): void;
}

// ---------------------------------------------------------------------------------------
// Wiring to the engine

export interface OpenedModel {
  model: Model;
  trainable: TrainableModel;
  modelConfig: ModelConfig;
  tokenizer: TextTokenizer;
  /** The spec's tokenize options (what `sft data check` uses for the same spec). */
  tokenizeOptions: TokenizeOptions;
}

const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "tokenizer.model",
  "generation_config.json",
];

/** The LoRA the config asks for (null: full fine-tuning); an adapter's own options win in openModel. */
function loraOptions(config: TrainConfig): LoraOptions | null {
  if (config.finetuning_type !== "lora") return null;
  const l = config.lora;
  return {
    r: l.r,
    alpha: l.alpha,
    dropout: l.dropout,
    rsLora: l.rslora,
    targets: l.target_modules === ALL_LINEAR ? [ALL_LINEAR] : l.target_modules,
  };
}

/** Loads the base model (+ adapter), builds LoRA or full training, and the tokenizer. */
export async function openTrainableModel(config: TrainConfig): Promise<OpenedModel> {
  const opened = await openModel(pickModelSpec(config), {
    lora: loraOptions(config),
    seed: config.seed,
    gradientCheckpointing: config.gradient_checkpointing,
    requireWeights: true,
    tokenize: { truncation: config.truncation, lostContent: config.lost_content },
  });
  const { model, tokenizer, checkpoint: ckpt } = opened;
  const trainable: TrainableModel = {
    params: model.store,
    numParams: model.numParameters,
    numTrainable: model.numTrainableParameters,
    forwardBackward(batch, opts) {
      const r = model.forwardBackward(batch, {
        lossDenominator: opts.lossDenominator,
        // null means "no dropout" to the model; omitting it would make the model draw its own
        // seed and apply dropout anyway
        dropoutSeed: opts.dropoutSeed,
        // the trainer derives the noise seed per (seed, step, micro-batch), so a resumed run
        // draws the same noise; evalLoss goes through forward(), which never adds it
        neftune: opts.neftune,
      });
      if (r.trainedTokens !== batch.trainedTokens)
        throw new Error(
          `trained-token count mismatch: model ${r.trainedTokens}, trainer ${batch.trainedTokens}`,
        );
      return r.lossSum;
    },
    evalLoss(batch) {
      const r = model.forward(batch);
      return { lossSum: r.lossSum, tokens: r.trainedTokens };
    },
    saveResult(dir) {
      mkdirSync(dir, { recursive: true });
      if (model.lora) {
        writePeftAdapter(dir, {
          config: {
            r: model.lora.r,
            loraAlpha: model.lora.alpha,
            loraDropout: model.lora.dropout,
            targetModules: model.lora.targets,
            baseModelNameOrPath: resolve(config.model),
            useRslora: model.lora.rsLora,
            fanInFanOut: familyOf(ckpt.config).lora.fanInFanOut,
          },
          tensors: model.loraStateDict(),
        });
      } else {
        saveHfModel(dir, ckpt.config, model.stateDict());
      }
      // the tokenizer travels with the result so `--model DIR/model` works on its own
      const tokenizerDir = config.tokenizer ?? config.model;
      if (existsSync(tokenizerDir) && statSync(tokenizerDir).isDirectory()) {
        for (const f of TOKENIZER_FILES) {
          const src = join(tokenizerDir, f);
          if (existsSync(src)) copyFileSync(src, join(dir, f));
        }
      } else if (ckpt.tokenizer?.model === "llama") {
        // a GGUF base: its SentencePiece vocabulary, written as HF tokenizer files
        const files = hfTokenizerFromGguf(ckpt.tokenizer, {
          modelMaxLength: ckpt.config.maxPositionEmbeddings,
        });
        writeFileAtomicSync(join(dir, "tokenizer.json"), `${JSON.stringify(files.tokenizer, null, 2)}\n`);
        writeFileAtomicSync(
          join(dir, "tokenizer_config.json"),
          `${JSON.stringify(files.tokenizerConfig, null, 2)}\n`,
        );
      }
    },
  };
  return { model, trainable, modelConfig: ckpt.config, tokenizer, tokenizeOptions: opened.tokenizeOptions };
}
