import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  extractAnswerNumber,
  extractChoice,
  parseNumber,
  runChecker,
} from "../../../src/eval/checkers/checkers.js";

describe("task checkers", () => {
  it("exact and contains normalise case, spacing, quotes and a final period", async () => {
    assert.equal((await runChecker("exact", ' "Paris." ', { expected: "paris" })).pass, true);
    assert.equal(
      (await runChecker("exact", "Paris", { expected: "paris", case_sensitive: true })).pass,
      false,
    );
    assert.equal((await runChecker("exact", "Lyon", { expected: ["Paris", "Lyon"] })).pass, true);
    const c = await runChecker("contains", "Red and BLUE", { expected: ["red", "blue", "green"] });
    assert.equal(c.score, 2 / 3);
    assert.equal(c.pass, false);
  });

  it("regex uses the pattern and flags", async () => {
    assert.equal((await runChecker("regex", "Call 555-1234", { pattern: "\\d{3}-\\d{4}" })).pass, true);
    assert.equal((await runChecker("regex", "ABC", { pattern: "abc", flags: "" })).pass, false);
  });

  it("multiple choice finds the picked option", async () => {
    assert.equal(extractChoice("The answer is (C) because…"), "C");
    assert.equal(extractChoice("B. Paris"), "B");
    assert.equal(extractChoice("I think it is Paris.", ["London", "Paris", "Rome"]), "B");
    assert.equal(extractChoice("A long answer with no option letter.", ["x", "y"]), null);
    assert.equal((await runChecker("multiple_choice", "Answer: b", { expected: "B" })).pass, true);
    assert.equal(
      (await runChecker("multiple_choice", "Rome", { expected: "Paris", choices: ["Paris", "Rome"] })).pass,
      false,
    );
  });

  it("numeric takes the final answer with a tolerance", async () => {
    assert.equal(parseNumber("1,234.5"), 1234.5);
    assert.equal(parseNumber("3/4"), 0.75);
    assert.equal(parseNumber("abc"), null);
    assert.equal(extractAnswerNumber("5 apples plus 7 apples is 12. #### 12"), 12);
    assert.equal(extractAnswerNumber("First 3, then 4, so the answer is 7 (not 8)."), 7);
    assert.equal(
      (await runChecker("numeric", "It is about 3.1416", { expected: "3.14159", tolerance: 0.001 })).pass,
      true,
    );
    assert.equal((await runChecker("numeric", "It is 3.2", { expected: 2.5, tolerance: 0.001 })).pass, false);
    assert.equal((await runChecker("numeric", "110", { expected: 100, relative_tolerance: 0.1 })).pass, true);
    assert.equal((await runChecker("numeric", "no idea", { expected: 1 })).pass, false);
  });

  it("text metrics score against the reference and pass at the threshold", async () => {
    const r = await runChecker("rouge_l", "the cat sat on the mat", { expected: "the cat sat on a mat" });
    assert.ok(r.score > 0.8 && r.pass);
    const b = await runChecker("bleu", "completely different words", { expected: "the cat sat on a mat" });
    assert.equal(b.pass, false);
    const c = await runChecker("chrf", "猫坐在垫子上", { expected: "猫坐在垫子上。", threshold: 0.7 });
    assert.equal(c.pass, true);
  });

  it("json_schema validates the response's JSON (fenced or bare)", async () => {
    const schema = {
      type: "object",
      required: ["name", "age"],
      properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
    };
    assert.equal(
      (await runChecker("json_schema", '```json\n{"name": "Ann", "age": 3}\n```', { schema })).pass,
      true,
    );
    const bad = await runChecker("json_schema", '{"name": "Ann", "age": -1}', { schema });
    assert.equal(bad.pass, false);
    assert.match(bad.detail ?? "", /age/);
    assert.equal((await runChecker("json_schema", "not json at all", { schema })).detail, "not JSON");
  });

  it("code runs the response against tests in a limited child process", async () => {
    const tests = ["assert.equal(add(2, 3), 5)", "assert.equal(add(-1, 1), 0)"];
    const ok = await runChecker("code", "Here:\n```js\nfunction add(a, b) { return a + b; }\n```", { tests });
    assert.deepEqual([ok.score, ok.pass], [1, true]);
    const half = await runChecker("code", "function add(a, b) { return a > 0 ? a + b : 7; }", { tests });
    assert.equal(half.score, 0.5);
    const loop = await runChecker("code", "function add() { for (;;) {} }", { tests, timeout_ms: 400 });
    assert.equal(loop.pass, false);
    assert.match(loop.detail ?? "", /timed out/);
    const writer = await runChecker(
      "code",
      "require('node:fs').writeFileSync('x.txt', '1'); function add(a,b){return a+b}",
      {
        tests,
      },
    );
    assert.equal(writer.pass, false);
    const hog = await runChecker("code", "const a = []; for (;;) a.push(new Array(1e6).fill(1));", {
      tests,
      memory_mb: 32,
    });
    assert.match(hog.detail ?? "", /memory/);
  });
});
