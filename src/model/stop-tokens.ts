/** The token ids that end a generated reply for a tokenizer (and a model directory's generation_config.json). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TextTokenizer } from "../tokenize/tokenizer.js";

/** End-of-turn markers that close an assistant turn in common chat templates. */
const END_OF_TURN_TOKENS = [
  "<|im_end|>",
  "<|eot_id|>",
  "<|end|>",
  "<|endoftext|>",
  "<｜end▁of▁sentence｜>",
  "<end_of_turn>",
  "</s>",
];

/** EOS plus every end-of-turn token the tokenizer knows, plus generation_config.json's eos ids. */
export function stopTokenIdsFor(tokenizer: TextTokenizer, modelPath?: string): number[] {
  const ids = new Set<number>();
  if (tokenizer.eosTokenId !== undefined) ids.add(tokenizer.eosTokenId);
  for (const t of END_OF_TURN_TOKENS) {
    const id = tokenizer.tokenToId(t);
    if (id !== undefined && tokenizer.isSpecial(id)) ids.add(id);
  }
  const genConfig = modelPath ? join(modelPath, "generation_config.json") : "";
  if (genConfig && existsSync(genConfig)) {
    const eos = (JSON.parse(readFileSync(genConfig, "utf8")) as { eos_token_id?: number | number[] })
      .eos_token_id;
    for (const id of Array.isArray(eos) ? eos : eos === undefined ? [] : [eos]) ids.add(id);
  }
  return [...ids];
}
