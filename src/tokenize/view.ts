/**
 * Views of tokenized samples with the trained tokens highlighted: a terminal view (ANSI colour)
 * and a self-contained HTML page. Tokens are grouped into pieces that decode cleanly (a
 * character split over several byte-level tokens is shown once), each piece keeping its ids
 * and whether its labels are trained.
 */
import { IGNORE_INDEX, type TokenizedSample } from "./mask.js";
import type { TextTokenizer } from "./tokenizer.js";

export interface TokenPiece {
  text: string;
  ids: number[];
  trained: boolean;
  special: boolean;
}

/** Splits a sample into display pieces (one per token, or per character when tokens split one). */
export function tokenPieces(
  tokenizer: TextTokenizer,
  ids: readonly number[],
  labels: readonly number[],
): TokenPiece[] {
  const anchor = tokenizer.encode("a")[0];
  const anchorText = tokenizer.decode([anchor]);
  // Decoded after an anchor token so SentencePiece keeps each piece's leading space.
  const decode = (xs: number[]) => tokenizer.decode([anchor, ...xs]).slice(anchorText.length);
  const out: TokenPiece[] = [];
  let i = 0;
  while (i < ids.length) {
    let j = i + 1;
    let text = decode(ids.slice(i, j));
    while (text.endsWith("\uFFFD") && j < ids.length && j - i < 8) {
      j++;
      text = decode(ids.slice(i, j));
    }
    const span = ids.slice(i, j);
    out.push({
      text,
      ids: span,
      trained: labels.slice(i, j).some((l) => l !== IGNORE_INDEX),
      special: span.some((id) => tokenizer.isSpecial(id)),
    });
    i = j;
  }
  return out;
}

function summary(sample: TokenizedSample): string {
  const trained = sample.labels.filter((l) => l !== IGNORE_INDEX).length;
  const cut = sample.truncated ? `, truncated: ${sample.truncation}` : "";
  return `${sample.inputIds.length} tokens, ${trained} trained${cut}`;
}

const ANSI = {
  trained: "\x1b[30;42m",
  special: "\x1b[1m",
  prompt: "\x1b[2m",
  reset: "\x1b[0m",
  header: "\x1b[1;36m",
};

/**
 * The terminal view of one sample. With colour, trained tokens have a green background and the
 * prompt is dim; without, trained text is wrapped in ⟦ ⟧. `showTokenBoundaries` separates
 * tokens with "·".
 */
export function renderTerminal(
  sample: TokenizedSample,
  tokenizer: TextTokenizer,
  opts: { color: boolean; showTokenBoundaries?: boolean },
): string {
  const pieces = tokenPieces(tokenizer, sample.inputIds, sample.labels);
  const sep = opts.showTokenBoundaries ? "·" : "";
  let body = "";
  let inTrained = false;
  for (const p of pieces) {
    const text = p.text.replaceAll("\n", "↵\n");
    if (opts.color) {
      const style = (p.trained ? ANSI.trained : ANSI.prompt) + (p.special ? ANSI.special : "");
      body += `${style}${text}${ANSI.reset}${sep}`;
    } else {
      if (p.trained && !inTrained) body += "⟦";
      if (!p.trained && inTrained) body += "⟧";
      body += text + sep;
      inTrained = p.trained;
    }
  }
  if (!opts.color && inTrained) body += "⟧";
  const head = `── ${sample.id} (${summary(sample)})`;
  return `${opts.color ? ANSI.header + head + ANSI.reset : head}\n${body}\n`;
}

function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** A self-contained HTML page showing the samples, trained tokens highlighted; hover shows ids. */
export function renderHtml(
  samples: readonly TokenizedSample[],
  tokenizer: TextTokenizer,
  title: string,
): string {
  const sections = samples.map((s) => {
    const spans = tokenPieces(tokenizer, s.inputIds, s.labels)
      .map((p) => {
        const cls = ["t", p.trained ? "trained" : "prompt", p.special ? "special" : ""]
          .filter(Boolean)
          .join(" ");
        const text = escapeHtml(p.text).replaceAll("\n", "↵\n");
        return `<span class="${cls}" title="${p.ids.join(" ")}${p.trained ? " (trained)" : ""}">${text}</span>`;
      })
      .join("");
    return `<section><h2>${escapeHtml(s.id)}</h2><p class="meta">${escapeHtml(summary(s))}</p><pre>${spans}</pre></section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 80em; }
pre { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, monospace; line-height: 1.6; }
.t { border-right: 1px solid #ccc; }
.trained { background: #b7f0b1; }
.prompt { color: #666; }
.special { font-weight: bold; }
.meta { color: #555; }
.legend span { padding: 0 .4em; }
</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p class="legend"><span class="trained">trained (in the loss)</span> <span class="prompt">not trained</span> <span class="special">special token</span> — hover a token for its ids; ↵ marks a newline.</p>
${sections.join("\n")}
</body></html>
`;
}
