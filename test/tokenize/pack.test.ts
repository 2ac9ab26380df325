import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SftError } from "../../src/errors.js";
import { IGNORE_INDEX, tokenizeRecord } from "../../src/tokenize/mask.js";
import { collate, packSamples, type SampleTokens } from "../../src/tokenize/pack.js";
import { checkPacking } from "../../src/tokenize/preflight.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { alpacaRecords, tokenizerDir } from "./helpers.js";

const sample = (id: string, n: number, trainedFrom = 0): SampleTokens => ({
  id,
  inputIds: Array.from({ length: n }, (_, i) => 1000 + i),
  labels: Array.from({ length: n }, (_, i) => (i >= trainedFrom ? 1000 + i : IGNORE_INDEX)),
});

describe("packing", () => {
  test("best-fit decreasing fills rows, restarts positions and separates segments", () => {
    const samples = [
      sample("a", 5),
      sample("b", 7),
      sample("c", 3),
      sample("d", 2),
      sample("e", 8),
      sample("f", 5),
    ];
    const { rows, report } = packSamples(samples, { maxSeqLength: 10 });
    // BFD: e(8)+d(2) | b(7)+c(3) | a(5)+f(5) — three full rows.
    assert.deepEqual(
      rows.map((r) => r.sampleIds),
      [
        ["e", "d"],
        ["b", "c"],
        ["a", "f"],
      ],
    );
    assert.deepEqual(rows[0].positions, [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]);
    assert.deepEqual(rows[0].segments, [1, 1, 1, 1, 1, 1, 1, 1, 2, 2]);
    assert.deepEqual(report, {
      samples: 6,
      rows: 3,
      tokens: 30,
      capacity: 10,
      paddingUnpacked: 30,
      paddingPacked: 0,
      paddingSaved: 30,
      fill: 1,
    });
    assert.deepEqual(checkPacking(rows, samples), []);
  });

  test("a sample longer than a row is an error that says to truncate", () => {
    assert.throws(
      () => packSamples([sample("x", 11)], { maxSeqLength: 10 }),
      (e: unknown) =>
        e instanceof SftError && /sample x has 11 tokens/.test(e.message) && /truncated/.test(e.hint ?? ""),
    );
  });
});

describe("collation", () => {
  test("pads to a multiple of 8 with pad id, label -100, segment 0", () => {
    const b = collate([sample("a", 5, 2), sample("b", 11, 3)], { padTokenId: 7 });
    assert.equal(b.B, 2);
    assert.equal(b.T, 16);
    assert.equal(b.inputIds.length, 32);
    assert.ok(b.inputIds instanceof Int32Array && b.labels instanceof Int32Array);
    assert.deepEqual([...b.inputIds.slice(5, 16)], new Array(11).fill(7));
    assert.deepEqual([...b.labels.slice(0, 8)], [-100, -100, 1002, 1003, 1004, -100, -100, -100]);
    assert.deepEqual([...b.segments.slice(0, 8)], [1, 1, 1, 1, 1, 0, 0, 0]);
    assert.deepEqual([...b.positions.slice(16, 24)], [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(b.trainedTokens, 3 + 8);
  });

  test("PAD equal to EOS (DeepSeek-V3) never masks the trained EOS", async () => {
    const tok = await loadTokenizer(tokenizerDir("deepseek_v3"));
    assert.equal(tok.padTokenId, tok.eosTokenId);
    const [r1, r2] = alpacaRecords("alpaca_en_demo.json", 2);
    const s1 = tokenizeRecord(r1, tok, { chatTemplate: true });
    const s2 = tokenizeRecord(r2, tok, { chatTemplate: true });
    const b = collate([s1, s2], { padTokenId: tok.padTokenId });
    for (const [row, s] of [
      [0, s1],
      [1, s2],
    ] as const) {
      const last = row * b.T + s.inputIds.length - 1;
      assert.equal(b.inputIds[last], tok.eosTokenId);
      assert.equal(b.labels[last], tok.eosTokenId, "the closing EOS is trained");
      for (let t = s.inputIds.length; t < b.T; t++) {
        assert.equal(b.inputIds[row * b.T + t], tok.eosTokenId);
        assert.equal(b.labels[row * b.T + t], IGNORE_INDEX);
      }
    }
  });

  test("packed rows collate with their positions and segments", () => {
    const { rows } = packSamples([sample("a", 3), sample("b", 4)], { maxSeqLength: 16 });
    const b = collate(rows, { padTokenId: 0 });
    assert.equal(b.T, 8);
    assert.deepEqual([...b.positions], [0, 1, 2, 3, 0, 1, 2, 0]);
    assert.deepEqual([...b.segments], [1, 1, 1, 1, 2, 2, 2, 0]);
    assert.deepEqual(b.sampleIds, [["b", "a"]]);
  });
});
