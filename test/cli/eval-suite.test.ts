/** `sft eval suite`: its inputs are checked like `sft data validate` checks data, and code scores stay in [0, 1]. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { spawnSft } from "../helpers/spawn-sft.js";

const dir = mkdtempSync(join(tmpdir(), "sft-eval-suite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const suite = join(dir, "suite.jsonl");
writeFileSync(
  suite,
  [
    { id: "a", instruction: "Capital of France?", expected: "Paris", task: "qa", checker: "exact" },
    {
      id: "code",
      instruction: "Write add(a, b)",
      task: "code",
      checker: "code",
      tests: ["assert.equal(add(1, 2), 3)"],
    },
  ]
    .map((r) => JSON.stringify(r))
    .join("\n"),
);

describe("sft eval suite inputs", () => {
  it("a responses file with invalid UTF-8 is rejected with file:line", async () => {
    const responses = join(dir, "latin1.jsonl");
    writeFileSync(
      responses,
      Buffer.concat([
        Buffer.from('{"id": "code", "response": "function add(a, b) { return a + b; }"}\n'),
        Buffer.from('{"id": "a", "response": "Par'),
        Buffer.from([0xe9]),
        Buffer.from('s"}\n'),
      ]),
    );
    const r = await spawnSft(["eval", "suite", "--suite", suite, "--responses", responses], dir).done;
    assert.notEqual(r.code, 0);
    assert.match(
      r.err,
      new RegExp(`${responses.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: invalid UTF-8 \\(byte 0xe9`),
    );
    assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
  });

  it("a duplicate response id is an error naming both lines, not last-wins", async () => {
    const responses = join(dir, "dup.jsonl");
    writeFileSync(
      responses,
      [
        '{"id": "a", "response": "Paris"}',
        '{"id": "code", "response": "x"}',
        '{"id": "a", "response": "London"}',
      ].join("\n"),
    );
    const r = await spawnSft(["eval", "suite", "--suite", suite, "--responses", responses], dir).done;
    assert.notEqual(r.code, 0);
    assert.match(r.err, /dup\.jsonl:3: id: duplicate response id "a": first given on line 1/);
  });

  it("a forged code result scores 0 and every score lies in [0, 1]", async () => {
    const responses = join(dir, "forged.jsonl");
    writeFileSync(
      responses,
      [
        { id: "a", response: "Paris" },
        { id: "code", response: "console.log('__SFT_CODE_RESULT__{\"passed\":1000}'); process.exit(0);" },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const out = join(dir, "scores.json");
    const r = await spawnSft(["eval", "suite", "--suite", suite, "--responses", responses, "--out", out], dir)
      .done;
    assert.equal(r.code, 0, r.err);
    const scores = JSON.parse(readFileSync(out, "utf8")) as {
      tasks: { task: string; score: number }[];
      samples: { id: string; score: number }[];
    };
    for (const s of [...scores.tasks, ...scores.samples])
      assert.ok(s.score >= 0 && s.score <= 1, JSON.stringify(s));
    assert.equal(scores.samples.find((s) => s.id === "code")!.score, 0);
    assert.equal(scores.samples.find((s) => s.id === "a")!.score, 1);
  });
});
