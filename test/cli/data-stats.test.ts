import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/sft.js", "data", ...args], { cwd: repoRoot, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("stats --json reports real counts of v1_sft_demo.jsonl", () => {
  const file = resolve(repoRoot, "../shared/data/sft/v1_sft_demo.jsonl");
  const raw = readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { messages: { role: string }[] });
  const r = run("stats", file, "--json");
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.rows, raw.length);
  assert.equal(s.format, "openai");
  const roles = raw.flatMap((x) => x.messages.map((m) => m.role));
  assert.equal(s.messages_by_role.user, roles.filter((x) => x === "user").length);
  assert.equal(s.messages_by_role.assistant, roles.filter((x) => x === "assistant").length);
});

test("stats prints an aligned table for people, and --help shows an example", () => {
  const file = resolve(repoRoot, "../shared/data/sft/identity.json");
  const r = run("stats", file);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[0], /^file {14}\S/);
  assert.ok(lines.includes("rows              91 valid, 0 invalid"), r.stdout);
  assert.match(r.stdout, /^length +p50 +p90 +p99 +max +mean$/m);
  const h = run("stats", "--help");
  assert.match(h.stdout, /Examples:\n {2}\$ sft data stats alpaca_zh_demo\.json/);
});
