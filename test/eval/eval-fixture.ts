/**
 * A small evaluation setup made on the fly: a suite covering every checker, IFEval prompts,
 * and a base and a fine-tuned model's answers (the fine-tuned one better on most tasks,
 * worse on one, unchanged on another), so reports have something to show.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface FixtureSample {
  row: Record<string, unknown>;
  base: string;
  sft: string;
}

export const SAMPLES: FixtureSample[] = [
  {
    row: { id: "m1", instruction: "What is 17 + 25?", expected: "42", task: "math", checker: "numeric" },
    base: "I think 40.",
    sft: "17 + 25 = 42",
  },
  {
    row: { id: "m2", instruction: "What is 9 * 8?", expected: 72, task: "math", checker: "numeric" },
    base: "72",
    sft: "The answer is 72.",
  },
  {
    row: {
      id: "m3",
      instruction: "Half of 3?",
      expected: "1.5",
      task: "math",
      checker: "numeric",
      tolerance: 0.01,
    },
    base: "one",
    sft: "1.5",
  },
  {
    row: {
      id: "c1",
      instruction: "Capital of France? One word.",
      expected: "Paris",
      task: "facts",
      checker: "exact",
    },
    base: "The capital is Paris.",
    sft: "Paris",
  },
  {
    row: {
      id: "c2",
      instruction: "Name the colours of the French flag.",
      expected: ["blue", "white", "red"],
      task: "facts",
      checker: "contains",
    },
    base: "Blue and red.",
    sft: "Blue, white and red.",
  },
  {
    row: {
      id: "q1",
      instruction: "Which planet is largest? A) Mars B) Jupiter C) Venus",
      expected: "B",
      task: "mcq",
      checker: "multiple_choice",
    },
    base: "B) Jupiter",
    sft: "The answer is B.",
  },
  {
    row: {
      id: "q2",
      instruction: "Which is a mammal? A) Shark B) Trout C) Dolphin",
      expected: "C",
      task: "mcq",
      checker: "multiple_choice",
    },
    base: "C",
    sft: "A",
  },
  {
    row: {
      id: "r1",
      instruction: "Give a phone number in the form 555-0000.",
      task: "format",
      checker: "regex",
      pattern: "^\\d{3}-\\d{4}$",
    },
    base: "Call 555-1234 please",
    sft: "555-1234",
  },
  {
    row: {
      id: "j1",
      instruction: "Return a JSON object with a string field name and an integer age.",
      task: "json",
      checker: "json_schema",
      schema: {
        type: "object",
        required: ["name", "age"],
        properties: { name: { type: "string" }, age: { type: "integer" } },
      },
    },
    base: "name: Ann, age: 3",
    sft: '```json\n{"name": "Ann", "age": 3}\n```',
  },
  {
    row: {
      id: "s1",
      instruction: "Summarise: The cat sat on the mat all day long.",
      expected: "The cat sat on the mat all day.",
      task: "summary",
      checker: "rouge_l",
    },
    base: "A dog ran.",
    sft: "The cat sat on the mat all day.",
  },
  {
    row: {
      id: "s2",
      instruction: "Translate to English: 猫坐在垫子上。",
      expected: "The cat sits on the mat.",
      task: "translate",
      checker: "bleu",
      threshold: 0.3,
    },
    base: "Cat mat.",
    sft: "The cat sits on the mat.",
  },
  {
    row: {
      id: "s3",
      instruction: "翻译成中文: The weather is nice today.",
      expected: "今天天气很好。",
      task: "translate",
      checker: "chrf",
    },
    base: "天气",
    sft: "今天天气很好。",
  },
  {
    row: {
      id: "k1",
      instruction: "Write a JavaScript function add(a, b) that returns the sum.",
      task: "code",
      checker: { type: "code", tests: ["assert.equal(add(2, 3), 5)", "assert.equal(add(-2, 2), 0)"] },
    },
    base: "function add(a, b) { return a - b; }",
    sft: "```js\nfunction add(a, b) {\n  return a + b;\n}\n```",
  },
];

export const IFEVAL_PROMPTS = [
  {
    key: 1,
    prompt: "Write a short poem about rain. Do not use any commas.",
    instruction_id_list: ["punctuation:no_comma"],
    kwargs: [{}],
  },
  {
    key: 2,
    prompt: "Describe tea in exactly 2 bullet points.",
    instruction_id_list: ["detectable_format:number_bullet_lists"],
    kwargs: [{ num_bullets: 2 }],
  },
  {
    key: 3,
    prompt: "Reply in JSON with a title, and end with 'Done.'",
    instruction_id_list: ["detectable_format:json_format", "startend:end_checker"],
    kwargs: [{}, { end_phrase: "Done." }],
  },
];

export const IFEVAL_BASE = ["Rain falls, softly, on the roof.", "* Tea is a drink", '{"title": "x"}'];
export const IFEVAL_SFT = [
  "Rain falls softly on the roof.",
  "* Tea is a drink\n* It is made from leaves",
  'Here:\n{"title": "x"}',
];

const jsonl = (rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;

/** Writes suite, IFEval prompts and both models' response files into `dir`; returns the paths. */
export function writeEvalFixture(dir: string): { suite: string; ifeval: string; base: string; sft: string } {
  mkdirSync(dir, { recursive: true });
  const suite = join(dir, "suite.jsonl");
  const ifeval = join(dir, "ifeval.jsonl");
  const base = join(dir, "base.jsonl");
  const sft = join(dir, "sft.jsonl");
  writeFileSync(suite, jsonl(SAMPLES.map((s) => s.row)));
  writeFileSync(ifeval, jsonl(IFEVAL_PROMPTS));
  writeFileSync(
    base,
    jsonl([
      ...SAMPLES.map((s) => ({ id: s.row.id, response: s.base })),
      ...IFEVAL_PROMPTS.map((p, i) => ({ prompt: p.prompt, response: IFEVAL_BASE[i] })),
    ]),
  );
  writeFileSync(
    sft,
    jsonl([
      ...SAMPLES.map((s) => ({ id: s.row.id, response: s.sft })),
      ...IFEVAL_PROMPTS.map((p, i) => ({ prompt: p.prompt, response: IFEVAL_SFT[i] })),
    ]),
  );
  return { suite, ifeval, base, sft };
}

/** The fine-tuned answer for a prompt text (for a scripted OpenAI-protocol server). */
export function sftAnswerFor(prompt: string): string {
  const s = SAMPLES.find((x) => x.row.instruction === prompt);
  if (s) return s.sft;
  const i = IFEVAL_PROMPTS.findIndex((p) => p.prompt === prompt);
  return i >= 0 ? IFEVAL_SFT[i] : "";
}
