/**
 * Turns the SentencePiece vocabulary a GGUF embeds (`tokenizer.ggml.model = "llama"`) into
 * Hugging Face `tokenizer.json` + `tokenizer_config.json` that encode and decode the same
 * way: a BPE model with byte fallback whose merges are ranked by the score of the merged
 * piece (SentencePiece BPE merges the adjacent pair whose result scores highest), the
 * "▁" dummy prefix and space replacement as a normalizer, and the matching decoder.
 */
import { SftError } from "../../errors.js";
import type { GgufTokenizerInfo } from "./gguf.js";

/** SentencePiece token types as GGUF stores them. */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface HfTokenizerFiles {
  /** Contents of tokenizer.json. */
  tokenizer: Record<string, unknown>;
  /** Contents of tokenizer_config.json. */
  tokenizerConfig: Record<string, unknown>;
}

/**
 * BPE merges that reproduce SentencePiece's greedy highest-score merging: every split of a
 * piece into two pieces that are both in the vocabulary, ordered by the piece's score
 * (highest first, then lower id), and within a piece by the ids of its two halves.
 */
export function sentencePieceMerges(
  tokens: string[],
  scores: number[] | null,
  types: number[] | null,
): [string, string][] {
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  const mergeable = (i: number) =>
    !types || types[i] === TOKEN_TYPE.normal || types[i] === TOKEN_TYPE.userDefined;
  const order = tokens.map((_, i) => i).filter(mergeable);
  // Without scores, a lower id means an earlier merge (as SentencePiece assigns ids).
  order.sort((a, b) => (scores ? scores[b] - scores[a] : 0) || a - b);
  const merges: [string, string][] = [];
  for (const i of order) {
    const chars = Array.from(tokens[i]);
    const local: [string, string, number, number][] = [];
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join("");
      const right = chars.slice(k).join("");
      const li = ids.get(left);
      const ri = ids.get(right);
      if (li !== undefined && ri !== undefined && mergeable(li) && mergeable(ri))
        local.push([left, right, li, ri]);
    }
    local.sort((a, b) => a[2] - b[2] || a[3] - b[3]);
    for (const [l, r] of local) merges.push([l, r]);
  }
  return merges;
}

function addedToken(id: number, content: string, special: boolean) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/** Builds tokenizer.json / tokenizer_config.json for a GGUF's SentencePiece vocabulary. */
export function hfTokenizerFromGguf(
  info: GgufTokenizerInfo,
  opts: { modelMaxLength?: number } = {},
): HfTokenizerFiles {
  if (info.model !== "llama") {
    throw new SftError(
      `cannot build a tokenizer.json from a "${info.model}" GGUF vocabulary (supported: llama/SentencePiece)`,
      {
        where: { field: "tokenizer.ggml.model" },
        code: "E_CHECKPOINT",
      },
    );
  }
  const { tokens, scores, tokenTypes } = info;
  const hasBytes = tokens.includes("<0x00>") && tokens.includes("<0xFF>");
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (!(t in vocab)) vocab[t] = i;
  });
  const merges = sentencePieceMerges(tokens, scores, tokenTypes);
  const tokenAt = (id: number | null) => (id === null ? null : tokens[id]);
  const unk = tokenAt(info.unkTokenId) ?? (tokens.includes("<unk>") ? "<unk>" : null);
  const bos = tokenAt(info.bosTokenId);
  const eos = tokenAt(info.eosTokenId);
  const pad = tokenAt(info.padTokenId);
  const addBos = info.addBosToken ?? true;
  const addEos = info.addEosToken ?? false;
  const added = tokens
    .map((t, i) => ({ t, i }))
    .filter(
      ({ i }) => tokenTypes && (tokenTypes[i] === TOKEN_TYPE.control || tokenTypes[i] === TOKEN_TYPE.unknown),
    )
    .map(({ t, i }) => addedToken(i, t, true));

  const single: unknown[] = [];
  const pair: unknown[] = [];
  const specialTokens: Record<string, unknown> = {};
  if (addBos && bos !== null) {
    single.push({ SpecialToken: { id: bos, type_id: 0 } });
    specialTokens[bos] = { id: bos, ids: [info.bosTokenId], tokens: [bos] };
  }
  single.push({ Sequence: { id: "A", type_id: 0 } });
  if (addEos && eos !== null) {
    single.push({ SpecialToken: { id: eos, type_id: 0 } });
    specialTokens[eos] = { id: eos, ids: [info.eosTokenId], tokens: [eos] };
  }
  for (const item of single) pair.push(item);
  for (const item of single) {
    pair.push(
      JSON.parse(JSON.stringify(item).replace('"id":"A"', '"id":"B"').replace('"type_id":0', '"type_id":1')),
    );
  }

  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: null,
    post_processor: { type: "TemplateProcessing", single, pair, special_tokens: specialTokens },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        ...(hasBytes ? [{ type: "ByteFallback" }] : []),
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: hasBytes,
      ignore_merges: false,
      vocab,
      merges: merges.map(([l, r]) => (l.includes(" ") || r.includes(" ") ? [l, r] : `${l} ${r}`)),
    },
  };
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const a of added) {
    const { id, ...rest } = a;
    addedTokensDecoder[String(id)] = rest;
  }
  const tokenizerConfig: Record<string, unknown> = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: bos,
    eos_token: eos,
    unk_token: unk,
    pad_token: pad,
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: opts.modelMaxLength ?? 2048,
    sp_model_kwargs: {},
    spaces_between_special_tokens: false,
    tokenizer_class: "LlamaTokenizer",
  };
  if (info.chatTemplate !== null) tokenizerConfig.chat_template = info.chatTemplate;
  return { tokenizer, tokenizerConfig };
}

/**
 * The reverse direction for SentencePiece-style tokenizer.json files (BPE over "▁"-joined
 * text, as Llama 2, Mistral and the built-in model use): the vocabulary as a GGUF
 * `tokenizer.ggml.*` block. Scores are derived from the merge ranks (the piece made by
 * merge k scores −k), which makes llama.cpp's SentencePiece tokenizer merge in the same
 * order. Returns null for tokenizers that are not SentencePiece-style (byte-level BPE …).
 */
export function ggufTokenizerFromHf(
  tokenizer: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown> | null,
): GgufTokenizerInfo | null {
  const model = tokenizer.model as
    | {
        type?: string;
        vocab?: Record<string, number>;
        merges?: (string | [string, string])[];
        unk_token?: string | null;
      }
    | undefined;
  if (model?.type !== "BPE" || !model.vocab || !Array.isArray(model.merges)) return null;
  const usesMetaspace =
    JSON.stringify(tokenizer.normalizer ?? null).includes("▁") ||
    JSON.stringify(tokenizer.pre_tokenizer ?? null).includes("Metaspace");
  if (!usesMetaspace) return null;
  const added = Array.isArray(tokenizer.added_tokens)
    ? (tokenizer.added_tokens as { id: number; content: string; special?: boolean }[])
    : [];
  let size = 0;
  for (const id of Object.values(model.vocab)) size = Math.max(size, id + 1);
  for (const a of added) size = Math.max(size, a.id + 1);
  const tokens: string[] = new Array(size).fill("");
  const types: number[] = new Array(size).fill(TOKEN_TYPE.normal);
  for (const [piece, id] of Object.entries(model.vocab)) {
    tokens[id] = piece;
    if (/^<0x[0-9A-F]{2}>$/.test(piece)) types[id] = TOKEN_TYPE.byte;
  }
  for (let i = 0; i < size; i++) {
    if (tokens[i] === "") {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  for (const a of added) {
    tokens[a.id] = a.content;
    types[a.id] = a.special === false ? TOKEN_TYPE.userDefined : TOKEN_TYPE.control;
  }
  const scores: number[] = new Array(size).fill(0);
  const scored = new Set<number>();
  model.merges.forEach((m, rank) => {
    const [l, r] = Array.isArray(m) ? m : [m.slice(0, m.indexOf(" ")), m.slice(m.indexOf(" ") + 1)];
    const id = model.vocab?.[l + r];
    if (id !== undefined && !scored.has(id)) {
      scores[id] = -rank;
      scored.add(id);
    }
  });
  // Pieces no merge produces (single characters) must not win over merged pieces.
  for (let i = 0; i < size; i++) if (!scored.has(i) && types[i] === TOKEN_TYPE.normal) scores[i] = -1e9;
  if (model.unk_token && model.vocab[model.unk_token] !== undefined)
    types[model.vocab[model.unk_token]] = TOKEN_TYPE.unknown;
  const idOf = (key: string): number | null => {
    const v = tokenizerConfig?.[key];
    const content =
      typeof v === "string"
        ? v
        : v && typeof v === "object"
          ? (v as { content?: string }).content
          : undefined;
    if (!content) return null;
    const id = tokens.indexOf(content);
    return id >= 0 ? id : null;
  };
  const bool = (key: string): boolean | null => {
    const v = tokenizerConfig?.[key];
    return typeof v === "boolean" ? v : null;
  };
  const template = tokenizerConfig?.chat_template;
  return {
    model: "llama",
    tokens,
    scores,
    tokenTypes: types,
    merges: null,
    bosTokenId: idOf("bos_token"),
    eosTokenId: idOf("eos_token"),
    unkTokenId: model.unk_token ? (model.vocab[model.unk_token] ?? null) : null,
    padTokenId: idOf("pad_token"),
    addBosToken: bool("add_bos_token"),
    addEosToken: bool("add_eos_token"),
    chatTemplate: typeof template === "string" ? template : null,
  };
}
