/**
 * A byte-level BPE tokenizer.json (GPT-2, Llama 3, Qwen2/3, SmolLM, DeepSeek-V3) as the GGUF
 * `tokenizer.ggml.*` block llama.cpp reads with `tokenizer.ggml.model = "gpt2"`: tokens in
 * id order, token types (special added tokens are control, other added tokens
 * user-defined), the merges, and `tokenizer.ggml.pre`, the name under which llama.cpp keeps
 * the pre-tokenizer regexes. The pre-tokenizer is recognised by its exact regexes, never
 * guessed: an unknown one is an error, since a wrong name splits text differently.
 */
import { SftError } from "../../errors.js";
import type { GgufTokenizerInfo } from "./gguf.js";

const TOKEN_TYPE = { normal: 1, control: 3, userDefined: 4, unused: 5 } as const;

const LLAMA3_RE =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_RE =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const DEEPSEEK_V3_RES = [
  "\\p{N}{1,3}",
  "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
];

/** Pre-tokenizer step sequences (see `steps`) → llama.cpp's `tokenizer.ggml.pre` name. */
const PRE_NAMES: [steps: string[], pre: string][] = [
  [[`split:${LLAMA3_RE}`, "bytelevel"], "llama-bpe"],
  [[`split:${QWEN2_RE}`, "bytelevel"], "qwen2"],
  [["digits:individual", "bytelevel:regex"], "smollm"],
  [["bytelevel:regex"], "gpt-2"],
  [[...DEEPSEEK_V3_RES.map((r) => `split:${r}`), "bytelevel"], "deepseek-v3"],
];

interface PreTokenizer {
  type?: string;
  pretokenizers?: PreTokenizer[];
  pattern?: { Regex?: string; String?: string };
  individual_digits?: boolean;
  use_regex?: boolean;
}

/** The pre-tokenizer as a list of step signatures, or null when it is not byte-level. */
function steps(pre: PreTokenizer | null | undefined): string[] | null {
  if (!pre) return null;
  const list = pre.type === "Sequence" ? (pre.pretokenizers ?? []) : [pre];
  const out: string[] = [];
  for (const p of list) {
    if (p.type === "Split") out.push(`split:${p.pattern?.Regex ?? p.pattern?.String ?? ""}`);
    else if (p.type === "Digits") out.push(p.individual_digits ? "digits:individual" : "digits");
    else if (p.type === "ByteLevel") out.push(p.use_regex === false ? "bytelevel" : "bytelevel:regex");
    else out.push(p.type ?? "?");
  }
  return out[out.length - 1]?.startsWith("bytelevel") ? out : null;
}

/** llama.cpp's pre-tokenizer name for this tokenizer.json, or an error naming what is known. */
export function ggufPreTokenizerName(tokenizer: Record<string, unknown>, file: string): string {
  const s = steps(tokenizer.pre_tokenizer as PreTokenizer);
  const found = s && PRE_NAMES.find(([want]) => want.length === s.length && want.every((w, i) => w === s[i]));
  if (!found) {
    throw new SftError("this byte-level BPE pre-tokenizer has no llama.cpp pre-tokenizer name known here", {
      where: { file, field: "pre_tokenizer" },
      hint: `known: ${PRE_NAMES.map(([, p]) => p).join(", ")}; export with --format hf and convert with llama.cpp's converter`,
      code: "E_CHECKPOINT",
    });
  }
  return found[1];
}

/** Whether tokenizer.json is a byte-level BPE (its pre-tokenizer ends in ByteLevel). */
export function isByteLevelBpe(tokenizer: Record<string, unknown>): boolean {
  const model = tokenizer.model as { type?: string } | undefined;
  return model?.type === "BPE" && steps(tokenizer.pre_tokenizer as PreTokenizer) !== null;
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

/** The `tokenizer.ggml.*` vocabulary of a byte-level BPE tokenizer.json (+ tokenizer_config.json). */
export function ggufBpeVocabFromHf(
  tokenizer: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown> | null,
  file: string,
): GgufTokenizerInfo {
  const model = tokenizer.model as {
    vocab: Record<string, number>;
    merges: (string | [string, string])[];
  };
  const pre = ggufPreTokenizerName(tokenizer, file);
  const added = Array.isArray(tokenizer.added_tokens) ? (tokenizer.added_tokens as AddedToken[]) : [];
  let size = 0;
  for (const id of Object.values(model.vocab)) size = Math.max(size, id + 1);
  for (const a of added) size = Math.max(size, a.id + 1);
  const tokens: string[] = new Array(size).fill("");
  const types: number[] = new Array(size).fill(TOKEN_TYPE.normal);
  for (const [piece, id] of Object.entries(model.vocab)) tokens[id] = piece;
  for (const a of added) {
    tokens[a.id] = a.content;
    types[a.id] = a.special === false ? TOKEN_TYPE.userDefined : TOKEN_TYPE.control;
  }
  // Ids no token owns (a padded vocabulary) get llama.cpp's placeholder name and the unused type.
  for (let i = 0; i < size; i++) {
    if (tokens[i] === "") {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  const merges = model.merges.map((m) => (Array.isArray(m) ? `${m[0]} ${m[1]}` : m));
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  const idOf = (key: string): number | null => {
    const v = tokenizerConfig?.[key];
    const content =
      typeof v === "string"
        ? v
        : v && typeof v === "object"
          ? (v as { content?: string }).content
          : undefined;
    return content === undefined ? null : (ids.get(content) ?? null);
  };
  const bos = idOf("bos_token");
  const eos = idOf("eos_token");
  // What HF's encode adds: the post-processor's template is the truth, the config flag a fallback.
  const post = JSON.stringify(tokenizer.post_processor ?? null);
  const bosToken = bos === null ? null : tokens[bos];
  const addsBos =
    bosToken !== null &&
    (post.includes(`"SpecialToken":{"id":${JSON.stringify(bosToken)}`) ||
      (!post.includes("TemplateProcessing") && tokenizerConfig?.add_bos_token === true));
  const template = tokenizerConfig?.chat_template;
  return {
    model: "gpt2",
    pre,
    tokens,
    scores: null,
    tokenTypes: types,
    merges,
    bosTokenId: bos,
    eosTokenId: eos,
    unkTokenId: null,
    padTokenId: idOf("pad_token"),
    addBosToken: addsBos,
    addEosToken: false,
    chatTemplate: typeof template === "string" ? template : null,
  };
}
