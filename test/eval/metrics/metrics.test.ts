import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bleuFromStats, bleuStats, corpusBleu, sentenceBleu } from "../../../src/eval/metrics/bleu.js";
import { chrf } from "../../../src/eval/metrics/chrf.js";

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

describe("BLEU", () => {
  it("is 1 for an identical text and 0 for a disjoint one", () => {
    close(sentenceBleu("the cat sat on the mat", "the cat sat on the mat"), 1);
    close(corpusBleu(["alpha beta gamma delta"], ["one two three four"]), 0);
  });

  it("matches a hand computation (clipping and brevity penalty)", () => {
    // candidate "the the the the" vs reference "the cat is on the mat":
    // p1 = min(4, 2)/4 = 0.5; no bigram matches -> unsmoothed BLEU 0
    const s = bleuStats(["the", "the", "the", "the"], [["the", "cat", "is", "on", "the", "mat"]]);
    assert.deepEqual(s.matches, [2, 0, 0, 0]);
    assert.equal(bleuFromStats(s, false), 0);
    // candidate of 4 tokens, all n-grams matching a 6-token reference: BLEU = BP = exp(1 - 6/4)
    close(sentenceBleu("the cat is on", "the cat is on the mat"), Math.exp(1 - 6 / 4));
  });

  it("scores Chinese on characters", () => {
    const b = sentenceBleu("今天天气很好", "今天天气很好啊");
    assert.ok(b > 0.7 && b < 1, String(b));
  });
});

describe("chrF", () => {
  it("is 1 for identical strings and ignores whitespace", () => {
    close(chrf("hello world", "hello world"), 1);
    close(chrf("helloworld", "hello world"), 1);
  });

  it("matches a hand computation for short strings", () => {
    // "ab" vs "abc", orders 1..6: n=1 P=1 R=2/3; n=2 P=1 R=1/2; n>=3 hypothesis has no n-grams (skipped)
    const p = 1;
    const r = (2 / 3 + 1 / 2) / 2;
    close(chrf("ab", "abc"), (5 * p * r) / (4 * p + r));
  });

  it("ranks a closer Chinese paraphrase higher", () => {
    const ref = "机器学习是人工智能的一个分支";
    assert.ok(chrf("机器学习是人工智能的分支", ref) > chrf("深度网络需要大量数据", ref));
    assert.ok(chrf("machine learning", ref, { wordOrder: 2 }) < 0.1);
  });
});
