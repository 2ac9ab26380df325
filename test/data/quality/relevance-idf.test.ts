import assert from "node:assert/strict";
import { test } from "node:test";
import { IdfRelevance, overlapTerms } from "../../../src/data/quality/relevance-idf.js";

const rows = [
  {
    request: "Explain the water cycle in nature",
    answer: "Water evaporates, forms clouds and falls as rain in nature.",
  },
  {
    request: "Describe the role of volcanoes in nature",
    answer: "Volcanoes shape land in nature and release gases.",
  },
  { request: "What does nature give people?", answer: "Nature gives people food, air and calm." },
  { request: "请解释光合作用", answer: "光合作用是植物利用光能合成有机物的过程。" },
];

test("overlapTerms: stemmed words and CJK bigrams", () => {
  const t = overlapTerms("Volcanoes erupting 光合作用");
  assert.ok(t.has("volcano") || t.has("volcanoe"), [...t].join(","));
  assert.ok(t.has("光合") && t.has("合作") && t.has("作用"));
});

test("IdfRelevance: a shared rare word counts for much, a shared common word for little", () => {
  const idf = new IdfRelevance(rows);
  assert.ok(idf.idf("volcano") > idf.idf("nature"));
  const rare = idf.score("Describe the role of volcanoes in nature", "Volcanoes are mountains of lava.");
  const common = idf.score("Describe the role of volcanoes in nature", "Nature is pleasant in spring.");
  assert.ok(rare > common, `${rare} vs ${common}`);
  assert.ok(common < 0.3, String(common));
  assert.equal(idf.score("请解释光合作用", "光合作用是植物利用光能合成有机物的过程。"), 1);
  assert.equal(idf.score("请解释光合作用", "巴黎是法国的首都。"), 0);
  assert.equal(idf.score("!!", "anything"), 1, "no terms: cannot be judged");
});
