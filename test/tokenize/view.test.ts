import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenizeRecord } from "../../src/tokenize/mask.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { renderHtml, renderTerminal, tokenPieces } from "../../src/tokenize/view.js";
import { tokenizerDir } from "./helpers.js";

test("token pieces keep split characters whole and carry the trained flag", async () => {
  const tok = await loadTokenizer(tokenizerDir("llama3"));
  const record = {
    id: "zh",
    messages: [
      { role: "user" as const, content: "用一个词形容龙🐉" },
      { role: "assistant" as const, content: "威严🐉" },
    ],
    meta: { source: "test" },
  };
  const s = tokenizeRecord(record, tok, { chatTemplate: true });
  const pieces = tokenPieces(tok, s.inputIds, s.labels);
  assert.ok(pieces.every((p) => !p.text.includes("\uFFFD")));
  assert.ok(
    pieces.some((p) => p.ids.length > 1),
    "an emoji spans several byte-level tokens",
  );
  assert.equal(pieces.map((p) => p.text).join(""), tok.decode(s.inputIds));
  assert.equal(
    pieces
      .filter((p) => p.trained)
      .map((p) => p.text)
      .join(""),
    "威严🐉<|eot_id|>",
  );
  // This Llama 3 template writes an assistant header after the last turn even for training;
  // it is trimmed, so the sample ends with the trained end token.
  assert.ok(
    renderTerminal(s, tok, { color: false }).endsWith(
      "<|start_header_id|>assistant<|end_header_id|>↵\n↵\n⟦威严🐉<|eot_id|>⟧\n",
    ),
  );
  const colored = renderTerminal(s, tok, { color: true });
  assert.match(colored, /\x1b\[30;42m威/);
  const html = renderHtml([s], tok, "t <view>");
  assert.match(html, /<title>t &lt;view&gt;<\/title>/);
  assert.match(html, /<span class="t trained special" title="\d+ \(trained\)">&lt;\|eot_id\|&gt;<\/span>/);
});
