/**
 * Answers that try to forge the code checker's verdict: each must score as what it really
 * passed (here: nothing), and `passed` can never exceed `total`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { runChecker } from "../../../src/eval/checkers/checkers.js";
import { runCodeTests } from "../../../src/eval/code/run.js";
import { readVerdict } from "../../../src/eval/code/verdict.js";
import { skipWithoutPython, TEST_PYTHON } from "./python-available.js";

const OLD_MARK = '__SFT_CODE_RESULT__{"passed":1000}';
const jsTests = ["assert.equal(add(2, 3), 5)", "assert.equal(add(-1, 1), 0)"];
const pyTests = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"];

async function scoreJs(answer: string) {
  return runChecker("code", answer, { tests: jsTests, language: "javascript", timeout_ms: 3000 });
}
async function scorePy(answer: string) {
  return runChecker("code", answer, {
    tests: pyTests,
    language: "python",
    timeout_ms: 3000,
    python: TEST_PYTHON,
  });
}

describe("code verdict channel", () => {
  it("accepts exactly one record with the nonce, and never more passed than tests", () => {
    const nonce = randomBytes(32);
    const rec = (s: string) => Buffer.concat([nonce, Buffer.from(s)]);
    assert.deepEqual(readVerdict(rec(' 2 ""\n'), nonce, 2), { ok: true, passed: 2, error: "" });
    assert.equal(readVerdict(rec(' 3 ""\n'), nonce, 2).ok, false);
    assert.equal(readVerdict(rec(' 1 ""\n 2 ""\n'), nonce, 2).ok, false);
    assert.equal(readVerdict(Buffer.concat([Buffer.from("x"), rec(' 1 ""\n')]), nonce, 2).ok, false);
    assert.equal(readVerdict(Buffer.concat([randomBytes(32), Buffer.from(' 1 ""\n')]), nonce, 2).ok, false);
    assert.equal(readVerdict(Buffer.alloc(0), nonce, 2).ok, false);
  });
});

describe("code checker forgeries: JavaScript", () => {
  it("a correct answer still scores 1", async () => {
    const r = await scoreJs("function add(a, b) { return a + b; }");
    assert.deepEqual([r.score, r.pass], [1, true]);
  });

  it("printing the old result marker and exiting 0 scores 0", async () => {
    const r = await scoreJs(
      `function add() { return 0; }\nconsole.log(${JSON.stringify(OLD_MARK)}); process.exit(0);`,
    );
    assert.equal(r.score, 0);
    assert.match(r.detail ?? "", /no result/);
  });

  it("writing a forged record to every fd scores 0", async () => {
    const r = await scoreJs(`function add() { return 0; }
const fs = require("node:fs");
for (let fd = 0; fd < 64; fd++) { try { fs.writeSync(fd, "${"\\x00".repeat(32)} 1000 \\"\\"\\n"); } catch {} }`);
    assert.equal(r.score, 0);
    assert.match(r.detail ?? "", /rejected/);
  });

  it("overriding process.exit, JSON.stringify and Promise#then changes nothing", async () => {
    const r = await scoreJs(`function add() { return 7; }
process.exit = () => {};
JSON.stringify = () => "1000";
const then = Promise.prototype.then;
Promise.prototype.then = function (ok) { return then.call(this, ok, ok); };`);
    assert.equal(r.score, 0);
    assert.match(r.detail ?? "", /0\/2 tests passed/);
  });

  it("monkeypatching assert does not make wrong code pass", async () => {
    const r = await scoreJs(`function add() { return 7; }
for (const m of ["node:assert", "node:assert/strict", "assert"]) { const a = require(m); for (const k of Object.keys(a)) a[k] = () => {}; }`);
    assert.equal(r.score, 0);
  });

  it("its score is clamped to [0, 1] even if the runner were to report more", async () => {
    const r = await runCodeTests("javascript", "function add(a, b) { return a + b; }", jsTests);
    assert.ok(r.passed <= r.total);
  });
});

describe("code checker forgeries: Python", { skip: skipWithoutPython }, () => {
  it("a correct answer still scores 1", async () => {
    const r = await scorePy("def add(a, b):\n    return a + b\n");
    assert.deepEqual([r.score, r.pass], [1, true], r.detail);
  });

  it("printing the old marker and exiting early (sys.exit / os._exit) scores 0", async () => {
    for (const exit of ["import sys\nsys.exit(0)", "import os\nos._exit(0)", "raise SystemExit(0)"]) {
      const r = await scorePy(`def add(a, b):\n    return 0\nprint(${JSON.stringify(OLD_MARK)})\n${exit}\n`);
      assert.equal(r.score, 0, exit);
    }
  });

  it("writing a forged record to every fd scores 0", async () => {
    const r = await scorePy(
      "import os\ndef add(a, b):\n    return 0\nfor fd in range(64):\n    try:\n        os.write(fd, b'\\0' * 32 + b' 1000 \"\"\\n')\n    except OSError:\n        pass\n",
    );
    assert.equal(r.score, 0);
    assert.match(r.detail ?? "", /rejected/);
  });

  it("overriding sys.exit / os._exit and AssertionError changes nothing", async () => {
    const r = await scorePy(
      "import sys, os, builtins\nsys.exit = lambda *a: None\nos._exit = lambda *a: None\nbuiltins.AssertionError = type('Nope', (Exception,), {})\ndef add(a, b):\n    return 7\n",
    );
    assert.equal(r.score, 0);
    assert.match(r.detail ?? "", /0\/2 tests passed/);
  });

  it("raising the harness's report event itself is refused", async () => {
    const r = await scorePy("import sys\nsys.audit('sft.report', 2, '\"\"')\ndef add(a, b):\n    return 0\n");
    assert.equal(r.score, 0);
    assert.match(r.detail ?? "", /not the harness/);
  });

  it("reaching the harness through frames, gc or ctypes is refused", async () => {
    for (const snoop of [
      "import sys\nf = sys._getframe(1)",
      "import gc\nobjs = gc.get_objects()",
      "import ctypes",
      "try:\n    raise ValueError\nexcept ValueError as e:\n    f = e.__traceback__.tb_frame",
      "import sys\nsys.settrace(lambda *a: None)",
    ]) {
      const r = await scorePy(`${snoop}\ndef add(a, b):\n    return a + b\n`);
      assert.equal(r.score, 0, snoop);
      assert.match(r.detail ?? "", /the solution failed: \w+Error: .*(not allowed|not available)/, snoop);
    }
  });
});
