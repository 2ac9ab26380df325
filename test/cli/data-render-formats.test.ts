/**
 * `sft data render --format axolotl|trl`: the rows another trainer reads hold exactly the ids
 * and labels of sftkit's own rendering (multi-turn, tool calls, packed), as JSONL and Parquet.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { IGNORE_INDEX } from "../../src/tokenize/mask.js";
import { packSamples } from "../../src/tokenize/pack.js";
import { runSft } from "../helpers/spawn-sft.js";
import { glaiveRecords, tokenizerDir, v1Records } from "../tokenize/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "sft-render-formats-"));
const datasets = {
  "multi-turn": v1Records(24),
  "tool-call": glaiveRecords(16),
};
for (const [name, recs] of Object.entries(datasets))
  writeFileSync(join(dir, `${name}.jsonl`), recs.map((r) => `${JSON.stringify(r)}\n`).join(""));

type Row = Record<string, number[]>;

async function readRows(path: string): Promise<Row[]> {
  if (path.endsWith(".jsonl"))
    return readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Row);
  return (await parquetReadObjects({ file: await asyncBufferFromFile(path) })) as Row[];
}

function render(input: string, out: string, extra: string[] = []) {
  const res = runSft([
    "data",
    "render",
    "--tokenizer",
    tokenizerDir("qwen3"),
    "--in",
    input,
    "--chat-template",
    "--max-seq-length",
    "256",
    "--out",
    out,
    ...extra,
  ]);
  assert.equal(res.code, 0, res.stderr);
  return res;
}

type Rendered = { id: string; input_ids: number[]; labels: number[] }[];
const references = new Map<string, Rendered>();

/** sftkit's own rendering: { id, input_ids, labels } per record (rendered once per dataset). */
function reference(name: string): Rendered {
  const cached = references.get(name);
  if (cached) return cached;
  const out = join(dir, `${name}.sftkit.jsonl`);
  render(join(dir, `${name}.jsonl`), out);
  const rows: Rendered = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  references.set(name, rows);
  return rows;
}

describe("sft data render --format axolotl|trl", () => {
  for (const name of Object.keys(datasets)) {
    for (const ext of ["jsonl", "parquet"]) {
      test(`${name}, ${ext}: axolotl and trl rows equal sftkit's ids and labels token for token`, async () => {
        const ref = reference(name);
        assert.ok(ref.length >= 10, `${ref.length} rendered`);
        assert.ok(
          ref.some((r) => r.labels.some((l) => l === IGNORE_INDEX)) &&
            ref.some((r) => r.labels.some((l) => l !== IGNORE_INDEX)),
        );
        const ax = join(dir, `${name}.axolotl.${ext}`);
        render(join(dir, `${name}.jsonl`), ax, ["--format", "axolotl"]);
        const axRows = await readRows(ax);
        assert.equal(axRows.length, ref.length);
        axRows.forEach((row, i) => {
          assert.deepEqual(Object.keys(row), ["input_ids", "attention_mask", "labels"]);
          assert.deepEqual(row.input_ids, ref[i].input_ids, `row ${i} ids`);
          assert.deepEqual(row.labels, ref[i].labels, `row ${i} labels`);
          assert.deepEqual(row.attention_mask, new Array(ref[i].input_ids.length).fill(1));
        });
        const trl = join(dir, `${name}.trl.${ext}`);
        render(join(dir, `${name}.jsonl`), trl, ["--format", "trl"]);
        const trlRows = await readRows(trl);
        assert.equal(trlRows.length, ref.length);
        trlRows.forEach((row, i) => {
          assert.deepEqual(Object.keys(row), ["input_ids", "labels"]);
          assert.deepEqual(row.input_ids, ref[i].input_ids);
          assert.deepEqual(row.labels, ref[i].labels);
        });
      });
    }
  }

  test("packed: rows are sft train's packing of the rendered samples; positions restart per sample", async () => {
    const ref = reference("multi-turn");
    const packed = packSamples(
      ref.map((r) => ({ id: r.id, inputIds: r.input_ids, labels: r.labels })),
      { maxSeqLength: 256 },
    ).rows;
    assert.ok(packed.length < ref.length, "several samples share a row");
    const ax = join(dir, "packed.axolotl.parquet");
    render(join(dir, "multi-turn.jsonl"), ax, ["--format", "axolotl", "--packing"]);
    const rows = await readRows(ax);
    assert.equal(rows.length, packed.length);
    rows.forEach((row, i) => {
      assert.deepEqual(Object.keys(row), ["input_ids", "attention_mask", "labels", "position_ids"]);
      assert.deepEqual(row.input_ids, packed[i].inputIds);
      assert.deepEqual(row.labels, packed[i].labels);
      assert.deepEqual(row.position_ids, packed[i].positions);
      assert.ok(row.input_ids.length <= 256);
      // each sample of the row appears whole, starting at position 0
      for (const [k, start] of packed[i].sampleStarts.entries()) {
        const sample = ref.find((r) => r.id === packed[i].sampleIds[k])!;
        assert.deepEqual(row.input_ids.slice(start, start + sample.input_ids.length), sample.input_ids);
        assert.equal(row.position_ids[start], 0);
      }
    });
    const trl = join(dir, "packed.trl.jsonl");
    render(join(dir, "multi-turn.jsonl"), trl, ["--format", "trl", "--packing"]);
    const trlRows = await readRows(trl);
    trlRows.forEach((row, i) => {
      assert.deepEqual(row.input_ids, packed[i].inputIds);
      assert.deepEqual(row.labels, packed[i].labels);
      assert.equal(
        row.seq_lengths.reduce((a, b) => a + b, 0),
        row.input_ids.length,
      );
      assert.deepEqual(
        row.seq_lengths,
        packed[i].sampleIds.map((id) => ref.find((r) => r.id === id)!.input_ids.length),
      );
    });
  });

  test("bad flags fail with one clear line", () => {
    const input = join(dir, "multi-turn.jsonl");
    const renderTo = (out: string, ...flags: string[]) =>
      runSft(["data", "render", "--tokenizer", tokenizerDir("qwen3"), "--in", input, "--out", out, ...flags]);
    let res = renderTo(join(dir, "x.csv"), "--format", "axolotl");
    assert.equal(res.code, 1);
    assert.match(res.stderr, /unknown extension ".csv"/);
    res = renderTo(join(dir, "x.jsonl"), "--format", "axolotl", "--packing");
    assert.match(res.stderr, /--packing needs --max-seq-length/);
    res = renderTo(join(dir, "x.jsonl"), "--format", "megatron");
    assert.match(res.stderr, /unknown --format "megatron"/);
  });
});
