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
