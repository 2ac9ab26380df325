/** A plain SentencePiece-BPE encoder over GGUF vocabularies, the oracle for tokenizer and export tests. */
import type { GgufTokenizerInfo } from "../../src/engine/checkpoint/gguf.js";

/**
 * The SentencePiece-BPE encoder as llama2.c's run.c does it, written out plainly as the
 * oracle: "▁"-prefixed text, one piece per code point (bytes <0xXX> when a code point is not
 * in the vocabulary), then repeatedly merge the adjacent pair whose concatenation is in the
 * vocabulary with the highest score (leftmost on ties).
 */
export function spmEncode(info: GgufTokenizerInfo, text: string): number[] {
  const ids = new Map<string, number>();
  info.tokens.forEach((t, i) => {
    if (!ids.has(t) && info.tokenTypes?.[i] !== 3) ids.set(t, i);
  });
  const scores = info.scores!;
  if (text === "") return [];
  const norm = `▁${text.replaceAll(" ", "▁")}`;
  const seq: number[] = [];
  for (const ch of norm) {
    const id = ids.get(ch);
    if (id !== undefined) seq.push(id);
    else
      for (const b of Buffer.from(ch, "utf8"))
        seq.push(ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)!);
  }
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    let bestId = -1;
    for (let i = 0; i + 1 < seq.length; i++) {
      const merged = ids.get(info.tokens[seq[i]] + info.tokens[seq[i + 1]]);
      if (merged !== undefined && info.tokenTypes?.[merged] === 1 && scores[merged] > bestScore) {
        best = i;
        bestScore = scores[merged];
        bestId = merged;
      }
    }
    if (best < 0) return seq;
    seq.splice(best, 2, bestId);
  }
}
