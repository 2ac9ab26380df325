import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  analyzeFormats,
  analyzeLength,
  analyzeStructure,
  analyzeStyle,
  fluencyFromPerplexity,
  lengthTarget,
  type PerplexityScorer,
} from "../../src/eval/format.js";

describe("format analysis", () => {
  it("finds headings, lists, code blocks and tables, and what the instruction asks for", () => {
    const r =
      "# Plan\n\n1. First\n2. Second\n- extra\n\n```js\nx()\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
    const s = analyzeStructure("List the steps and show the code in a table", r);
    assert.deepEqual([s.headings, s.listItems, s.codeBlocks, s.tables], [1, 3, 1, 1]);
    assert.deepEqual(s.asked, ["list", "code", "table"]);
    assert.equal(s.score, 1);
    const missing = analyzeStructure("List three fruits", "Apples, pears and plums.");
    assert.equal(missing.score, 0);
    const broken = analyzeStructure("Say hi", "**hi\n```js\nx");
    assert.equal(broken.malformed.length, 2);
    assert.equal(broken.score, 0.5);
    assert.equal(analyzeStructure("请列出三个要点", "- 一\n- 二\n- 三").score, 1);
  });

  it("reads target lengths from the instruction and scores against them", () => {
    assert.deepEqual(lengthTarget("Answer in at least 100 words").target, [100, Number.POSITIVE_INFINITY]);
    assert.deepEqual(lengthTarget("Summarise in 50 words").target, [35, 65]);
    assert.deepEqual(lengthTarget("Answer briefly").target, [1, 60]);
    assert.equal(
      analyzeLength("Write about 10 words", "one two three four five six seven eight nine ten").score,
      1,
    );
    // twice too long scores 0.5
    assert.equal(analyzeLength("Use at most 5 words", "a b c d e f g h i j").score, 0.5);
    assert.equal(analyzeLength("Use at least 10 words", "a b").score, 0.2);
    // 30 Chinese characters are 20 word units
    assert.equal(analyzeLength("写20个字", "一".repeat(30)).units, 20);
  });

  it("penalises shouting, slang, boilerplate, repetition and unfinished endings", () => {
    assert.equal(analyzeStyle("The report is attached. Let me know if anything is missing.").score, 1);
    const bad = analyzeStyle(
      "AS AN AI LANGUAGE MODEL I THINK THIS IS GREAT!!! lol. This is great. This is great. This is great and then it just",
    );
    for (const k of ["shouting", "repeated_punctuation", "slang", "boilerplate", "repetition", "unfinished"])
      assert.ok(k in bad.penalties, k);
    assert.ok(bad.score < 0.3);
  });

  it("maps perplexity to fluency with the vocabulary as the uniform baseline", async () => {
    assert.equal(fluencyFromPerplexity(512, 512), 0);
    assert.equal(fluencyFromPerplexity(1, 512), 1);
    assert.ok(Math.abs(fluencyFromPerplexity(Math.sqrt(512), 512) - 0.5) < 1e-12);
    // a scorer built on unigram character statistics of the reference text itself
    const scorer: PerplexityScorer = {
      name: "char-unigram",
      vocabSize: 64,
      async perplexity(texts) {
        const freq = new Map<string, number>();
        const ref = "the quick brown fox jumps over the lazy dog ".repeat(4);
        for (const ch of ref) freq.set(ch, (freq.get(ch) ?? 0) + 1);
        return texts.map((t) => {
          let nll = 0;
          for (const ch of t) nll -= Math.log(((freq.get(ch) ?? 0) + 1) / (ref.length + 64));
          return Math.exp(nll / Math.max(1, [...t].length));
        });
      },
    };
    const [a, b] = await analyzeFormats(
      [
        { instruction: "x", response: "the lazy dog jumps" },
        { instruction: "x", response: "ZQXJ#%@!" },
      ],
      scorer,
    );
    assert.ok(a.fluency && b.fluency && a.fluency.score > b.fluency.score);
    const [none] = await analyzeFormats([{ instruction: "x", response: "y" }]);
    assert.equal(none.fluency, null);
  });
});
