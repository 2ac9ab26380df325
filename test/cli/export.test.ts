import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { parseByteSize, runExport } from "../../src/cli/export.js";
import { loadCheckpoint } from "../../src/engine/checkpoint/hf.js";
import { SftError } from "../../src/errors.js";

const asset = resolve(new URL("../..", import.meta.url).pathname, "assets/models/stories260K");
const dir = mkdtempSync(join(tmpdir(), "sft-cli-export-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("parseByteSize reads decimal and binary units", () => {
  assert.equal(parseByteSize("5GB"), 5e9);
  assert.equal(parseByteSize("500 MB"), 5e8);
  assert.equal(parseByteSize("1MiB"), 2 ** 20);
  assert.equal(parseByteSize("300000"), 300000);
  assert.throws(() => parseByteSize("lots"), SftError);
});

test("sft export picks the format from --out and shards with --max-shard-size", () => {
  const gguf = join(dir, "m.gguf");
  assert.deepEqual(runExport({ model: asset, out: gguf }), [gguf]);
  assert.equal(loadCheckpoint(gguf).source.kind, "gguf");
  const hf = join(dir, "sharded");
  runExport({ model: join(asset, "stories260K.gguf"), out: hf, maxShardSize: "300KB" });
  const names = readdirSync(hf).sort();
  assert.ok(names.includes("model.safetensors.index.json"), names.join(","));
  assert.ok(names.includes("tokenizer.json"));
  assert.equal(loadCheckpoint(hf).tensors.size, 48);
  assert.throws(() => runExport({ model: asset, out: join(dir, "z"), format: "onnx" }), {
    message: 'unknown --format "onnx"',
  });
});
