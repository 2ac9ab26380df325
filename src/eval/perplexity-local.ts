/**
 * Fluency's reference model run by the package's own engine: the perplexity of a text is
 * exp(mean negative log-likelihood per token) of its tokens (after a BOS token when the
 * tokenizer has one) under the model, the text cut to the model's context length.
 * The runner uses it for `fluency: { model: PATH }` in an eval config (any model the engine
 * loads: HF directory, GGUF) unless another factory was registered.
 */
import { LocalLanguageModel } from "../generate/index.js";
import type { PerplexityScorer } from "./format.js";

export class LocalPerplexityScorer implements PerplexityScorer {
  private constructor(
    readonly name: string,
    private readonly lm: LocalLanguageModel,
  ) {}

  static async load(model: string): Promise<LocalPerplexityScorer> {
    return new LocalPerplexityScorer(model, await LocalLanguageModel.load({ model }));
  }

  get vocabSize(): number {
    return this.lm.model.config.vocabSize;
  }

  async perplexity(texts: string[]): Promise<number[]> {
    const { tokenizer, model } = this.lm;
    const maxLen = Math.min(model.config.maxPositionEmbeddings, 1024);
    return texts.map((text) => {
      const bos = tokenizer.bosTokenId;
      const ids = [...(bos !== undefined ? [bos] : []), ...tokenizer.encode(text)].slice(0, maxLen);
      // fewer than two tokens: nothing is predicted; count it as a uniform guess
      if (ids.length < 2) return this.vocabSize;
      const inputIds = Int32Array.from(ids);
      const r = model.forward({ B: 1, T: ids.length, inputIds, labels: Int32Array.from(ids) });
      return Math.exp(r.lossSum / Math.max(1, r.trainedTokens));
    });
  }
}
