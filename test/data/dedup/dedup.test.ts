import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { dedupConfigSchema } from "../../../src/config/build.js";
import { Deduplicator, MinHashLsh, optimalBands, RougeFilter } from "../../../src/data/dedup/index.js";
import type { SftRecord } from "../../../src/record/record.js";
import { rougeL } from "../../../src/text/rouge.js";

const seeds = resolve(new URL("../../../../shared/data/seeds", import.meta.url).pathname);
const loadSeeds = (f: string) =>
  readFileSync(resolve(seeds, f), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { instruction: string }).instruction);

const rec = (id: string, user: string, answer = "ok"): SftRecord => ({
  id,
  messages: [
    { role: "user", content: user },
    { role: "assistant", content: answer },
  ],
  meta: { source: "t" },
});

test("the prefix-filtered ROUGE-L filter finds exactly what brute force finds (real seed tasks, EN + ZH)", () => {
  for (const file of ["alpaca_seed_tasks.jsonl", "belle_zh_seed_tasks.json"]) {
    const base = loadSeeds(file);
    // add near copies so that there is something to find
    const texts = [
      ...base,
      ...base.slice(0, 40).map((t, i) => (i % 2 ? `${t} Please be brief.` : `请${t}`)),
      ...base.slice(40, 60).map((t) => t.split(" ").reverse().join(" ")),
    ];
    for (const threshold of [0.5, 0.7]) {
      const filter = new RougeFilter(threshold);
      const kept: string[] = [];
      let dropped = 0;
      for (const t of texts) {
        const fast = filter.findSimilar(t);
        let brute: number | undefined;
        for (const k of kept) {
          const f = rougeL(t, k).f;
          if (f > threshold && (brute === undefined || f > brute)) brute = f;
        }
        assert.equal(fast?.score, brute, `${file} θ=${threshold}: "${t}"`);
        if (fast) dropped++;
        else {
          filter.add(t);
          kept.push(t);
        }
      }
      assert.ok(dropped >= 20, `${file}: only ${dropped} dropped`);
      assert.ok(
        filter.lcsCount < texts.length * 5,
        `candidate filtering too weak: ${filter.lcsCount} LCS runs`,
      );
    }
  }
});

test("MinHash LSH: band layout fits the threshold and similar texts collide, different ones do not", () => {
  const { bands, rows } = optimalBands(0.8, 128);
  assert.ok(bands * rows <= 128);
  // the S-curve's midpoint (1/b)^(1/r) sits near the threshold
  assert.ok(Math.abs((1 / bands) ** (1 / rows) - 0.8) < 0.12);
  const lsh = new MinHashLsh(0.7, { numPerm: 128, shingle: 2, seed: 1 });
  const a = "the quick brown fox jumps over the lazy dog near the quiet river bank today";
  lsh.insert(lsh.signature(a));
  const hit = lsh.query(
    lsh.signature("the quick brown fox jumps over the lazy dog near the quiet river bank"),
  );
  assert.ok(hit && hit.similarity > 0.7);
  assert.equal(
    lsh.query(lsh.signature("an entirely unrelated sentence about cooking pasta with garlic")),
    undefined,
  );
  // Chinese texts shingle by character
  lsh.insert(lsh.signature("请写一首关于春天的诗，描写花开和鸟鸣的景象"));
  assert.ok(lsh.query(lsh.signature("请写一首关于春天的诗，描写花开和鸟鸣的景色")));
});

test("Deduplicator: exact (normalised), near and ROUGE-L stages, first occurrence wins", () => {
  const d = new Deduplicator(dedupConfigSchema.parse({}));
  const out = [
    rec("a", "Explain how photosynthesis works in plants, step by step."),
    rec("b", "explain HOW photosynthesis works in plants — step by step!!"),
    rec("c", "Explain how photosynthesis works in green plants, step by step."),
    rec("d", "Explain how photosynthesis works in plants step by step for kids"),
    rec("e", "Write a haiku about the ocean at night."),
    rec("f", "你好，世界！"),
    rec("g", "你好 世界"),
  ].map((r) => d.check(r));
  assert.deepEqual(
    out.map((x) => (x.kept ? "kept" : `${x.reason!.stage}:${x.reason!.duplicate_of}`)),
    [
      "kept",
      "exact:a",
      out[2].kept ? "kept" : `${out[2].reason!.stage}:a`,
      out[3].kept ? "kept" : `${out[3].reason!.stage}:a`,
      "kept",
      "kept",
      "exact:f",
    ],
  );
  assert.equal(out[2].kept, false, "one inserted word is a near/rouge duplicate");
  assert.equal(out[3].kept, false);
  assert.equal(d.stats.rows, 7);
  assert.equal(d.stats.kept, 3);
  assert.equal(d.stats.exact + d.stats.near + d.stats.rouge, 4);
});

test("Deduplicator: shingle and seed from the config reach the MinHash stage", () => {
  const sea = "Write a short poem about the sea at night and the stars above the quiet town";
  const nearScore = (over: Record<string, unknown>) => {
    const d = new Deduplicator(dedupConfigSchema.parse({ rouge: false, near_threshold: 0.5, ...over }));
    d.check(rec("a", sea));
    const r = d.check(rec("b", sea.replace("the sea", "the calm sea")));
    assert.equal(r.reason?.stage, "near", JSON.stringify(over));
    return r.reason!.score;
  };
  const base = nearScore({});
  // one inserted word: single words share 15 of 16, 3-word shingles far fewer
  const unigrams = nearScore({ shingle: 1 });
  assert.ok(unigrams > 0.85 && base < 0.75, `shingle 1: ${unigrams}, shingle 3: ${base}`);
  // another seed draws other hash functions: another estimate of the same Jaccard
  assert.notEqual(nearScore({ seed: 7 }), base);
});
