import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SftError } from "../../src/errors.js";
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
      assert.ok(s.length_controlled_win_rate! < 0.65, String(s.length_controlled_win_rate));
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
    assert.ok(Math.abs(s.length_controlled_win_rate! - 0.5) < 1e-6);
    const [a, b] = fitLogistic([-1, -1, 1, 1], [0, 0.5, 0.5, 1]);
    assert.ok(Math.abs(a) < 1e-6 && b > 0.5);
  });

  it("leaves unparsed verdicts out of the win rate and counts them", async () => {
    // with the base answer shown first this judge rambles without a verdict; with the
    // fine-tuned answer first it picks the fine-tuned one
    const server = await startOpenAiServer({
      answer: (body) => (answers(body).a.startsWith("sft") ? "[[A]]" : "I cannot decide, sorry."),
    });
    try {
      const judge = new OpenAiBackend({ baseUrl: server.url, model: "judge" });
      const items = [1, 2, 3, 4].map((i) => ({
        id: String(i),
        prompt: `q${i}`,
        base: `base ${i}`,
        sft: `sft ${i}`,
      }));
      const s = await judgePairs(judge, items);
      // the old behaviour scored every unparsed order as a tie: win rate 0.75
      assert.equal(s.win_rate, 1);
      assert.deepEqual([s.wins, s.ties, s.losses, s.judged], [4, 0, 0, 4]);
      assert.equal(s.unparsed_verdicts, 4);
      assert.equal(s.total_verdicts, 8);
      assert.equal(s.position_inconsistency, null);
      assert.ok(s.pairs.every((p) => p.baseFirst === "unparsed" && p.sftFirst === "sft"));
      assert.deepEqual(s.pairs[0].unparsed_replies, ["I cannot decide, sorry."]);
    } finally {
      await server.close();
    }
  });

  it("fails when most verdicts are unparsed, quoting the raw replies", async () => {
    const server = await startOpenAiServer({ answer: (body) => `garbage #${answers(body).a.length} ~~~` });
    try {
      const judge = new OpenAiBackend({ baseUrl: server.url, model: "judge" });
      const items = Array.from({ length: 6 }, (_, i) => ({
        id: `p${i}`,
        prompt: "q",
        base: "x".repeat(i + 1),
        sft: "y",
      }));
      await assert.rejects(judgePairs(judge, items, { concurrency: 1 }), (e: unknown) => {
        assert.ok(e instanceof SftError);
        assert.match(e.message, /no verdict in 12 of 12 replies/);
        assert.match(e.message, /prompt p0: "garbage #1 ~~~"/);
        assert.match(e.message, /prompt p1: "garbage #2 ~~~"/);
        assert.doesNotMatch(e.message, /prompt p2/, "only the first few replies are quoted");
        assert.match(e.hint ?? "", /\[\[A\]\]/);
        return true;
      });
      assert.equal(server.log.length, 12);
    } finally {
      await server.close();
    }
  });

  it("an empty judgement has no rate rather than a default one", () => {
    const s = summarizeJudgements("t", []);
    assert.equal(s.win_rate, null);
    assert.equal(s.length_controlled_win_rate, null);
    assert.equal(s.position_inconsistency, null);
  });
});
