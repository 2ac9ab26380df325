import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { analyzeFormats } from "../../src/eval/format.js";
import {
  completenessScore,
  IF_WEIGHTS,
  instructionFollowingScore,
  relevanceScore,
  requestedCount,
} from "../../src/eval/ifscore.js";

describe("weighted instruction-following score", () => {
  it("weights are 0.3 / 0.4 / 0.2 / 0.1", () => {
    assert.deepEqual(IF_WEIGHTS, { format: 0.3, relevance: 0.4, completeness: 0.2, quality: 0.1 });
  });

  it("relevance rewards answers about the instruction's subject", () => {
    const ins = "Explain how photosynthesis converts sunlight into chemical energy in plants.";
    const on = relevanceScore(
      ins,
      "Plants use photosynthesis to turn sunlight into chemical energy stored as sugar.",
    );
    const off = relevanceScore(ins, "The stock market closed higher today after strong earnings.");
    assert.ok(on > 0.8 && off < 0.2, `${on} ${off}`);
    assert.ok(relevanceScore("介绍一下北京的历史", "北京的历史可以追溯到三千多年前。") > 0.5);
  });

  it("completeness counts requested items and detects unfinished answers", async () => {
    assert.equal(requestedCount("Give me 5 tips for sleeping better"), 5);
    assert.equal(requestedCount("List three reasons to exercise"), 3);
    assert.equal(requestedCount("请列出3个优点"), 3);
    assert.equal(requestedCount("Write 100 words about cats"), null);
    const ins = "List three reasons to exercise";
    const full = "- Health\n- Mood\n- Sleep";
    const partial = "- Health";
    const [f1, f2] = await analyzeFormats([
      { instruction: ins, response: full },
      { instruction: ins, response: partial },
    ]);
    assert.equal(completenessScore(ins, full, f1), 1);
    assert.equal(completenessScore(ins, partial, f2), (1 / 3 + 1) / 2);
  });

  it("combines the parts with the weights, exactly", async () => {
    const ins = "List three reasons to exercise";
    const response = "- Exercise improves health\n- Exercise lifts mood\n- Exercise helps sleep";
    const [format] = await analyzeFormats([{ instruction: ins, response }]);
    const p = instructionFollowingScore({ instruction: ins, response, format });
    const expected = 0.3 * p.format + 0.4 * p.relevance + 0.2 * p.completeness + 0.1 * p.quality;
    assert.ok(Math.abs(p.score - expected) < 1e-12);
    assert.ok(p.score > 0.85, JSON.stringify(p));
    const [f0] = await analyzeFormats([{ instruction: ins, response: "" }]);
    const empty = instructionFollowingScore({ instruction: ins, response: "", format: f0 });
    assert.ok(empty.score < 0.4, JSON.stringify(empty));
    const withIfeval = instructionFollowingScore({ instruction: ins, response, format, ifevalFollowed: 0 });
    assert.equal(withIfeval.format, 0.5);
  });
});
