import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { validateEvalConfig } from "../../src/config/eval.js";
import { SftError } from "../../src/errors.js";
import { writeReport } from "../../src/eval/report/index.js";
import { runEvaluation } from "../../src/eval/runner.js";

const dir = mkdtempSync(join(tmpdir(), "sft-pass-at-k-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const jsonl = (rows: object[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;
const ADD_OK = "function add(a, b) { return a + b; }";
const ADD_BAD = "function add(a, b) { return a - b; }";
const MUL_OK = "function mul(a, b) { return a * b; }";
const MUL_BAD = "function mul(a, b) { return a + b; }";

describe("pass@k in the evaluation", () => {
  it("counts passing samples per problem and reports the unbiased pass@k per task and overall", async () => {
    writeFileSync(
      join(dir, "suite.jsonl"),
      jsonl([
        {
          id: "add",
          instruction: "Write add(a, b)",
          task: "code",
          checker: "code",
          tests: ["assert.equal(add(2, 3), 5)"],
        },
        {
          id: "mul",
          instruction: "Write mul(a, b)",
          task: "code",
          checker: "code",
          tests: ["assert.equal(mul(2, 3), 6)"],
        },
      ]),
    );
    const rows = (add: string[], mul: string[]) => [
      ...add.map((response, sample) => ({ id: "add", sample, response })),
      ...mul.map((response, sample) => ({ id: "mul", sample, response })),
    ];
    // base: add passes 1 of 4, mul 0 of 4; fine-tuned: add 3 of 4, mul 4 of 4
    writeFileSync(
      join(dir, "base.jsonl"),
      jsonl(rows([ADD_OK, ADD_BAD, ADD_BAD, ADD_BAD], [MUL_BAD, MUL_BAD, MUL_BAD, MUL_BAD])),
    );
    writeFileSync(
      join(dir, "sft.jsonl"),
      jsonl(rows([ADD_BAD, ADD_OK, ADD_OK, ADD_OK], [MUL_OK, MUL_OK, MUL_OK, MUL_OK])),
    );
    const config = validateEvalConfig({
      base: { kind: "responses", path: "base.jsonl" },
      sft: { kind: "responses", path: "sft.jsonl" },
      suites: ["suite.jsonl"],
      samples: 4,
      k: [1, 2],
    });
    const r = await runEvaluation(config, { baseDir: dir });
    const add = r.samples.find((s) => s.id === "add")!.pass_at_k!;
    assert.deepEqual([add.base.correct, add.sft.correct], [1, 3]);
    // n = 4, c = 1: pass@2 = 1 − C(3,2)/C(4,2) = 1 − 3/6
    assert.deepEqual(add.base.values, { "pass@1": 0.25, "pass@2": 0.5 });
    assert.deepEqual(add.sft.values, { "pass@1": 0.75, "pass@2": 1 });
    const p = r.pass_at_k!;
    assert.deepEqual([p.n, p.k], [4, [1, 2]]);
    assert.deepEqual(p.overall.base, { "pass@1": 0.125, "pass@2": 0.25 });
    assert.deepEqual(p.overall.sft, { "pass@1": 0.875, "pass@2": 1 });
    assert.deepEqual(p.tasks, [{ task: "code", problems: 2, base: p.overall.base, sft: p.overall.sft }]);
    // the per-sample scores stay those of sample 0
    assert.deepEqual([r.samples[0].base.score, r.samples[0].sft.score], [1, 0]);
    const paths = writeReport(r, join(dir, "out"));
    assert.deepEqual(JSON.parse(readFileSync(paths.json, "utf8")).pass_at_k, p);
    const html = readFileSync(paths.html, "utf8");
    assert.match(html, /pass@k \(4 samples per prompt, seed 0\)/);
    assert.match(
      html,
      /<td>all<\/td><td>2<\/td><td>0\.125<\/td><td>0\.875<\/td><td>0\.250<\/td><td>1\.000<\/td>/,
    );
  });

  it("a k above the number of samples is a config error naming the field", () => {
    assert.throws(
      () =>
        validateEvalConfig({
          base: { kind: "responses", path: "b.jsonl" },
          sft: { kind: "responses", path: "s.jsonl" },
          suites: ["s.jsonl"],
          samples: 5,
          k: [1, 10],
        }),
      (e: unknown) =>
        e instanceof SftError && e.where.field === "k" && /pass@10 needs at least 10 samples/.test(e.message),
    );
  });
});
