/**
 * The built-in chat templates against the real templates they mirror (../shared/tokenizers):
 * chatml against Qwen3's (which adds an empty think block to the final reply: taken out before
 * comparing), llama3 against Llama 3's; token ids AND labels must be identical. mistral and
 * gemma have no real template in ../shared: they are checked against the published turn
 * layout, token by token with the Mistral tokenizer.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { SftRecord } from "../../src/record/record.js";
import {
  BUILTIN_CHAT_TEMPLATES,
  builtinChatTemplateNames,
  resolveChatTemplate,
} from "../../src/tokenize/chat-templates.js";
import { IGNORE_INDEX, renderGenerationPrompt, tokenizeRecord } from "../../src/tokenize/mask.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { alpacaRecords, storiesGguf, tokenizerDir, v1Records } from "./helpers.js";

const withSystem: SftRecord = {
  id: "sys-multi",
  messages: [
    { role: "system", content: "You are a careful assistant." },
    { role: "user", content: "Name a primary colour." },
    { role: "assistant", content: "Red." },
    { role: "user", content: "And another one?" },
    { role: "assistant", content: "Blue is another primary colour." },
  ],
  meta: { source: "test" },
};
const records: SftRecord[] = [...alpacaRecords("alpaca_en_demo.json", 4), ...v1Records(4), withSystem];

/** Removes every occurrence of `sub` from `ids` (and the same positions from `labels`). */
function without(ids: number[], labels: number[], sub: number[]): { ids: number[]; labels: number[] } {
  const outIds: number[] = [];
  const outLabels: number[] = [];
  for (let i = 0; i < ids.length; ) {
    if (sub.length > 0 && sub.every((t, k) => ids[i + k] === t)) {
      i += sub.length;
      continue;
    }
    outIds.push(ids[i]);
    outLabels.push(labels[i]);
    i++;
  }
  return { ids: outIds, labels: outLabels };
}

describe("built-in chat templates", () => {
  test("the four names exist", () => {
    assert.deepEqual(builtinChatTemplateNames(), ["chatml", "llama3", "mistral", "gemma"]);
  });

  test("chatml renders token-identically to Qwen3's template (think block aside), labels included", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const think = tok.encode("<think>\n\n</think>\n\n");
    for (const r of records) {
      const real = tokenizeRecord(r, tok, { chatTemplate: true });
      const ours = tokenizeRecord(r, tok, { chatTemplate: "chatml" });
      assert.equal(ours.text, real.text.replace("<think>\n\n</think>\n\n", ""), r.id);
      const stripped = without(real.inputIds, real.labels, think);
      assert.deepEqual(ours.inputIds, stripped.ids, r.id);
      assert.deepEqual(ours.labels, stripped.labels, r.id);
      assert.ok(
        ours.labels.some((l) => l !== IGNORE_INDEX),
        r.id,
      );
      // the generation prompt: identical when Qwen3 may think (no closed think block)
      const gReal = renderGenerationPrompt(r, tok, { chatTemplate: true, enableThinking: true });
      const gOurs = renderGenerationPrompt(r, tok, { chatTemplate: "chatml" });
      assert.deepEqual(gOurs.inputIds, gReal.inputIds, r.id);
    }
  });

  test("llama3 renders token-identically to Llama 3's template, labels and generation prompt included", async () => {
    const tok = await loadTokenizer(tokenizerDir("llama3"));
    for (const r of records) {
      const real = tokenizeRecord(r, tok, { chatTemplate: true });
      const ours = tokenizeRecord(r, tok, { chatTemplate: "llama3" });
      assert.deepEqual(ours.inputIds, real.inputIds, r.id);
      assert.deepEqual(ours.labels, real.labels, r.id);
      // Llama 3's own template appends the generation header even when not asked: it is
      // trimmed off there; ours does not write it
      assert.equal(ours.trimmedTrailer, undefined, r.id);
      assert.deepEqual(
        renderGenerationPrompt(r, tok, { chatTemplate: "llama3" }).inputIds,
        renderGenerationPrompt(r, tok, { chatTemplate: true }).inputIds,
        r.id,
      );
    }
  });

  test("mistral: <s>[INST] system + user [/INST] answer</s>, only ' answer</s>' trained", async () => {
    const tok = await loadTokenizer(tokenizerDir("mistral"));
    assert.equal(tok.chatTemplate, undefined, "the shared Mistral tokenizer has no template of its own");
    const s = tokenizeRecord(withSystem, tok, { chatTemplate: "mistral" });
    assert.equal(
      s.text,
      "<s>[INST] You are a careful assistant.\n\nName a primary colour. [/INST] Red.</s>[INST] And another one? [/INST] Blue is another primary colour.</s>",
    );
    assert.equal(s.inputIds[0], tok.bosTokenId);
    assert.equal(s.inputIds.filter((t) => t === tok.bosTokenId).length, 1, "one BOS");
    const trained = s.inputIds.filter((_, i) => s.labels[i] !== IGNORE_INDEX);
    assert.equal(tok.decode(trained), " Red.</s> Blue is another primary colour.</s>".replace(/^ /, ""));
    assert.equal(trained.filter((t) => t === tok.eosTokenId).length, 2, "each answer trains its </s>");
    // the first answer word carries the word-start marker, as the model saw it in pre-training
    const firstTrained = s.labels.findIndex((l) => l !== IGNORE_INDEX);
    assert.equal(tok.idToToken(s.inputIds[firstTrained]), "▁Red");
    const g = renderGenerationPrompt(withSystem.messages.slice(0, 4), tok, { chatTemplate: "mistral" });
    assert.equal(
      g.text,
      "<s>[INST] You are a careful assistant.\n\nName a primary colour. [/INST] Red.</s>[INST] And another one? [/INST]",
    );
    assert.deepEqual(
      g.inputIds,
      s.inputIds.slice(0, g.inputIds.length),
      "the prompt is a prefix of the sample",
    );
    assert.throws(
      () =>
        tokenizeRecord(
          { ...withSystem, messages: [...withSystem.messages, { role: "tool", content: "x" }] },
          tok,
          { chatTemplate: "mistral" },
        ),
      /only system, user and assistant/,
    );
  });

  test("gemma: <start_of_turn>user / model, system folded into the first user turn", async () => {
    const tok = await loadTokenizer(tokenizerDir("mistral"));
    const s = tokenizeRecord(withSystem, tok, { chatTemplate: "gemma" });
    assert.equal(
      s.text,
      "<s><start_of_turn>user\nYou are a careful assistant.\n\nName a primary colour.<end_of_turn>\n<start_of_turn>model\nRed.<end_of_turn>\n<start_of_turn>user\nAnd another one?<end_of_turn>\n<start_of_turn>model\nBlue is another primary colour.<end_of_turn>\n",
    );
    const g = renderGenerationPrompt(withSystem.messages.slice(0, 4), tok, { chatTemplate: "gemma" });
    assert.ok(g.text.endsWith("<start_of_turn>user\nAnd another one?<end_of_turn>\n<start_of_turn>model\n"));
    assert.deepEqual(g.inputIds, s.inputIds.slice(0, g.inputIds.length));
    const trained = tok.decode(s.inputIds.filter((_, i) => s.labels[i] !== IGNORE_INDEX));
    assert.match(trained, /^Red\./);
    assert.match(trained, /Blue is another primary colour\./);
    assert.doesNotMatch(trained, /And another one/);
  });

  test("a model without a template (stories260K GGUF) takes a named template", async () => {
    const tok = await loadTokenizer(storiesGguf);
    assert.throws(
      () => tokenizeRecord(withSystem, tok, { chatTemplate: true }),
      (e: Error & { hint?: string }) =>
        /has no chat template/.test(e.message) && /chatml, llama3, mistral, gemma/.test(e.hint ?? ""),
    );
    const s = tokenizeRecord(withSystem, tok, { chatTemplate: "chatml" });
    assert.ok(s.text.startsWith("<|im_start|>system\nYou are a careful assistant.<|im_end|>\n"));
  });

  test("a value is a name, inline Jinja or a file; anything else is a clear error", () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-chat-templates-"));
    const file = join(dir, "t.jinja");
    writeFileSync(file, BUILTIN_CHAT_TEMPLATES.chatml);
    assert.deepEqual(resolveChatTemplate("chatml"), {
      name: "chatml",
      source: BUILTIN_CHAT_TEMPLATES.chatml,
    });
    assert.deepEqual(resolveChatTemplate("{{ messages[0].content }}"), {
      name: "inline-chat-template",
      source: "{{ messages[0].content }}",
    });
    assert.deepEqual(resolveChatTemplate("t.jinja", { baseDir: dir }), {
      name: file,
      source: BUILTIN_CHAT_TEMPLATES.chatml,
    });
    assert.equal(resolveChatTemplate(true), true);
    assert.equal(resolveChatTemplate(false), undefined);
    assert.throws(() => resolveChatTemplate("chatmll"), /not a built-in name, not inline Jinja, and no file/);
    const empty = join(dir, "empty.jinja");
    writeFileSync(empty, "\n");
    assert.throws(() => resolveChatTemplate(empty), /is empty/);
  });
});
