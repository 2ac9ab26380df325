/**
 * Test material: the LLaMA-Factory demo datasets in ../shared/data/sft converted to SftRecords
 * here (alpaca, messages-with-loss_weight, ShareGPT tool calls), and the shared tokenizers.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Message, SftRecord } from "../../src/record/record.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const sharedDir = resolve(repoRoot, "../shared");
export const tokenizerDir = (name: string) => join(sharedDir, "tokenizers", name);
export const storiesGguf = join(sharedDir, "models/stories260K/stories260K.gguf");
export const HF_TOKENIZERS = ["qwen3", "llama3", "deepseek_v3", "mistral"] as const;

function readJsonFile<T>(rel: string): T {
  return JSON.parse(readFileSync(join(sharedDir, "data/sft", rel), "utf8")) as T;
}

/** Alpaca rows → one user turn (instruction, then input) and one assistant turn. */
export function alpacaRecords(
  file: "alpaca_en_demo.json" | "alpaca_zh_demo.json",
  limit = Infinity,
): SftRecord[] {
  const rows = readJsonFile<{ instruction: string; input: string; output: string }[]>(file);
  return rows.slice(0, limit).map((r, i) => ({
    id: `${file}:${i + 1}`,
    messages: [
      { role: "user", content: r.input ? `${r.instruction}\n\n${r.input}` : r.instruction },
      { role: "assistant", content: r.output },
    ],
    meta: { source: file },
  }));
}

/** v1_sft_demo.jsonl: multi-turn messages with typed content parts and per-turn loss_weight. */
export function v1Records(limit = Infinity): SftRecord[] {
  const lines = readFileSync(join(sharedDir, "data/sft/v1_sft_demo.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean);
  return lines.slice(0, limit).map((line, i) => {
    const row = JSON.parse(line) as {
      messages: { role: string; content: { type: string; value: string }[]; loss_weight?: number }[];
    };
    const messages: Message[] = row.messages.map((m) => {
      const msg: Message = {
        role: m.role as Message["role"],
        content: m.content.map((c) => c.value).join(""),
      };
      if (m.role === "assistant" && m.loss_weight === 0) msg.train = false;
      return msg;
    });
    return { id: `v1_sft_demo:${i + 1}`, messages, meta: { source: "v1_sft_demo" } };
  });
}

/** glaive tool-call rows: ShareGPT turns, function_call → assistant tool_calls, observation → tool. */
export function glaiveRecords(limit = Infinity): SftRecord[] {
  const rows = readJsonFile<{ conversations: { from: string; value: string }[]; tools: string }[]>(
    "glaive_toolcall_en_demo.json",
  );
  return rows.slice(0, limit).map((r, i) => {
    const messages: Message[] = r.conversations.map((c) => {
      if (c.from === "human") return { role: "user", content: c.value };
      if (c.from === "gpt") return { role: "assistant", content: c.value };
      if (c.from === "observation") return { role: "tool", content: c.value };
      if (c.from === "function_call") {
        const call = JSON.parse(c.value) as { name: string; arguments: unknown };
        return {
          role: "assistant",
          content: "",
          tool_calls: [
            { type: "function", function: { name: call.name, arguments: JSON.stringify(call.arguments) } },
          ],
        };
      }
      return { role: "system", content: c.value };
    });
    return { id: `glaive:${i + 1}`, messages, meta: { source: "glaive", tools: r.tools } };
  });
}

/**
 * Multi-turn conversations made from the data: `turns` consecutive single-turn rows of
 * v1_sft_demo chained into one conversation, with a system message.
 */
export function chainedConversations(count: number, turns = 3): SftRecord[] {
  const singles = v1Records(count * turns);
  const out: SftRecord[] = [];
  for (let c = 0; c < count; c++) {
    const messages: Message[] = [{ role: "system", content: `You are assistant number ${c + 1}. Be brief.` }];
    for (const r of singles.slice(c * turns, (c + 1) * turns)) messages.push(...r.messages);
    out.push({ id: `chained:${c + 1}`, messages, meta: { source: "v1_sft_demo" } });
  }
  return out;
}

/**
 * Decodes a slice of a token sequence as it reads in the middle of the text: an anchor token is
 * decoded in front and cut off again, so decoders that strip a leading space (SentencePiece)
 * do not strip it from the slice.
 */
export function decodeSlice(
  tok: { encode(t: string): number[]; decode(ids: readonly number[]): string },
  ids: readonly number[],
): string {
  if (ids.length === 0) return "";
  const anchor = tok.encode("a")[0];
  return tok.decode([anchor, ...ids]).slice(tok.decode([anchor]).length);
}
