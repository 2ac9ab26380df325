import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/sft.js", "data", ...args], { cwd: repoRoot, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("validate: a clean shared dataset passes", () => {
  const file = resolve(repoRoot, "../shared/data/sft/v1_sft_demo.jsonl");
  const r = run("validate", file);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${file}: 500 rows, all valid (openai)\n`);
});

test("validate: lists the first 10 bad rows and counts the rest; --json for machines", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cli-validate-"));
  const file = join(dir, "many.jsonl");
  const lines = ['{"prompt": "p", "completion": "c"}'];
  for (let i = 0; i < 13; i++) lines.push('{"prompt": "p", "completion": 3}');
  writeFileSync(file, `${lines.join("\n")}\n`);
  const r = run("validate", file);
  assert.equal(r.code, 1);
  const expected = [`error: ${file}: 13 invalid rows`];
  for (let line = 2; line <= 11; line++)
    expected.push(`  ${file}:${line}: completion: expected a string, got number`);
  expected.push(
    "  … and 3 more",
    "  hint: 1 of 14 rows are valid; fix the others, or convert with --skip-invalid to set them aside",
    "",
  );
  assert.equal(r.stderr, expected.join("\n"));
  const j = run("validate", file, "--json");
  assert.equal(j.code, 1);
  const report = JSON.parse(j.stdout);
  assert.equal(report.format, "prompt-completion");
  assert.equal(report.rows, 14);
  assert.equal(report.invalid, 13);
  assert.equal(report.errors.length, 10);
  assert.deepEqual(report.errors[0], {
    line: 2,
    field: "completion",
    message: "expected a string, got number",
    text: `${file}:2: completion: expected a string, got number`,
  });
  const h = run("validate", "--help");
  assert.match(h.stdout, /Examples:\n {2}\$ sft data validate train\.jsonl/);
});

test("validate and convert: an empty file is an error (0 rows), not all valid", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cli-empty-"));
  for (const [name, text] of [
    ["empty.jsonl", ""],
    ["empty.json", "[]\n"],
  ]) {
    const file = join(dir, name);
    writeFileSync(file, text);
    const r = run("validate", file);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`^error: ${file}: 0 rows: the file holds no data`));
    const j = run("validate", file, "--json");
    assert.equal(j.code, 1);
    assert.equal(JSON.parse(j.stdout).rows, 0);
    const out = join(dir, `${name}.out.jsonl`);
    const c = run("convert", "--in", file, "--out", out);
    assert.equal(c.code, 1, c.stdout);
    assert.match(c.stderr, /0 rows: the file holds no data, nothing to convert/);
    assert.equal(existsSync(out), false);
  }
});

test("validate: roles out of order fail with file:line and the fix; --allow-non-alternating accepts them", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cli-order-"));
  const file = join(dir, "order.jsonl");
  writeFileSync(
    file,
    '{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]}\n',
  );
  const r = run("validate", file);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(
      `${file}:1: messages\\[1\\]\\.role: two user turns in a row \\(messages 0 and 1\\): .*--allow-non-alternating`,
    ),
  );
  const ok = run("validate", file, "--allow-non-alternating");
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `${file}: 1 row, all valid (openai)\n`);
});
