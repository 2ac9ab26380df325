import assert from "node:assert/strict";
import { test } from "node:test";
import { countLength, lcsLength, normalizeForMatch, rougeL, tokenize } from "../../src/text/index.js";

test("tokenize splits English into words and CJK into characters", () => {
  assert.deepEqual(tokenize("Hello, World! It's 2024."), ["hello", "world", "it's", "2024"]);
  assert.deepEqual(tokenize("用Python写函数"), ["用", "python", "写", "函", "数"]);
  assert.deepEqual(tokenize("ｆｕｌｌ－ｗｉｄｔｈ"), ["full", "width"]);
});

test("ROUGE-L F on hand-computed cases (English and Chinese)", () => {
  // LCS("the cat sat on the mat", "the cat on the mat") = 5 → F = 2·5/(6+5)
  assert.ok(Math.abs(rougeL("the cat sat on the mat", "the cat on the mat").f - 10 / 11) < 1e-12);
  assert.equal(rougeL("a b c", "d e f").f, 0);
  assert.equal(rougeL("", "x").f, 0);
  // 我爱北京 vs 我爱上海: LCS 我爱 = 2 → F = 4/8
  assert.equal(rougeL("我爱北京", "我爱上海").f, 0.5);
  assert.equal(lcsLength(["a", "b", "c", "b", "d", "a", "b"], ["b", "d", "c", "a", "b", "a"]), 4);
  const r = rougeL("a b", "a b c d");
  assert.equal(r.precision, 1);
  assert.equal(r.recall, 0.5);
});

test("normalisation and length counting", () => {
  assert.equal(normalizeForMatch("  Hello,   WORLD!! "), "hello world");
  assert.equal(normalizeForMatch("你好，世界！"), normalizeForMatch("你好 世界"));
  const c = countLength("这是十个汉字组成的句子 and three words");
  assert.equal(c.cjkChars, 11);
  assert.equal(c.words, 3);
  assert.ok(Math.abs(c.units - (3 + 11 / 1.5)) < 1e-12);
});
