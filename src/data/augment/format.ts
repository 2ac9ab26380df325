/**
 * Format variants that need no LLM: the same exchange as a labelled Q/A, as a short
 * dialogue (a greeting turn first, not trained), or as a structured (JSON) answer.
 */
import type { Message } from "../../record/record.js";

export type FormatVariant = "qa" | "dialogue" | "structured";

const TEXT = {
  en: {
    q: "Question: ",
    a: "Answer: ",
    hello: "Hi! I have a question, do you have a moment?",
    sure: "Of course. What would you like to know?",
    json: 'Reply with a JSON object with one key, "answer".',
  },
  zh: {
    q: "问题：",
    a: "回答：",
    hello: "你好！我想请教一个问题，现在方便吗？",
    sure: "当然可以，请说。",
    json: '请用 JSON 对象回复，只包含一个键 "answer"。',
  },
};

export function formatVariant(
  instruction: string,
  response: string,
  variant: FormatVariant,
  lang: "en" | "zh",
): Message[] {
  const t = TEXT[lang];
  switch (variant) {
    case "qa":
      return [
        { role: "user", content: `${t.q}${instruction}` },
        { role: "assistant", content: `${t.a}${response}` },
      ];
    case "dialogue":
      return [
        { role: "user", content: t.hello },
        { role: "assistant", content: t.sure, train: false },
        { role: "user", content: instruction },
        { role: "assistant", content: response },
      ];
    case "structured":
      return [
        { role: "user", content: `${instruction}\n\n${t.json}` },
        { role: "assistant", content: JSON.stringify({ answer: response }, null, 2) },
      ];
  }
}
