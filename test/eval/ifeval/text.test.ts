import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pyIsLower, pyIsUpper, pyStrip } from "../../../src/eval/ifeval/pytext.js";
import { countSentences, countWords, wordTokenize } from "../../../src/eval/ifeval/text.js";

describe("IFEval text counting", () => {
  it("counts \\w+ runs as words", () => {
    assert.equal(countWords("word1, word2, word3, word4."), 4);
    assert.equal(countWords("state-of-the-art"), 4);
    assert.equal(countWords("naïve café 東京"), 3);
    assert.equal(countWords("  "), 0);
  });

  it("counts sentences like Punkt on ordinary text", () => {
    assert.equal(countSentences(""), 0);
    assert.equal(countSentences("Hello world"), 1);
    assert.equal(countSentences("One. Two! Three? Four."), 4);
    assert.equal(countSentences("Mr. Smith met Dr. Jones at 5 p.m. today. They talked."), 2);
    assert.equal(countSentences("The U.S.A. is large. It has states."), 2);
    assert.equal(countSentences('He said "stop." Then he left.'), 2);
    assert.equal(countSentences("Wait... what happened? Nothing."), 2);
    assert.equal(countSentences("A title\nwithout periods\non lines"), 1);
    assert.equal(countSentences("Version 2.5 is out. Try it."), 2);
  });

  it("tokenises words like the Treebank tokenizer for capital counting", () => {
    assert.deepEqual(wordTokenize("I DON'T know, OK?"), ["I", "DO", "N'T", "know", ",", "OK", "?"]);
    assert.deepEqual(wordTokenize("WELL-KNOWN U.S.A."), ["WELL-KNOWN", "U.S.A", "."]);
    assert.equal(wordTokenize("NASA's AI works.").filter(pyIsUpper).length, 2);
  });

  it("mirrors Python's isupper/islower/strip", () => {
    assert.equal(pyIsUpper("HELLO 123!"), true);
    assert.equal(pyIsUpper("123"), false);
    assert.equal(pyIsLower("ß and é"), true);
    assert.equal(pyIsLower("Hello"), false);
    assert.equal(pyStrip("\x1c\u3000 a b \x85"), "a b");
    assert.equal(pyStrip('""x""', '"'), "x");
  });
});
