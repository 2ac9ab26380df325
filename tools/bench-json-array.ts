/**
 * Memory of reading a one-line (minified) JSON array: sftkit's streaming reader against
 * reading the file whole (readFileSync + JSON.parse), each in its own child process, sizes
 * interleaved. The rows are the Alpaca demo rows (../shared/data/sft/alpaca_en_demo.json,
 * or a built-in row when that file is absent) repeated with an index until the size is
 * reached. Prints one JSON line per (size, reader) with rows, seconds and peak RSS (MB).
 *
 *   npx tsx tools/bench-json-array.ts [--sizes 50,200,1000] [--dir /tmp] [--whole-max 400]
 *
 * `--whole-max` skips the whole-file reader above that many MB (V8 strings stop at ~512 MB).
 */
import { spawnSync } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: string): string {
  const k = process.argv.indexOf(name);
  return k > 0 ? process.argv[k + 1] : fallback;
}

async function child(kind: string, file: string): Promise<void> {
  const t0 = performance.now();
  let rows = 0;
  if (kind === "stream") {
    const { readRows } = await import("../src/data/io/rows.js");
    for await (const _ of readRows(file)) rows++;
  } else {
    rows = (JSON.parse(readFileSync(file, "utf8")) as unknown[]).length;
  }
  const seconds = (performance.now() - t0) / 1000;
  // maxRSS is in kilobytes
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    `${JSON.stringify({ rows, seconds: +seconds.toFixed(2), peakRssMb: Math.round(peakRssMb) })}\n`,
  );
}

async function writeMinified(file: string, megabytes: number): Promise<void> {
  const demo = resolve(here, "../../shared/data/sft/alpaca_en_demo.json");
  const seed: Record<string, unknown>[] = existsSync(demo)
    ? (JSON.parse(readFileSync(demo, "utf8")) as Record<string, unknown>[])
    : [{ instruction: "Name a colour.", input: "", output: 'Blue — "the sky\'s colour".\nAlso red.' }];
  const target = megabytes * 1024 * 1024;
  const out = createWriteStream(file);
  const write = (s: string) =>
    out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once("drain", () => r()));
  let bytes = 1;
  await write("[");
  for (let i = 0; bytes < target; i++) {
    const row = JSON.stringify({ ...seed[i % seed.length], id: i });
    const piece = i === 0 ? row : `,${row}`;
    bytes += Buffer.byteLength(piece);
    await write(piece);
  }
  await write("]");
  await new Promise<void>((r) => out.end(() => r()));
}

async function main(): Promise<void> {
  const c = process.argv.indexOf("--child");
  if (c > 0) return child(process.argv[c + 1], process.argv[c + 2]);
  const sizes = arg("--sizes", "50,200,1000").split(",").map(Number);
  const dir = arg("--dir", tmpdir());
  const wholeMax = Number(arg("--whole-max", "400"));
  for (const mb of sizes) {
    const file = join(dir, `sftkit-bench-${mb}mb.json`);
    await writeMinified(file, mb);
    const fileMb = Math.round(statSync(file).size / 1024 / 1024);
    for (const kind of ["stream", "whole"]) {
      if (kind === "whole" && mb > wholeMax) {
        process.stdout.write(
          `${JSON.stringify({ fileMb, reader: kind, skipped: `above --whole-max ${wholeMax}` })}\n`,
        );
        continue;
      }
      const res = spawnSync(
        process.execPath,
        ["--import", "tsx", fileURLToPath(import.meta.url), "--child", kind, file],
        { encoding: "utf8", maxBuffer: 1 << 20 },
      );
      const line = res.stdout.trim().split("\n").pop() ?? "";
      const result =
        res.status === 0 && line ? JSON.parse(line) : { error: res.stderr.trim().split("\n").pop() };
      process.stdout.write(`${JSON.stringify({ fileMb, reader: kind, ...result })}\n`);
    }
    rmSync(file);
  }
}

await main();
