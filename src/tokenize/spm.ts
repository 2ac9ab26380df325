/**
 * The llama SentencePiece tokenizer, as GGUF files describe it (`tokenizer.ggml.model = "llama"`):
 * spaces become "▁", a "▁" is put in front of every run of text that starts the input or follows a
 * control token, characters are merged greedily by the score of the merged piece (highest first,
 * leftmost on ties), and any piece left that is not in the vocabulary falls back to its UTF-8
 * bytes as `<0xNN>` tokens. Control tokens written in the text (`<s>`, `</s>`…) are recognised
 * as themselves, as Hugging Face tokenizers do with added tokens.
 */

/** GGUF `tokenizer.ggml.token_type` values. */
export const SPM_TOKEN_TYPE = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

export interface SpmVocabulary {
  tokens: string[];
  scores: number[];
  tokenTypes: number[];
  unknownId: number | undefined;
  addSpacePrefix: boolean;
}

const SPACE_MARK = "▁";

interface Symbol {
  text: string;
  prev: number;
  next: number;
  alive: boolean;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  text: string;
}

/** Max-heap on score, leftmost first on ties. */
class BigramQueue {
  private heap: Bigram[] = [];

  get size(): number {
    return this.heap.length;
  }

  private better(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(b: Bigram): void {
    const h = this.heap;
    h.push(b);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): Bigram | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.better(h[l], h[m])) m = l;
        if (r < h.length && this.better(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

export class SentencePieceModel {
  /** Pieces that text merges may produce (normal and user-defined tokens). */
  private readonly mergeable = new Map<string, number>();
  /** Tokens recognised verbatim in the input before merging (control and user-defined). */
  private readonly verbatim: { text: string; id: number }[] = [];
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly byteOf = new Map<number, number>();
  private readonly verbatimPattern: RegExp | undefined;

  constructor(readonly vocab: SpmVocabulary) {
    const { tokens, tokenTypes } = vocab;
    for (let id = 0; id < tokens.length; id++) {
      const type = tokenTypes[id] ?? SPM_TOKEN_TYPE.normal;
      const text = tokens[id];
      if (type === SPM_TOKEN_TYPE.byte) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
        if (m) {
          const b = Number.parseInt(m[1], 16);
          this.byteIds[b] = id;
          this.byteOf.set(id, b);
        }
      } else if (type === SPM_TOKEN_TYPE.normal || type === SPM_TOKEN_TYPE.userDefined) {
        if (!this.mergeable.has(text)) this.mergeable.set(text, id);
      }
      if (
        (type === SPM_TOKEN_TYPE.control ||
          type === SPM_TOKEN_TYPE.unknown ||
          type === SPM_TOKEN_TYPE.userDefined) &&
        text.length > 0
      ) {
        this.verbatim.push({ text, id });
      }
    }
    // Longest first so that "<|a|b|>" wins over "<|a".
    this.verbatim.sort((a, b) => b.text.length - a.text.length);
    if (this.verbatim.length > 0) {
      const escaped = this.verbatim.map((t) => t.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      this.verbatimPattern = new RegExp(`(${escaped.join("|")})`, "u");
    }
  }

  get size(): number {
    return this.vocab.tokens.length;
  }

  isControl(id: number): boolean {
    return this.vocab.tokenTypes[id] === SPM_TOKEN_TYPE.control;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    const parts = this.verbatimPattern ? text.split(this.verbatimPattern) : [text];
    // split() with a capture group alternates text, token, text, token, …
    let prevWasControl = true;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (i % 2 === 1) {
        const tok = this.verbatim.find((t) => t.text === part)!;
        out.push(tok.id);
        prevWasControl = this.vocab.tokenTypes[tok.id] === SPM_TOKEN_TYPE.control;
        continue;
      }
      if (part.length === 0) continue;
      const prefixed = this.vocab.addSpacePrefix && prevWasControl ? ` ${part}` : part;
      this.encodeRun(prefixed.replaceAll(" ", SPACE_MARK), out);
      prevWasControl = false;
    }
    return out;
  }

  private encodeRun(text: string, out: number[]): void {
    const chars = Array.from(text);
    const syms: Symbol[] = chars.map((c, i) => ({ text: c, prev: i - 1, next: i + 1, alive: true }));
    if (syms.length > 0) syms[syms.length - 1].next = -1;
    const queue = new BigramQueue();
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const merged = syms[left].text + syms[right].text;
      const id = this.mergeable.get(merged);
      if (id === undefined) return;
      queue.push({ left, right, score: this.vocab.scores[id] ?? 0, text: merged });
    };
    for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const b = queue.pop()!;
      const l = syms[b.left];
      const r = syms[b.right];
      // Skip bigrams made stale by an earlier merge of either side.
      if (!l.alive || !r.alive || l.next !== b.right || l.text + r.text !== b.text) continue;
      l.text = b.text;
      r.alive = false;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = b.left;
      tryAdd(l.prev, b.left);
      tryAdd(b.left, l.next);
    }
    for (let i = 0; i >= 0 && i < syms.length; i = syms[i].next) {
      const id = this.mergeable.get(syms[i].text);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const byte of Buffer.from(syms[i].text, "utf8")) {
        const bid = this.byteIds[byte];
        if (bid >= 0) out.push(bid);
        else if (this.vocab.unknownId !== undefined) out.push(this.vocab.unknownId);
      }
    }
  }

  /**
   * Bytes → text. Control tokens print as their text unless skipped; one leading space (the
   * prefix encode added) is removed, as the Hugging Face llama decoder does.
   */
  decode(ids: readonly number[], skipControl: boolean): string {
    const bytes: number[] = [];
    const pushText = (s: string) => {
      for (const b of Buffer.from(s, "utf8")) bytes.push(b);
    };
    for (const id of ids) {
      const byte = this.byteOf.get(id);
      if (byte !== undefined) {
        bytes.push(byte);
        continue;
      }
      const text = this.vocab.tokens[id];
      if (text === undefined) continue;
      const type = this.vocab.tokenTypes[id];
      if (type === SPM_TOKEN_TYPE.control || type === SPM_TOKEN_TYPE.unknown) {
        if (!skipControl) pushText(text);
        continue;
      }
      pushText(text.replaceAll(SPACE_MARK, " "));
    }
    let s = Buffer.from(bytes).toString("utf8");
    if (this.vocab.addSpacePrefix && s.startsWith(" ")) s = s.slice(1);
    return s;
  }
}
