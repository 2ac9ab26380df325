/**
 * The streaming JSON-array reader on minified one-line arrays: elements split across the
 * reader's 1 MiB chunks (escapes, multi-byte characters and nesting at the boundary) come out
 * exactly as JSON.parse gives them, errors keep line and column, and memory stays bounded
 * (a child process reads a 40 MB one-line file; its peak RSS is compared with one reading a
 * tiny file).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Reject, readRows } from "../../../src/data/io/index.js";

const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const tmp = () => mkdtempSync(join(tmpdir(), "sft-json-array-"));
const CHUNK = 1 << 20;

async function rowsOf(path: string, opts = {}) {
  const rows: unknown[] = [];
  for await (const { row } of readRows(path, opts)) rows.push(row);
  return rows;
}

test("elements that straddle a chunk boundary: escapes, UTF-8 and nesting come out as JSON.parse gives them", async () => {
  const dir = tmp();
  const tails = ['\\"q\\" \\\\ end', "中文 é 🙂", '{"deep":[1,[2,{"x":"]}"}]]}', "\\u00e9\\n"];
  for (let shift = -3; shift <= 3; shift++) {
    for (const tail of tails) {
      // The first element's string ends near the chunk boundary, so the tail falls across it.
      const head = '[{"t":"';
      const pad = "a".repeat(CHUNK - head.length + shift);
      const text = `${head}${pad}${tail.startsWith("{") ? `","n":${tail}}` : `${tail}"}`},{"b":[true,null,-1.5e3]},"s",7]`;
      const path = join(dir, `s${shift}.json`);
      writeFileSync(path, text);
      assert.deepEqual(await rowsOf(path), JSON.parse(text), `shift ${shift}, tail ${tail}`);
    }
  }
});

test("a one-line array keeps exact columns in its errors", async () => {
  const dir = tmp();
  const path = join(dir, "one.json");
  writeFileSync(path, '[{"a":1},{"a":},{"a":3}]');
  const rejects: Reject[] = [];
  assert.deepEqual(await rowsOf(path, { onReject: (r: Reject) => rejects.push(r) }), [{ a: 1 }, { a: 3 }]);
  assert.deepEqual(
    rejects.map((r) => r.error.format()),
    [`${path}:1: malformed JSON at column 15: expected a value`],
  );
  const bad = join(dir, "bad.json");
  writeFileSync(bad, `[${'{"a":1},'.repeat(200_000)}{"a":2} x]`);
  await assert.rejects(rowsOf(bad), (e: unknown) => {
    assert.match(
      String((e as Error).message),
      /^expected ',' or '\]' at column 1600010 after the element that starts at line 1$/,
    );
    return true;
  });
});

function peakRss(file: string): number {
  const script = `const { readRows } = await import(${JSON.stringify(join(repoRoot, "src/data/io/rows.ts"))});
let n = 0; for await (const _ of readRows(${JSON.stringify(file)})) n++;
process.stdout.write(JSON.stringify({ n, rss: process.resourceUsage().maxRSS / 1024 }));`;
  const res = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    cwd: repoRoot,
  });
  assert.equal(res.status, 0, res.stderr);
  return (JSON.parse(res.stdout) as { rss: number }).rss;
}

test("memory stays bounded on a 40 MB one-line array", () => {
  const dir = tmp();
  const small = join(dir, "small.json");
  writeFileSync(small, '[{"instruction":"x","output":"y"}]');
  const big = join(dir, "big.json");
  const fd = openSync(big, "w");
  const row = JSON.stringify({
    instruction: "Describe the sky. ".repeat(10),
    input: "",
    output: "It is blue. ".repeat(40),
  });
  const batch = Array.from({ length: 1000 }, () => row).join(",");
  writeSync(fd, "[");
  for (let k = 0; k < 60; k++) writeSync(fd, k === 0 ? batch : `,${batch}`);
  writeSync(fd, "]");
  closeSync(fd);
  const base = peakRss(small);
  const grown = peakRss(big) - base;
  // Reading the file whole would need about three times its size (the old line reader did).
  assert.ok(grown < 60, `peak RSS grew by ${grown.toFixed(0)} MB over the ${base.toFixed(0)} MB baseline`);
});
