/**
 * `sft data balance` end to end: --per-group, --group-by and --report each change the output
 * when set away from their defaults (a flag parsed but not passed on fails here).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "sft-balance-cli-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

const row = (id: string, type: string, topic: string, quality: number) => ({
  id,
  messages: [
    { role: "user", content: `question ${id}` },
    { role: "assistant", content: `answer ${id}` },
  ],
  meta: { source: "test", type, topic, quality },
});
// type qa: 3 math + 2 art; type task: 1 math
const ROWS = [
  row("m1", "qa", "math", 0.2),
  row("m2", "qa", "math", 0.9),
  row("m3", "qa", "math", 0.5),
  row("a1", "qa", "art", 0.7),
  row("a2", "qa", "art", 0.1),
  row("t1", "task", "math", 0.4),
];
const input = join(tmp, "rows.jsonl");
writeFileSync(input, `${ROWS.map((r) => JSON.stringify(r)).join("\n")}\n`);

let runs = 0;
function balance(...flags: string[]) {
  const out = join(tmp, `out-${++runs}.jsonl`);
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "bin/sft.js"), "data", "balance", input, "--out", out, ...flags],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const ids = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { id: string }).id)
    .sort();
  return { ids, stdout: JSON.parse(r.stdout.trim()), stderr: r.stderr };
}

test("--per-group: at most N rows per type × topic, the best quality first", () => {
  assert.deepEqual(balance("--per-group", "1").ids, ["a1", "m2", "t1"]);
  assert.deepEqual(balance("--per-group", "2").ids, ["a1", "a2", "m2", "m3", "t1"]);
});

test("--group-by: grouping by type alone pools the topics", () => {
  const r = balance("--per-group", "2", "--group-by", "type");
  assert.deepEqual(r.ids, ["a1", "m2", "t1"]);
  assert.equal(r.stdout.groups, 2);
  assert.match(r.stderr, /short: task has 1\/2/);
});

test("--report: the per-group report is written where asked", () => {
  const report = join(tmp, "report.json");
  balance("--per-group", "2", "--report", report);
  assert.ok(existsSync(report));
  const j = JSON.parse(readFileSync(report, "utf8")) as { groups: { group: string }[]; output_rows: number };
  assert.equal(j.output_rows, 5);
  assert.deepEqual(j.groups.map((g) => g.group).sort(), ["qa|art", "qa|math", "task|math"]);
});
