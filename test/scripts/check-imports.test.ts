import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";

const script = resolve(new URL("../../scripts/check-imports.mjs", import.meta.url).pathname);

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "sft-imports-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function check(root: string) {
  return spawnSync(process.execPath, [script, root], { encoding: "utf8" });
}

test("the package's own src/ has no folder cycle", () => {
  const r = check(resolve(dirname(script), "../src"));
  assert.equal(r.status, 0, r.stderr);
});

test("a three-folder cycle fails with its path and one import per edge", () => {
  const root = tree({
    "data/build.ts": 'import { a } from "../llm/local.js";\n',
    "llm/local.ts": 'import type { G } from "../generate/index.js";\nexport const a = 1;\n',
    "generate/index.ts": 'export type { R } from "../tokenize/x.js";\n',
    "tokenize/x.ts": 'import type { R } from "../data/record.js";\n',
    "data/record.ts": "export type R = string;\n",
    "engine/ok.ts": 'import { a } from "../llm/local.js";\n',
  });
  const r = check(root);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /folder cycle in .*: data -> llm -> generate -> tokenize -> data/);
  assert.match(r.stderr, /tokenize -> data: .*tokenize\/x\.ts imports .*data\/record\.ts/);
  assert.doesNotMatch(r.stderr, /engine/);
});

test("cycles between sibling subfolders are found too; a folder's own files may import its subfolders", () => {
  const root = tree({
    "data/index.ts": 'export * from "./io/read.js";\n',
    "data/io/read.ts": 'import "../formats/f.js";\nimport { x } from "../index.js";\n',
    "data/formats/f.ts": 'const m = await import("../io/read.js");\n',
  });
  const r = check(root);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /folder cycle in .*\/data\/: formats -> io -> formats/);
  const ok = tree({
    "data/index.ts": 'export * from "./io/read.js";\n',
    "data/io/read.ts": 'import "../index.js";\n',
  });
  assert.equal(check(ok).status, 0);
});
