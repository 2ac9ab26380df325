/**
 * The "done when" of token-exact masks: on every shared tokenizer (Qwen3, Llama 3, DeepSeek-V3
 * with their chat templates; Mistral and stories260K's GGUF vocabulary with the classic
 * templates), for single- and multi-turn records from ../shared/data/sft, the decoded trained
 * tokens are exactly each assistant content plus its end token, and the decoded untrained
 * tokens contain every user, system and tool content.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Message, SftRecord } from "../../src/record/record.js";
import { IGNORE_INDEX, tokenizeRecord } from "../../src/tokenize/mask.js";
import { segmentContent } from "../../src/tokenize/templates.js";
import { loadTokenizer, type TextTokenizer } from "../../src/tokenize/tokenizer.js";
import {
  alpacaRecords,
  chainedConversations,
  decodeSlice,
  glaiveRecords,
  storiesGguf,
  tokenizerDir,
  v1Records,
} from "./helpers.js";

function records(): SftRecord[] {
  return [
    ...alpacaRecords("alpaca_en_demo.json", 12),
    ...alpacaRecords("alpaca_zh_demo.json", 12),
    ...v1Records(8),
    ...chainedConversations(4, 3),
    ...glaiveRecords(6),
  ];
}

/** Maximal runs of positions whose label is (or is not) trained. */
function runs(labels: readonly number[], trained: boolean): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  while (i < labels.length) {
    if ((labels[i] !== IGNORE_INDEX) !== trained) {
      i++;
      continue;
    }
    let j = i;
    while (j < labels.length && (labels[j] !== IGNORE_INDEX) === trained) j++;
    out.push([i, j]);
    i = j;
  }
  return out;
}

/** How each family writes an assistant turn's content, and what closes it. */
interface Expectation {
  name: string;
  load: () => Promise<TextTokenizer>;
  options: { chatTemplate?: boolean; template?: string };
  assistantText: (m: Message) => string;
  endToken: string;
  /** How user/system/tool content appears in the rendered prompt. */
  promptText: (m: Message) => string;
  /**
   * False where the template cannot write tool calls so that the rules hold (DeepSeek-V3's
   * leaves single tool-call turns unclosed and drops the header of later ones: pre-flight
   * reports those records, see preflight.test.ts).
   */
  toolCalls?: boolean;
}

const qwenToolCall = (m: Message) =>
  (m.tool_calls ?? [])
    .map(
      (c) =>
        `<tool_call>\n{"name": "${c.function.name}", "arguments": ${c.function.arguments}}\n</tool_call>`,
    )
    .join("\n");

const FAMILIES: Expectation[] = [
  {
    name: "qwen3 (chat template)",
    load: () => loadTokenizer(tokenizerDir("qwen3")),
    options: { chatTemplate: true },
    assistantText: (m) =>
      m.tool_calls ? [m.content, qwenToolCall(m)].filter(Boolean).join("\n") : m.content,
    endToken: "<|im_end|>",
    promptText: (m) => m.content,
  },
  {
    // This Llama 3 template trims contents and writes no tool calls.
    name: "llama3 (chat template)",
    load: () => loadTokenizer(tokenizerDir("llama3")),
    options: { chatTemplate: true },
    assistantText: (m) => m.content.trim(),
    endToken: "<|eot_id|>",
    promptText: (m) => m.content.trim(),
  },
  {
    name: "deepseek_v3 (chat template)",
    load: () => loadTokenizer(tokenizerDir("deepseek_v3")),
    options: { chatTemplate: true },
    assistantText: (m) => m.content,
    endToken: "<｜end▁of▁sentence｜>",
    promptText: (m) => m.content,
    toolCalls: false,
  },
  ...(["alpaca", "chinese", "multi-turn", "task-aware"] as const).map(
    (template): Expectation => ({
      name: `mistral (${template})`,
      load: () => loadTokenizer(tokenizerDir("mistral")),
      options: { template },
      assistantText: segmentContent,
      endToken: "</s>",
      promptText: (m) => m.content,
    }),
  ),
  ...(["alpaca", "simple", "cot"] as const).map(
    (template): Expectation => ({
      name: `stories260K GGUF (${template})`,
      load: () => loadTokenizer(storiesGguf),
      options: { template },
      assistantText: segmentContent,
      endToken: "</s>",
      promptText: (m) => m.content,
    }),
  ),
  {
    // vicuna trains the space between "ASSISTANT:" and the answer, as the model generates it.
    name: "stories260K GGUF (vicuna)",
    load: () => loadTokenizer(storiesGguf),
    options: { template: "vicuna" },
    assistantText: (m) => ` ${segmentContent(m)}`,
    endToken: "</s>",
    promptText: (m) => m.content,
  },
];

describe("trained tokens are exactly the assistant contents plus their end tokens", () => {
  for (const fam of FAMILIES) {
    test(fam.name, async () => {
      const tok = await fam.load();
      let checkedTurns = 0;
      const usable = records().filter(
        (r) => fam.toolCalls !== false || !r.messages.some((m) => (m.tool_calls?.length ?? 0) > 0),
      );
      for (const rec of usable) {
        const s = tokenizeRecord(rec, tok, fam.options);
        assert.equal(s.inputIds.length, s.labels.length);
        const trainedRuns = runs(s.labels, true);
        const assistants = rec.messages.filter((m) => m.role === "assistant");
        assert.equal(trainedRuns.length, assistants.length, `${rec.id}: one trained run per assistant turn`);
        trainedRuns.forEach(([a, b], k) => {
          const decoded = decodeSlice(tok, s.inputIds.slice(a, b));
          const want = fam.assistantText(assistants[k]) + fam.endToken;
          assert.equal(decoded, want, `${rec.id}: assistant turn ${k}`);
          for (let i = a; i < b; i++) assert.equal(s.labels[i], s.inputIds[i]);
          checkedTurns++;
        });
        const untrained = runs(s.labels, false).map(([a, b]) => decodeSlice(tok, s.inputIds.slice(a, b)));
        for (const m of rec.messages) {
          if (m.role === "assistant") continue;
          const text = fam.promptText(m);
          assert.ok(
            untrained.some((u) => u.includes(text)),
            `${rec.id}: ${m.role} content not found in the untrained tokens: ${JSON.stringify(text.slice(0, 60))}`,
          );
        }
      }
      assert.ok(checkedTurns > 50);
    });
  }
});
