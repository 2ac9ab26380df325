/** A TextTokenizer over the SentencePiece vocabulary embedded in a GGUF file. */
import { ggufTokenizerInfo, readGgufMetadata } from "../engine/checkpoint/gguf.js";
import { SftError } from "../errors.js";
import { SentencePieceModel, SPM_TOKEN_TYPE } from "./spm.js";
import type { DecodeOptions, EncodeOptions, TextTokenizer } from "./tokenizer.js";

class GgufSpmTokenizer implements TextTokenizer {
  readonly kind = "gguf-spm" as const;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padTokenId: number;
  private readonly byText = new Map<string, number>();

  constructor(
    readonly source: string,
    private readonly model: SentencePieceModel,
    readonly bosTokenId: number | undefined,
    readonly eosTokenId: number | undefined,
    padTokenId: number | undefined,
    readonly addBosToken: boolean,
    readonly addEosToken: boolean,
    readonly chatTemplate: string | undefined,
  ) {
    const tokens = model.vocab.tokens;
    tokens.forEach((t, i) => {
      if (!this.byText.has(t)) this.byText.set(t, i);
    });
    this.bosToken = bosTokenId === undefined ? undefined : tokens[bosTokenId];
    this.eosToken = eosTokenId === undefined ? undefined : tokens[eosTokenId];
    this.padTokenId = padTokenId ?? eosTokenId ?? 0;
  }

  get vocabSize(): number {
    return this.model.size;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.model.encode(text);
    if (opts.addSpecialTokens) {
      if (this.addBosToken && this.bosTokenId !== undefined) ids.unshift(this.bosTokenId);
      if (this.addEosToken && this.eosTokenId !== undefined) ids.push(this.eosTokenId);
    }
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return this.model.decode(ids, opts.skipSpecialTokens ?? false);
  }

  tokenToId(token: string): number | undefined {
    return this.byText.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.model.vocab.tokens[id];
  }

  isSpecial(id: number): boolean {
    const t = this.model.vocab.tokenTypes[id];
    return t === SPM_TOKEN_TYPE.control || t === SPM_TOKEN_TYPE.unknown;
  }
}

export function loadGgufTokenizer(path: string, chatTemplateOverride?: string): TextTokenizer {
  const metadata = readGgufMetadata(path).metadata;
  const info = ggufTokenizerInfo(metadata);
  if (!info) {
    throw new SftError(`${path} carries no tokenizer (no tokenizer.ggml.tokens)`, {
      where: { file: path, field: "tokenizer.ggml.tokens" },
      hint: "use a GGUF converted with its vocabulary, or pass the model's Hugging Face tokenizer directory",
    });
  }
  if (info.model !== "llama") {
    throw new SftError(
      `${path}: tokenizer.ggml.model is "${info.model}"; only SentencePiece ("llama") GGUF vocabularies are read`,
      {
        where: { file: path, field: "tokenizer.ggml.model" },
        hint: "pass the model's Hugging Face tokenizer directory (tokenizer.json) instead",
      },
    );
  }
  const n = info.tokens.length;
  // GGUF writes "no such token" as -1 stored unsigned (4294967295).
  const validId = (id: number | null) => (id !== null && id >= 0 && id < n ? id : undefined);
  const addSpacePrefix = metadata["tokenizer.ggml.add_space_prefix"];
  const model = new SentencePieceModel({
    tokens: info.tokens,
    scores: info.scores ?? new Array(n).fill(0),
    tokenTypes: info.tokenTypes ?? new Array(n).fill(SPM_TOKEN_TYPE.normal),
    unknownId: validId(info.unkTokenId),
    addSpacePrefix: typeof addSpacePrefix === "boolean" ? addSpacePrefix : true,
  });
  const bos = validId(info.bosTokenId);
  const eos = validId(info.eosTokenId);
  return new GgufSpmTokenizer(
    path,
    model,
    bos,
    eos,
    validId(info.padTokenId),
    (info.addBosToken ?? true) && bos !== undefined,
    info.addEosToken ?? false,
    chatTemplateOverride ?? info.chatTemplate ?? undefined,
  );
}
