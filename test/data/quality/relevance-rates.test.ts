import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { qualityConfigSchema } from "../../../src/config/build.js";
import { QualityChecker } from "../../../src/data/quality/index.js";
import {
  combinedRelevanceRates,
  type InstructionRow,
  relevanceRates,
  requestText,
  seededPermutation,
} from "../../../src/data/quality/relevance-rates.js";
import type { SftRecord } from "../../../src/record/record.js";

const sft = resolve(new URL("../../../../shared/data/sft", import.meta.url).pathname);
const load = (f: string) => JSON.parse(readFileSync(join(sft, f), "utf8")) as InstructionRow[];

test("seededPermutation: a fixed seed gives the same permutation of every index", () => {
  const a = seededPermutation(1000, 42);
  assert.deepEqual(a, seededPermutation(1000, 42));
  assert.notDeepEqual(a, seededPermutation(1000, 43));
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  // a shuffle, not a near-identity: few rows keep their own answer
  assert.ok(a.filter((v, i) => v === i).length < 10);
});

test("relevance rates on the real Alpaca demo files, as measured (default threshold 0.7, seed 42)", () => {
  // These are the measured rates of the lexical check, stated in the README. The default
  // catches most mismatched pairs but also rejects ~15 % of true ones; below 0.6 the true
  // rejections fall to ~7 % (answers sharing no key term) while the catch falls under 90 %.
  const expected: Record<string, { at07: [number, number]; at05: [number, number] }> = {
    "alpaca_en_demo.json": { at07: [0.151, 0.967], at05: [0.073, 0.853] },
    "alpaca_zh_demo.json": { at07: [0.151, 0.964], at05: [0.071, 0.883] },
  };
  for (const [file, e] of Object.entries(expected)) {
    const [r05, r07] = relevanceRates(load(file), [0.5, 0.7], 42);
    assert.ok(Math.abs(r07.trueRejected - e.at07[0]) < 0.0015, `${file}: true rejected ${r07.trueRejected}`);
    assert.ok(
      Math.abs(r07.shuffledCaught - e.at07[1]) < 0.0015,
      `${file}: shuffled caught ${r07.shuffledCaught}`,
    );
    assert.ok(Math.abs(r05.trueRejected - e.at05[0]) < 0.0015, `${file}: true rejected ${r05.trueRejected}`);
    assert.ok(
      Math.abs(r05.shuffledCaught - e.at05[1]) < 0.0015,
      `${file}: shuffled caught ${r05.shuffledCaught}`,
    );
  }
});

test("a rejected row's reason names the relevance check, its score and the uncovered key terms", async () => {
  const row = load("alpaca_en_demo.json").find((r) =>
    r.instruction.startsWith("Generate a hypothetical phone number"),
  );
  assert.ok(row, "the phone-number row is in the English demo file");
  const checker = new QualityChecker(qualityConfigSchema.parse({}));
  const record: SftRecord = {
    id: "phone",
    messages: [
      { role: "user", content: requestText(row) },
      { role: "assistant", content: row.output },
    ],
    meta: { source: "alpaca_en_demo.json" },
  };
  const report = await checker.check(record);
  const reason = report.reasons.find((r) => r.startsWith("low relevance"));
  assert.ok(reason, report.reasons.join("; "));
  assert.match(
    reason,
    /^low relevance: 0\.00 < 0\.7 \(check lexical: lexical 0\.00; key terms not in the answer: .*phone/,
  );
});

test("combined key-term + rarity-weighted rule on the real files, as measured (0.3 / 0.3, seed 42)", () => {
  // fewer true pairs rejected than the default key-term rule, still >= 90 % of shuffled caught;
  // the ~7 % of true answers sharing no term with the request stay rejected
  const expected: Record<string, [number, number]> = {
    "alpaca_en_demo.json": [0.097, 0.933],
    "alpaca_zh_demo.json": [0.108, 0.969],
  };
  for (const [file, [rej, caught]] of Object.entries(expected)) {
    const [r] = combinedRelevanceRates(load(file), 0.3, [0.3], 42);
    assert.ok(Math.abs(r.trueRejected - rej) < 0.0015, `${file}: true rejected ${r.trueRejected}`);
    assert.ok(Math.abs(r.shuffledCaught - caught) < 0.0015, `${file}: shuffled caught ${r.shuffledCaught}`);
    assert.ok(r.shuffledCaught >= 0.9);
  }
});

test("relevanceRates refuses an empty data set", () => {
  assert.throws(() => relevanceRates([], [0.7]), /no rows/);
});
