import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitLogistic, judgePairs, parseVerdict, summarizeJudgements } from "../../src/eval/judge.js";
import { OpenAiBackend } from "../../src/llm/index.js";
import { type ChatRequestBody, startOpenAiServer } from "../helpers/openai-server.js";

function answers(body: ChatRequestBody): { a: string; b: string } {
  const text = body.messages.at(-1)?.content ?? "";
  const a = /\[Answer A\]\n([\s\S]*?)\n\[End of answer A\]/.exec(text)?.[1] ?? "";
  const b = /\[Answer B\]\n([\s\S]*?)\n\[End of answer B\]/.exec(text)?.[1] ?? "";
  return { a, b };
}

const words = (n: number, w = "word") => Array.from({ length: n }, () => w).join(" ");

describe("pairwise judge", () => {
  it("parses verdicts", () => {
    assert.equal(parseVerdict("A is vague. B is right.\n[[B]]"), "B");
    assert.equal(parseVerdict("[[A]] hmm, on reflection [[C]]"), "C");
    assert.equal(parseVerdict("Verdict: tie"), "C");
    assert.equal(parseVerdict("no idea"), null);
  });

  it("cancels position bias: a judge that always says A yields only ties", async () => {
    const server = await startOpenAiServer({ answer: () => "Both fine. [[A]]" });
    try {
      const judge = new OpenAiBackend({ baseUrl: server.url, model: "judge" });
      const items = [1, 2, 3].map((i) => ({ id: String(i), prompt: "q", base: "x", sft: "y" }));
      const s = await judgePairs(judge, items);
      assert.deepEqual([s.wins, s.ties, s.losses], [0, 3, 0]);
      assert.equal(s.win_rate, 0.5);
      assert.equal(s.position_inconsistency, 1);
      assert.equal(server.log.length, 6);
    } finally {
      await server.close();
    }
  });

  it("counts real preferences in both orders and length-controls a length-loving judge", async () => {
    // this judge prefers the longer answer, whatever it says
    const server = await startOpenAiServer({
      answer: (body) => {
        const { a, b } = answers(body);
        return a.length === b.length ? "[[C]]" : a.length > b.length ? "[[A]]" : "[[B]]";
      },
    });
    try {
      const judge = new OpenAiBackend({ baseUrl: server.url, model: "judge" });
      // the fine-tuned answer is longer in 6 of 8 prompts
      const items = Array.from({ length: 8 }, (_, i) => ({
        id: String(i),
        prompt: `q${i}`,
        base: words(10 + i),
        sft: i < 6 ? words(30 + 3 * i) : words(2 + i),
      }));
      const s = await judgePairs(judge, items, { concurrency: 3 });
      assert.deepEqual([s.wins, s.ties, s.losses], [6, 0, 2]);
      assert.equal(s.win_rate, 6 / 8);
      assert.equal(s.position_inconsistency, 0);
      // at equal length this judge has no preference: the controlled rate is far below the raw one
      assert.ok(s.length_controlled_win_rate < 0.65, String(s.length_controlled_win_rate));
      assert.ok(s.length_coefficient > 1);
    } finally {
      await server.close();
    }
  });

  it("length control leaves a length-neutral outcome alone", () => {
    const pairs = [0, 1, 2, 3].map((i) => ({
      id: String(i),
      baseFirst: (i % 2 ? "sft" : "base") as "sft" | "base",
      sftFirst: (i % 2 ? "sft" : "base") as "sft" | "base",
      outcome: i % 2,
      lengthBase: 10,
      lengthSft: 10 + (i < 2 ? 5 : -5),
    }));
    const s = summarizeJudgements(
      "t",
      pairs.map((p) => ({ ...p, unparsed: 0 })),
    );
    assert.equal(s.win_rate, 0.5);
    assert.ok(Math.abs(s.length_controlled_win_rate - 0.5) < 1e-6);
    const [a, b] = fitLogistic([-1, -1, 1, 1], [0, 0.5, 0.5, 1]);
    assert.ok(Math.abs(a) < 1e-6 && b > 0.5);
  });
});
