import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const sft = (name: string) => resolve(repoRoot, "../shared/data/sft", name);

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/sft.js", "data", ...args], { cwd: repoRoot, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("convert: ShareGPT → OpenAI Parquet → ShareGPT JSON gives back the original rows", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cli-convert-"));
  const pq = join(dir, "glaive.parquet");
  const back = join(dir, "glaive.json");
  const a = run("convert", "--in", sft("glaive_toolcall_en_demo.json"), "--out", pq, "--to", "openai");
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, `wrote 300 records to ${pq} (sharegpt → openai)\n`);
  const b = run("convert", "--in", pq, "--out", back, "--to", "sharegpt");
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(
    JSON.parse(readFileSync(back, "utf8")),
    JSON.parse(readFileSync(sft("glaive_toolcall_en_demo.json"), "utf8")),
  );
});

test("convert: bad rows fail the command with file:line for each, and nothing is written", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cli-convert-"));
  const src = join(dir, "bad.jsonl");
  writeFileSync(
    src,
    [
      '{"instruction": "ok", "output": "fine"}',
      '{"instruction": "x", "output": }',
      '{"instruction": "no output"}',
      '{"instruction": "ok2", "output": "fine"}',
      '{"instruction": "empty", "output": ""}',
    ].join("\n"),
  );
  const out = join(dir, "out.jsonl");
  const r = run("convert", "--in", src, "--out", out);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    [
      `error: ${src}: 3 invalid rows`,
      `  ${src}:2: malformed JSON at column 32: expected a value`,
      `  ${src}:3: output: missing required field`,
      `  ${src}:5: output: empty response`,
      "  hint: fix these rows, or pass --skip-invalid to write the valid rows and a rejects file",
      "",
    ].join("\n"),
  );
  assert.deepEqual(readdirSync(dir), ["bad.jsonl"]);

  const s = run("convert", "--in", src, "--out", out, "--skip-invalid");
  assert.equal(s.code, 0, s.stderr);
  assert.equal(
    s.stdout,
    `wrote 2 records to ${out} (alpaca → record); rejected 3 rows → ${out}.rejects.jsonl\n`,
  );
  const written = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    written.map((r) => [r.id, r.messages[0].content]),
    [
      ["bad-0", "ok"],
      ["bad-3", "ok2"],
    ],
  );
  const rejects = readFileSync(`${out}.rejects.jsonl`, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(rejects, [
    {
      line: 2,
      reason: "malformed JSON at column 32: expected a value",
      row: '{"instruction": "x", "output": }',
    },
    { line: 3, reason: "output: missing required field", row: { instruction: "no output" } },
    { line: 5, reason: "output: empty response", row: { instruction: "empty", output: "" } },
  ]);
});

test("convert: column mapping from CSV, and --help shows an example", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cli-convert-"));
  const src = join(dir, "qa.csv");
  writeFileSync(src, 'question,answer\n"What is 2+2, exactly?",4\n');
  const out = join(dir, "qa.json");
  const r = run(
    "convert",
    "--in",
    src,
    "--out",
    out,
    "--to",
    "alpaca",
    "--columns",
    "instruction=question,output=answer",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(readFileSync(out, "utf8")), [
    { instruction: "What is 2+2, exactly?", output: "4" },
  ]);
  assert.ok(!existsSync(`${out}.rejects.jsonl`));
  const h = run("convert", "--help");
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Examples:\n {2}\$ sft data convert --in alpaca_en_demo\.json --out train\.jsonl/);
});
