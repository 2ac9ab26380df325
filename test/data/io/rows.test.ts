import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Reject, readRows, writeJsonl, writeRows } from "../../../src/data/io/index.js";
import { SftError } from "../../../src/errors.js";

const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const sft = (name: string) => resolve(repoRoot, "../shared/data/sft", name);
const tmp = () => mkdtempSync(join(tmpdir(), "sft-io-"));

async function collect(path: string, opts = {}) {
  const rows: { row: unknown; line: number }[] = [];
  for await (const { row, line } of readRows(path, opts)) rows.push({ row, line });
  return rows;
}

test("JSON array: every element read once, with the line it starts on", async () => {
  const path = sft("alpaca_en_demo.json");
  const text = readFileSync(path, "utf8");
  const expected = JSON.parse(text) as unknown[];
  const startLines = text.split("\n").flatMap((l, i) => (l === "  {" ? [i + 1] : []));
  const rows = await collect(path);
  assert.equal(rows.length, expected.length);
  assert.deepEqual(
    rows.map((r) => r.row),
    expected,
  );
  assert.deepEqual(
    rows.map((r) => r.line),
    startLines,
  );
});

test("JSONL: exact line numbers, blank lines hold no row", async () => {
  const dir = tmp();
  const path = join(dir, "a.jsonl");
  writeFileSync(path, '{"a":1}\n\n{"a":2}\r\n   \n{"a":3}');
  const rows = await collect(path);
  assert.deepEqual(rows, [
    { row: { a: 1 }, line: 1 },
    { row: { a: 2 }, line: 3 },
    { row: { a: 3 }, line: 5 },
  ]);
});

test("JSONL: malformed line and invalid UTF-8 are reported with file:line", async () => {
  const dir = tmp();
  const path = join(dir, "bad.jsonl");
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from('{"a":1}\n{"a": }\n{"a":"x'),
      Buffer.from([0xff, 0x41]),
      Buffer.from('"}\n{"a":4}\n'),
    ]),
  );
  const rejects: Reject[] = [];
  const rows = await collect(path, { onReject: (r: Reject) => rejects.push(r) });
  assert.deepEqual(
    rows.map((r) => r.line),
    [1, 4],
  );
  assert.deepEqual(
    rejects.map((r) => r.error.format()),
    [
      `${path}:2: malformed JSON at column 7: expected a value`,
      `${path}:3: invalid UTF-8 (byte 0xff at byte 8 of the line)`,
    ],
  );
  assert.equal(rejects[0].row, '{"a": }');
  // Without a reject handler the first problem throws.
  await assert.rejects(collect(path), (e: unknown) => e instanceof SftError && e.where.line === 2);
});

test("JSON array: malformed element is rejected, the rest still read; broken structure is fatal", async () => {
  const dir = tmp();
  const path = join(dir, "a.json");
  writeFileSync(path, '[\n  {"a": 1},\n  {"a":\n    tru},\n  "x,]y",\n  3\n]\n');
  const rejects: Reject[] = [];
  const rows = await collect(path, { onReject: (r: Reject) => rejects.push(r) });
  assert.deepEqual(rows, [
    { row: { a: 1 }, line: 2 },
    { row: "x,]y", line: 5 },
    { row: 3, line: 6 },
  ]);
  assert.deepEqual(
    rejects.map((r) => r.error.format()),
    [`${path}:3: malformed JSON at line 4, column 5: expected a value`],
  );
  const open = join(dir, "open.json");
  writeFileSync(open, '[\n  {"a": 1},\n  {"a": 2}\n');
  await assert.rejects(collect(open), (e: unknown) => {
    assert.ok(e instanceof SftError);
    assert.equal(e.message, "unexpected end of file: the JSON array is not closed");
    return true;
  });
});

test("a .json file holding JSON Lines is read as JSON Lines", async () => {
  const dir = tmp();
  const path = join(dir, "lines.json");
  writeFileSync(path, '{"a":1}\n{"a":2}\n');
  assert.deepEqual(await collect(path), [
    { row: { a: 1 }, line: 1 },
    { row: { a: 2 }, line: 2 },
  ]);
});

test("CSV: quoted commas, quotes and newlines; line = the line a row starts on", async () => {
  const dir = tmp();
  const path = join(dir, "a.csv");
  writeFileSync(
    path,
    'instruction,output\r\n"Say ""hi"", please","line one\r\nline two"\r\nplain,"a,b"\r\n\r\nx,\n',
  );
  assert.deepEqual(await collect(path), [
    { row: { instruction: 'Say "hi", please', output: "line one\r\nline two" }, line: 2 },
    { row: { instruction: "plain", output: "a,b" }, line: 4 },
    { row: { instruction: "x", output: "" }, line: 6 },
  ]);
  const bad = join(dir, "bad.csv");
  writeFileSync(bad, "a,b\n1,2,3\n");
  await assert.rejects(collect(bad), (e: unknown) => {
    assert.ok(e instanceof SftError);
    assert.equal(e.format(), `${bad}:2: CSV row has 3 fields but the header has 2`);
    return true;
  });
});

test("write then read gives the same rows in every file type", async () => {
  const dir = tmp();
  const rows = [
    { text: 'héllo, "world"\nsecond line', n: "1" },
    { text: "中文", n: "" },
  ];
  const nested = [{ messages: [{ role: "user", content: "a" }], quality: 0.5, tags: ["x"] }];
  for (const ext of ["jsonl", "json", "csv", "parquet"]) {
    const path = join(dir, `rows.${ext}`);
    assert.deepEqual(await writeRows(path, rows), { count: 2 });
    assert.deepEqual(
      (await collect(path)).map((r) => r.row),
      rows,
      ext,
    );
  }
  for (const ext of ["jsonl", "json", "parquet"]) {
    const path = join(dir, `nested.${ext}`);
    await writeRows(path, nested);
    assert.deepEqual(
      (await collect(path)).map((r) => r.row),
      nested,
      ext,
    );
  }
});

test("writes are atomic: a failing source leaves no file and no temporary behind", async () => {
  const dir = tmp();
  async function* failing() {
    yield { a: 1 };
    throw new Error("source broke");
  }
  for (const ext of ["jsonl", "csv", "parquet"]) {
    await assert.rejects(writeRows(join(dir, `out.${ext}`), failing()), /source broke/);
  }
  assert.deepEqual(readdirSync(dir), []);
  await writeJsonl(join(dir, "ok.jsonl"), [{ a: 1 }]);
  assert.equal(readFileSync(join(dir, "ok.jsonl"), "utf8"), '{"a":1}\n');
});

test("an empty dataset is written as a valid empty file of every type", async () => {
  const dir = tmp();
  for (const ext of ["jsonl", "json", "csv", "parquet"]) {
    const path = join(dir, `empty.${ext}`);
    assert.deepEqual(await writeRows(path, [], { emptyColumns: ["instruction", "output"] }), { count: 0 });
    assert.deepEqual(await collect(path), [], ext);
  }
});

test("invalid UTF-8 inside a JSON array element or a CSV record rejects just that row", async () => {
  const dir = tmp();
  const json = join(dir, "a.json");
  writeFileSync(
    json,
    Buffer.concat([
      Buffer.from('[\n  {"a": 1},\n  {\n    "a": "x'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"\n  },\n  {"a": 3}\n]\n'),
    ]),
  );
  const rejects: Reject[] = [];
  const rows = await collect(json, { onReject: (r: Reject) => rejects.push(r) });
  assert.deepEqual(rows, [
    { row: { a: 1 }, line: 2 },
    { row: { a: 3 }, line: 6 },
  ]);
  assert.deepEqual(
    rejects.map((r) => r.error.format()),
    [`${json}:3: invalid UTF-8 (byte 0xc3 at byte 12 of line 4)`],
  );
  const csv = join(dir, "a.csv");
  writeFileSync(
    csv,
    Buffer.concat([Buffer.from('text\n"ok"\n"multi\nline '), Buffer.from([0xff]), Buffer.from('"\nfine\n')]),
  );
  const csvRejects: Reject[] = [];
  const csvRows = await collect(csv, { onReject: (r: Reject) => csvRejects.push(r) });
  assert.deepEqual(csvRows, [
    { row: { text: "ok" }, line: 2 },
    { row: { text: "fine" }, line: 5 },
  ]);
  assert.deepEqual(
    csvRejects.map((r) => r.error.format()),
    [`${csv}:3: invalid UTF-8 (byte 0xff at byte 6 of line 4)`],
  );
});
