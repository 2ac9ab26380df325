import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import {
  quantizeQ8_0,
  readGguf,
  readGgufMetadata,
  readGgufTokenizer,
  writeGguf,
} from "../../../src/engine/checkpoint/gguf.js";
import { errorOf } from "../../helpers/errors.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const storiesGguf = resolve(repoRoot, "../shared/models/stories260K/stories260K.gguf");

test("stories260K.gguf: metadata, embedded SentencePiece vocabulary and tensor infos", () => {
  const h = readGgufMetadata(storiesGguf);
  assert.equal(h.version, 3);
  assert.equal(h.metadata["general.architecture"], "llama");
  assert.equal(h.metadata["llama.block_count"], 5);
  assert.equal(h.metadataTypes["tokenizer.ggml.tokens"], "array:string");
  assert.equal(h.tensors.length, 3 + 5 * 9);
  const tok = readGgufTokenizer(storiesGguf);
  assert.ok(tok);
  assert.equal(tok.model, "llama");
  assert.equal(tok.tokens.length, 512);
  assert.deepEqual(tok.tokens.slice(0, 4), ["<unk>", "<s>", "</s>", "<0x00>"]);
  assert.equal(tok.tokens[259], "▁t");
  assert.equal(tok.bosTokenId, 1);
  assert.equal(tok.eosTokenId, 2);
  assert.equal(tok.scores?.length, 512);
  assert.deepEqual(tok.tokenTypes?.slice(0, 4), [2, 3, 3, 6]);
});

test("stories260K.gguf: tensors read as Float32 with PyTorch-order shapes", () => {
  const g = readGguf(storiesGguf);
  assert.deepEqual(g.tensors.get("token_embd.weight")?.shape, [512, 64]);
  assert.deepEqual(g.tensors.get("blk.0.attn_k.weight")?.shape, [32, 64]);
  assert.deepEqual(g.tensors.get("blk.3.ffn_down.weight")?.shape, [64, 172]);
  assert.ok(g.tensors.get("output_norm.weight")?.data.every(Number.isFinite));
});

const fixture = new URL("./fixtures/quant-blocks.gguf", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "sft-gguf-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a GGUF written by llama.cpp's gguf-py: every metadata value type reads back", () => {
  const h = readGgufMetadata(fixture);
  const m = h.metadata;
  assert.equal(m["t.u8"], 200);
  assert.equal(m["t.i8"], -100);
  assert.equal(m["t.u16"], 60000);
  assert.equal(m["t.i16"], -30000);
  assert.equal(m["t.u32"], 4000000000);
  assert.equal(m["t.i32"], -2000000000);
  assert.equal(m["t.f32"], 0.125);
  assert.equal(m["t.bool"], true);
  assert.equal(m["t.string"], "héllo ▁wörld");
  assert.equal(m["t.u64"], 2 ** 40 + 3);
  assert.equal(m["t.i64"], -(2 ** 40) - 5);
  assert.equal(m["t.f64"], 1 / 3);
  assert.deepEqual(m["t.array_str"], ["a", "▁b", "<0x0A>"]);
  assert.deepEqual(m["t.array_i32"], [1, -2, 3]);
  assert.deepEqual(m["t.array_f32"], [0.5, -1.5]);
  assert.equal(h.metadataTypes["t.array_str"], "array:string");
  assert.equal(h.metadataTypes["t.i16"], "i16");
});

test("dequantisation of Q4_0, Q8_0, Q4_K, Q6_K, F16 and BF16 matches gguf-py's", () => {
  const g = readGguf(fixture);
  for (const type of ["Q4_0", "Q8_0", "Q4_K", "Q6_K", "F16", "BF16"]) {
    const got = g.tensors.get(`q.${type}`);
    const want = g.tensors.get(`expected.${type}`);
    assert.ok(got && want, type);
    assert.deepEqual(got.shape, [2, 256], type);
    let maxErr = 0;
    let maxAbs = 0;
    for (let i = 0; i < want.data.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(got.data[i] - want.data[i]));
      maxAbs = Math.max(maxAbs, Math.abs(want.data[i]));
    }
    assert.ok(maxAbs > 0, type);
    // Both sides compute in float32; only the order of the scale multiplications may differ.
    assert.ok(maxErr <= maxAbs * 1e-6, `${type}: max error ${maxErr} (max |x| ${maxAbs})`);
  }
});

test("the Q8_0 quantiser produces gguf-py's bytes exactly", () => {
  const g = readGguf(fixture);
  const src = g.tensors.get("q8_source")!;
  const info = g.header.tensors.find((t) => t.name === "q8_quantised")!;
  const want = readFileSync(fixture).subarray(info.offset, info.offset + info.byteLength);
  assert.deepEqual(Buffer.from(quantizeQ8_0(src.data)), Buffer.from(want));
});

test("GGUF write → read round trip: metadata of every type, F32 exact, F16 and Q8_0 within precision", () => {
  const a = { shape: [3, 64], data: Float32Array.from({ length: 192 }, (_, i) => Math.sin(i) * 2) };
  const norm = { shape: [7], data: Float32Array.from({ length: 7 }, (_, i) => i - 3.5) };
  const path = join(dir, "rt.gguf");
  writeGguf(path, {
    metadata: {
      "general.architecture": "llama",
      "x.count": 5,
      "x.big": 2 ** 40,
      "x.eps": { type: "f32", value: 1e-5 },
      "x.f64": { type: "f64", value: 0.1 },
      "x.i8": { type: "i8", value: -3 },
      "x.flag": false,
      "x.tokens": ["<unk>", "▁a"],
      "x.scores": { type: "array", itemType: "f32", value: [0, -1.25] },
      "x.types": { type: "array", itemType: "i32", value: [2, 1] },
    },
    tensors: [
      { name: "a32", tensor: a, type: "F32" },
      { name: "norm", tensor: norm, type: "F32" },
      { name: "a16", tensor: a, type: "F16" },
      { name: "aq8", tensor: a, type: "Q8_0" },
    ],
    alignment: 64,
  });
  const g = readGguf(path);
  assert.equal(g.header.alignment, 64);
  assert.equal(g.metadata["x.count"], 5);
  assert.equal(g.metadata["x.big"], 2 ** 40);
  assert.equal(g.header.metadataTypes["x.big"], "i64");
  assert.equal(g.metadata["x.eps"], 1e-5); // shortest decimal of the stored float32
  assert.equal(g.metadata["x.f64"], 0.1);
  assert.equal(g.metadata["x.i8"], -3);
  assert.equal(g.metadata["x.flag"], false);
  assert.deepEqual(g.metadata["x.tokens"], ["<unk>", "▁a"]);
  assert.deepEqual(g.metadata["x.scores"], [0, -1.25]);
  assert.deepEqual(g.metadata["x.types"], [2, 1]);
  for (const t of g.header.tensors) assert.equal((t.offset - g.header.dataOffset) % 64, 0, t.name);
  assert.deepEqual(g.tensors.get("a32")?.data, a.data);
  assert.deepEqual(g.tensors.get("norm")?.data, norm.data);
  assert.deepEqual(g.tensors.get("a16")?.shape, [3, 64]);
  assert.equal(g.tensors.get("aq8")?.dtype, "Q8_0");
  for (let i = 0; i < a.data.length; i++) {
    assert.ok(Math.abs(g.tensors.get("a16")!.data[i] - a.data[i]) <= Math.abs(a.data[i]) * 2 ** -11);
    // Q8_0 error is at most half a step of its block's scale (max|x|/127), plus the f16 rounding of that scale.
    assert.ok(Math.abs(g.tensors.get("aq8")!.data[i] - a.data[i]) <= (2 / 127) * 0.5 + 2 * 2 ** -11);
  }
});

test("malformed and unsupported GGUF files fail with messages naming file, tensor and problem", () => {
  const bytes = readFileSync(fixture);
  const notGguf = join(dir, "not.gguf");
  writeFileSync(notGguf, "hello world, not a model");
  assert.equal(
    errorOf(() => readGgufMetadata(notGguf))
      .format()
      .split("\n")[0],
    `${notGguf}: not a GGUF file (no "GGUF" magic)`,
  );

  const v1 = join(dir, "v1.gguf");
  const v1bytes = Buffer.from(bytes.subarray(0, 64));
  v1bytes.writeUInt32LE(1, 4);
  writeFileSync(v1, v1bytes);
  assert.equal(errorOf(() => readGgufMetadata(v1)).message, "unsupported GGUF version 1 (supported: 2, 3)");

  const truncHeader = join(dir, "trunc-header.gguf");
  writeFileSync(truncHeader, bytes.subarray(0, 100));
  assert.match(
    errorOf(() => readGgufMetadata(truncHeader)).message,
    /^truncated header: needs \d+ bytes but the file has 100$/,
  );

  const truncData = join(dir, "trunc-data.gguf");
  const last = readGgufMetadata(fixture).tensors.at(-1)!;
  const cut = last.offset + last.byteLength - 10;
  writeFileSync(truncData, bytes.subarray(0, cut));
  assert.equal(
    errorOf(() => readGgufMetadata(truncData))
      .format()
      .split("\n")[0],
    `${truncData}: ${last.name}: tensor data [${last.offset}, ${last.offset + last.byteLength}) runs past the end of the file (${cut} bytes)`,
  );

  // Relabel the Q4_K tensor as Q5_K (same block size class, not dequantised here).
  const h = readGgufMetadata(fixture);
  const unsupported = join(dir, "unsupported.gguf");
  const copy = Buffer.from(bytes);
  const nameBytes = Buffer.from("q.Q4_K");
  const at = copy.indexOf(nameBytes, 0) + nameBytes.length; // then u32 n_dims, 2×u64 dims, u32 type
  assert.equal(copy.readUInt32LE(at + 4 + 16), 12);
  copy.writeUInt32LE(13, at + 4 + 16);
  writeFileSync(unsupported, copy);
  assert.equal(h.tensors.find((t) => t.name === "q.Q4_K")?.type, "Q4_K");
  assert.equal(
    errorOf(() => readGguf(unsupported))
      .format()
      .split("\n")[0],
    `${unsupported}: q.Q4_K: unsupported tensor type Q5_K (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, F64, I32)`,
  );
});

test("corrupt GGUF headers (absurd array length, bad dimension count, misaligned data) fail cleanly", () => {
  // A hand-made header: magic, v3, 1 tensor, 1 kv: "a" = array of u8 with 2^40 elements.
  const head = Buffer.alloc(4 + 4 + 8 + 8);
  head.writeUInt32LE(0x46554747, 0);
  head.writeUInt32LE(3, 4);
  head.writeBigUInt64LE(0n, 8);
  head.writeBigUInt64LE(1n, 16);
  const key = Buffer.alloc(8 + 1 + 4 + 4 + 8);
  key.writeBigUInt64LE(1n, 0);
  key.write("a", 8);
  key.writeUInt32LE(9, 9); // array
  key.writeUInt32LE(0, 13); // of u8
  key.writeBigUInt64LE(2n ** 40n, 17);
  const huge = join(dir, "huge-array.gguf");
  writeFileSync(huge, Buffer.concat([head, key, Buffer.alloc(64)]));
  assert.equal(
    errorOf(() => readGgufMetadata(huge))
      .format()
      .split("\n")[0],
    `${huge}: a: corrupt header: an array of ${2 ** 40} elements in a file of ${head.length + key.length + 64} bytes`,
  );

  const good = join(dir, "one.gguf");
  writeGguf(good, {
    metadata: {},
    tensors: [{ name: "w", tensor: { shape: [2, 2], data: new Float32Array(4) }, type: "F32" }],
  });
  const bytes = readFileSync(good);
  const at = bytes.indexOf(Buffer.from("w")) + 1; // u32 n_dims, 2×u64 dims, u32 type, u64 offset
  const dims = Buffer.from(bytes);
  dims.writeUInt32LE(7, at);
  const badDims = join(dir, "dims.gguf");
  writeFileSync(badDims, dims);
  assert.equal(
    errorOf(() => readGgufMetadata(badDims)).message,
    "tensor has 7 dimensions (GGUF allows 1 to 4)",
  );
  const misaligned = Buffer.from(bytes);
  misaligned.writeBigUInt64LE(4n, at + 4 + 16 + 4);
  const badOffset = join(dir, "offset.gguf");
  writeFileSync(badOffset, misaligned);
  assert.equal(
    errorOf(() => readGgufMetadata(badOffset)).message,
    "tensor data offset 4 is not a multiple of the alignment 32",
  );
});
