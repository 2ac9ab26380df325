/**
 * `sft data dedup` end to end, one flag at a time: every flag, set away from its default,
 * changes which rows are dropped, by which stage, or with what score — so a flag that the
 * command parses but does not pass on (a filter built with its default threshold) fails here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "sft-dedup-cli-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

const SEA = "Write a short poem about the sea at night and the stars above the quiet town";
const ROWS = [
  { instruction: SEA, input: "", output: "The sea is dark." },
  // exact after normalisation (case, spacing)
  {
    instruction: "write a  short poem about the SEA at night and the stars above the quiet town",
    input: "",
    output: "Waves sleep.",
  },
  // one word added: Jaccard of 3-word shingles about 0.65, ROUGE-L F 0.97
  { instruction: SEA.replace("the sea", "the calm sea"), input: "", output: "Calm water." },
  // the words reordered: few shared shingles, ROUGE-L F 0.75
  {
    instruction: "About the sea at night write a short poem, and the stars above the quiet town",
    input: "",
    output: "Night falls.",
  },
  {
    instruction: "Explain how a refrigerator keeps food cold using a compressor",
    input: "",
    output: "It pumps heat out.",
  },
  // the same instruction with another answer: a duplicate by instruction, not by conversation
  { instruction: "List three prime numbers greater than ten", input: "", output: "11, 13, 17" },
  { instruction: "List three prime numbers greater than ten", input: "", output: "19, 23, 29" },
];
const input = join(tmp, "rows.json");
writeFileSync(input, JSON.stringify(ROWS));

interface Outcome {
  stats: { rows: number; kept: number; exact: number; near: number; rouge: number };
  /** dropped row id → [stage, score] */
  dropped: Map<string, [string, number]>;
  rejectsPath: string;
}

let runs = 0;
function dedup(...flags: string[]): Outcome {
  const out = join(tmp, `out-${++runs}.jsonl`);
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "bin/sft.js"), "data", "dedup", input, "--out", out, ...flags],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const stats = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  const dropped = new Map<string, [string, number]>();
  for (const line of readFileSync(stats.rejects, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const rej = JSON.parse(line) as { id: string; reasons: string[] };
    const m = /^(exact|near|rouge) duplicate of \S+ \(similarity ([\d.]+)\)$/.exec(rej.reasons[0]);
    assert.ok(m, rej.reasons[0]);
    dropped.set(rej.id, [m[1], Number(m[2])]);
  }
  const kept = readFileSync(out, "utf8").trim().split("\n").length;
  assert.equal(kept, stats.kept);
  assert.equal(stats.kept + dropped.size, ROWS.length);
  return { stats, dropped, rejectsPath: stats.rejects };
}

const base = dedup();

test("defaults: exact copies by the exact stage, the one-word and reordered variants by ROUGE-L", () => {
  assert.deepEqual(base.stats, { ...base.stats, kept: 3, exact: 2, near: 0, rouge: 2 });
  assert.deepEqual(base.dropped.get("rows-1")?.[0], "exact");
  assert.deepEqual(base.dropped.get("rows-2")?.[0], "rouge");
  assert.deepEqual(base.dropped.get("rows-3")?.[0], "rouge");
});

test("--no-exact: the exact copies fall to the near stage instead", () => {
  const r = dedup("--no-exact");
  assert.equal(r.stats.exact, 0);
  assert.equal(r.dropped.get("rows-1")?.[0], "near");
});

test("--near-threshold: a lower threshold makes the one-word variant a near duplicate", () => {
  const r = dedup("--near-threshold", "0.6");
  assert.equal(r.dropped.get("rows-2")?.[0], "near");
  assert.ok(r.dropped.get("rows-2")![1] >= 0.6);
  assert.equal(base.dropped.get("rows-2")?.[0], "rouge");
});

test("--no-near: with the low threshold set, near matching is still off", () => {
  const r = dedup("--near-threshold", "0.6", "--no-near");
  assert.equal(r.stats.near, 0);
  assert.equal(r.dropped.get("rows-2")?.[0], "rouge");
});

test("--num-perm: the MinHash estimate is a multiple of 1/num_perm", () => {
  const r128 = dedup("--near-threshold", "0.6");
  const r16 = dedup("--near-threshold", "0.6", "--num-perm", "16");
  const s16 = r16.dropped.get("rows-2")![1];
  const s128 = r128.dropped.get("rows-2")![1];
  assert.notEqual(s16, s128);
  // the reason prints 3 decimals
  assert.ok(Math.abs(s16 * 16 - Math.round(s16 * 16)) <= 16 * 5e-4 + 1e-9, `${s16} is not k/16`);
});

test("--no-rouge: the ROUGE-L stage drops nothing", () => {
  const r = dedup("--no-rouge");
  assert.equal(r.stats.rouge, 0);
  assert.ok(!r.dropped.has("rows-2") && !r.dropped.has("rows-3"));
});

test("--rouge-threshold: a higher threshold keeps the reordered variant (ROUGE-L 0.75)", () => {
  const r = dedup("--rouge-threshold", "0.9");
  assert.ok(!r.dropped.has("rows-3"));
  assert.equal(r.dropped.get("rows-2")?.[0], "rouge");
  const low = dedup("--rouge-threshold", "0.5");
  assert.equal(low.dropped.get("rows-3")?.[0], "rouge");
});

test("--field conversation: the same instruction with another answer is no exact duplicate", () => {
  const r = dedup("--field", "conversation", "--no-rouge", "--no-near");
  assert.equal(base.dropped.get("rows-6")?.[0], "exact");
  assert.ok(!r.dropped.has("rows-6"));
  assert.ok(!r.dropped.has("rows-1"), "rows-1 has another answer too");
});

test("--rejects: the dropped rows go to the file given", () => {
  const path = join(tmp, "my-rejects.jsonl");
  const r = dedup("--rejects", path);
  assert.equal(r.rejectsPath, path);
  assert.ok(existsSync(path));
  assert.equal(r.dropped.size, base.dropped.size);
});
