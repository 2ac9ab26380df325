import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SftError } from "../../../src/errors.js";
import { looseVariants, runIfevalFiles } from "../../../src/eval/ifeval/evaluate.js";

function jsonl(rows: unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

const prompts = [
  {
    key: 1,
    prompt: "Write a list without commas.",
    instruction_id_list: ["punctuation:no_comma", "detectable_format:number_bullet_lists"],
    kwargs: [{}, { num_bullets: 2 }],
  },
  {
    key: 2,
    prompt: "Answer in JSON.",
    instruction_id_list: ["detectable_format:json_format"],
    // Hugging Face copies list every kwarg, null where unused
    kwargs: [{ num_bullets: null, keywords: null }],
  },
  {
    key: 3,
    prompt: "Shout it.",
    instruction_id_list: ["change_case:english_capital", "startend:end_checker"],
    kwargs: [{}, { end_phrase: "THE END." }],
  },
];
const responses = [
  { prompt: "Write a list without commas.", response: "* apples\n* pears" }, // both followed
  { prompt: "Answer in JSON.", response: 'Sure:\n{"answer": 42}' }, // loose only
  { prompt: "Shout it.", response: "I LOVE THIS SONG SO MUCH THAT I SING IT ALL DAY, THE END." }, // strict: end ok? no comma rule absent
];

describe("IFEval files", () => {
  it("builds the eight loose variants in the reference order", () => {
    const v = looseVariants("*a*\nb\n*c*");
    assert.deepEqual(v, ["*a*\nb\n*c*", "a\nb\nc", "b\n*c*", "*a*\nb", "b", "b\nc", "a\nb", "b"]);
  });

  it("scores prompts against responses and writes the contract JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ifeval-"));
    writeFileSync(join(dir, "p.jsonl"), jsonl(prompts));
    writeFileSync(join(dir, "r.jsonl"), jsonl(responses));
    const out = join(dir, "out.json");
    const result = await runIfevalFiles({
      prompts: join(dir, "p.jsonl"),
      responses: join(dir, "r.jsonl"),
      out,
    });
    const written = JSON.parse(readFileSync(out, "utf8"));
    assert.deepEqual(written, JSON.parse(JSON.stringify(result)));
    assert.deepEqual(Object.keys(written.accuracy).sort(), [
      "instruction_loose",
      "instruction_strict",
      "prompt_loose",
      "prompt_strict",
    ]);
    const [r1, r2, r3] = written.rows;
    assert.deepEqual(r1.strict, { follow_all_instructions: true, follow_instruction_list: [true, true] });
    assert.deepEqual(r2.strict.follow_instruction_list, [false]);
    assert.deepEqual(r2.loose.follow_instruction_list, [true]);
    assert.deepEqual(r3.strict.follow_instruction_list, [true, true]);
    assert.equal(r3.key, 3);
    // 2 of 3 prompts strict, 3 of 3 loose; 4 of 5 instructions strict, 5 of 5 loose
    assert.equal(written.accuracy.prompt_strict, 2 / 3);
    assert.equal(written.accuracy.prompt_loose, 1);
    assert.equal(written.accuracy.instruction_strict, 4 / 5);
    assert.equal(written.accuracy.instruction_loose, 1);
    assert.equal(written.by_instruction["detectable_format:json_format"].strict, 0);
  });

  it("names file and line for a missing response and for bad rows", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ifeval-"));
    writeFileSync(join(dir, "p.jsonl"), jsonl(prompts));
    writeFileSync(join(dir, "r.jsonl"), jsonl(responses.slice(0, 2)));
    await assert.rejects(
      runIfevalFiles({ prompts: join(dir, "p.jsonl"), responses: join(dir, "r.jsonl") }),
      (e: unknown) =>
        e instanceof SftError && e.where.line === 3 && /no response for prompt key 3/.test(e.message),
    );
    writeFileSync(join(dir, "bad.jsonl"), `${JSON.stringify(prompts[0])}\n{"key": 9, "prompt": 1}\n`);
    await assert.rejects(
      runIfevalFiles({ prompts: join(dir, "bad.jsonl"), responses: join(dir, "r.jsonl") }),
      (e: unknown) => e instanceof SftError && e.where.line === 2,
    );
  });

  it("scores every response line, in file order, when prompts repeat", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ifeval-"));
    writeFileSync(join(dir, "p.jsonl"), jsonl(prompts));
    // two samples per prompt: the second answer to "Write a list…" breaks the comma rule
    const twice = [
      ...responses,
      { prompt: "Shout it.", response: "quiet, THE END." },
      { prompt: "Write a list without commas.", response: "* apples, pears\n* plums" },
      { prompt: "Answer in JSON.", response: '{"answer": 42}' },
    ];
    writeFileSync(join(dir, "r.jsonl"), jsonl(twice));
    const r = await runIfevalFiles({ prompts: join(dir, "p.jsonl"), responses: join(dir, "r.jsonl") });
    assert.equal(r.rows.length, 6);
    assert.deepEqual(
      r.rows.map((row) => [row.key, row.response_line]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [3, 4],
        [1, 5],
        [2, 6],
      ],
    );
    assert.deepEqual(r.rows[3].strict.follow_instruction_list, [false, true]);
    assert.deepEqual(r.rows[4].strict.follow_instruction_list, [false, true]);
    // prompt-level strict: rows 1, 3 and 6 follow everything → 3 of 6
    assert.equal(r.accuracy.prompt_strict, 3 / 6);
    // instruction-level strict over all 10 instructions: 2 + 0 + 2 + 1 + 1 + 1
    assert.equal(r.accuracy.instruction_strict, 7 / 10);
    assert.equal(r.by_instruction["punctuation:no_comma"].count, 2);
    assert.equal(r.repeated_prompts, 3);
    assert.match(r.warnings[0], /3 of 3 prompts have more than one response \(6 response rows\)/);
  });

  it("a response to a prompt not in the prompts file is an error at its line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ifeval-"));
    writeFileSync(join(dir, "p.jsonl"), jsonl(prompts));
    writeFileSync(join(dir, "r.jsonl"), jsonl([...responses, { prompt: "Something else.", response: "x" }]));
    await assert.rejects(
      runIfevalFiles({ prompts: join(dir, "p.jsonl"), responses: join(dir, "r.jsonl") }),
      (e: unknown) => e instanceof SftError && e.where.line === 4 && e.where.file === join(dir, "r.jsonl"),
    );
  });
});
