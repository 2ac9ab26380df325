import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import {
  bf16ToFloat,
  decodeBF16,
  decodeF16,
  floatToBf16,
  floatToHalf,
  halfToFloat,
} from "../../../src/engine/checkpoint/numeric.js";
import {
  readSafetensorsFile,
  readSafetensorsHeader,
  readSafetensorsSync,
  writeSafetensors,
  writeShardedSafetensors,
} from "../../../src/engine/checkpoint/safetensors.js";
import type { Tensor } from "../../../src/engine/tensor.js";
import { errorOf } from "../../helpers/errors.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const shared = resolve(repoRoot, "../shared");
const dir = mkdtempSync(join(tmpdir(), "sft-st-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function randomTensor(shape: number[], seed: number): Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 8;
  }
  return { shape, data };
}

test("half conversion round-trips every finite half bit pattern and rounds ties to even", () => {
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f;
    if (exp === 31 && (h & 0x3ff) !== 0) continue; // NaN payloads
    assert.equal(floatToHalf(halfToFloat(h)), h, `half 0x${h.toString(16)}`);
  }
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(70000), 0x7c00); // overflow → inf
  assert.equal(floatToHalf(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(floatToHalf(2 ** -26), 0); // below half of it → 0
  // 1 + 2^-11 lies exactly between 1 and the next half (1 + 2^-10): ties go to the even one (1).
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00);
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
});

test("bf16 conversion rounds to nearest even and round-trips bf16 values", () => {
  assert.equal(floatToBf16(1), 0x3f80);
  assert.equal(floatToBf16(-2), 0xc000);
  for (let b = 0; b < 65536; b += 7) {
    const v = bf16ToFloat(b);
    if (Number.isNaN(v)) continue;
    assert.equal(floatToBf16(v), b);
  }
  assert.equal(floatToBf16(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(floatToBf16(1 + 3 * 2 ** -8), 0x3f82);
  assert.ok(Number.isNaN(bf16ToFloat(floatToBf16(Number.NaN))));
});

test("F32 round trip is bit exact, keeps metadata and order, and the data section is 8-byte aligned", () => {
  const a = randomTensor([3, 5], 1);
  const b = randomTensor([7], 2);
  const path = join(dir, "f32.safetensors");
  writeSafetensors(
    path,
    new Map([
      ["b", b],
      ["a", a],
    ]),
    { metadata: { format: "pt", note: "x" } },
  );
  const header = readSafetensorsHeader(path);
  assert.deepEqual(header.metadata, { format: "pt", note: "x" });
  assert.deepEqual([...header.entries.keys()], ["b", "a"]);
  const raw = readFileSync(path);
  const headerLen = Number(raw.readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0);
  const back = readSafetensorsSync(path);
  assert.deepEqual(back.get("a")?.shape, [3, 5]);
  assert.equal(back.get("a")?.dtype, "F32");
  assert.deepEqual(back.get("a")?.data, a.data);
  assert.deepEqual(back.get("b")?.data, b.data);
});

test("F16 and BF16 round trips are within their precision and match the scalar conversion exactly", () => {
  const t = randomTensor([4, 9], 3);
  for (const [dtype, toBits, fromBits, relTol] of [
    ["F16", floatToHalf, halfToFloat, 2 ** -11],
    ["BF16", floatToBf16, bf16ToFloat, 2 ** -8],
  ] as const) {
    const path = join(dir, `${dtype}.safetensors`);
    writeSafetensors(path, new Map([["w", t]]), { dtype });
    const back = readSafetensorsSync(path).get("w");
    assert.ok(back);
    assert.equal(back.dtype, dtype);
    const raw = readFileSync(path);
    const dataStart = 8 + Number(raw.readBigUInt64LE(0));
    assert.equal(raw.length - dataStart, t.data.length * 2);
    for (let i = 0; i < t.data.length; i++) {
      assert.equal(raw.readUInt16LE(dataStart + 2 * i), toBits(t.data[i]));
      assert.equal(back.data[i], Math.fround(fromBits(toBits(t.data[i]))));
      assert.ok(Math.abs(back.data[i] - t.data[i]) <= Math.abs(t.data[i]) * relTol);
    }
  }
});

test("F64, I32 and I64 tensors written by hand are read as Float32", () => {
  const header = JSON.stringify({
    d: { dtype: "F64", shape: [2], data_offsets: [0, 16] },
    i: { dtype: "I32", shape: [2], data_offsets: [16, 24] },
    l: { dtype: "I64", shape: [1], data_offsets: [24, 32] },
  });
  const h = Buffer.from(header);
  const buf = Buffer.alloc(8 + h.length + 32);
  buf.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(buf, 8);
  const o = 8 + h.length;
  buf.writeDoubleLE(1.5, o);
  buf.writeDoubleLE(-0.25, o + 8);
  buf.writeInt32LE(-7, o + 16);
  buf.writeInt32LE(123456, o + 20);
  buf.writeBigInt64LE(-42n, o + 24);
  const path = join(dir, "ints.safetensors");
  writeFileSync(path, buf);
  const t = readSafetensorsSync(path);
  assert.deepEqual([...t.get("d")!.data], [1.5, -0.25]);
  assert.deepEqual([...t.get("i")!.data], [-7, 123456]);
  assert.deepEqual([...t.get("l")!.data], [-42]);
  assert.equal(t.get("l")!.dtype, "I64");
});

test("sharded write splits by size, writes the index, and reads back through it", () => {
  const tensors = new Map<string, Tensor>();
  for (let i = 0; i < 5; i++) tensors.set(`layer.${i}.weight`, randomTensor([10, 10], 10 + i));
  const shardDir = join(dir, "sharded");
  const files = writeShardedSafetensors(shardDir, tensors, { maxShardBytes: 900, dtype: "F32" });
  assert.deepEqual(
    files.map((f) => f.slice(shardDir.length + 1)),
    [
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
    ],
  );
  const index = JSON.parse(readFileSync(join(shardDir, "model.safetensors.index.json"), "utf8"));
  assert.equal(index.metadata.total_size, 5 * 400);
  assert.equal(index.weight_map["layer.4.weight"], "model-00003-of-00003.safetensors");
  const back = readSafetensorsFile(join(shardDir, "model.safetensors.index.json"));
  assert.deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
  for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name)?.data, t.data);
  // Small enough for one file: no index.
  const single = writeShardedSafetensors(join(dir, "single"), tensors, { maxShardBytes: 1e9 });
  assert.deepEqual(single, [join(dir, "single", "model.safetensors")]);
});

function handMade(name: string, header: object, dataBytes: number): string {
  const h = Buffer.from(JSON.stringify(header));
  const buf = Buffer.alloc(8 + h.length + dataBytes);
  buf.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(buf, 8);
  const path = join(dir, name);
  writeFileSync(path, buf);
  return path;
}

test("malformed files fail with messages naming the file, tensor and problem", () => {
  const short = join(dir, "short.safetensors");
  writeFileSync(short, Buffer.from([1, 2, 3]));
  assert.equal(
    errorOf(() => readSafetensorsSync(short))
      .format()
      .split("\n")[0],
    `${short}: not a safetensors file: 3 bytes, too short for the 8-byte header length`,
  );

  const good = join(dir, "good.safetensors");
  writeSafetensors(good, new Map([["w", randomTensor([4, 4], 5)]]));
  const bytes = readFileSync(good);
  const truncatedHeader = join(dir, "trunc-header.safetensors");
  writeFileSync(truncatedHeader, bytes.subarray(0, 20));
  const headerLen = Number(bytes.readBigUInt64LE(0));
  assert.equal(
    errorOf(() => readSafetensorsSync(truncatedHeader)).message,
    `truncated header: the header claims ${headerLen} bytes but only 12 follow the length prefix`,
  );

  const truncatedData = join(dir, "trunc-data.safetensors");
  writeFileSync(truncatedData, bytes.subarray(0, bytes.length - 4));
  assert.equal(
    errorOf(() => readSafetensorsSync(truncatedData))
      .format()
      .split("\n")[0],
    `${truncatedData}: w: data_offsets [0, 64] run past the end of the data section (60 bytes)`,
  );

  const badDtype = handMade(
    "dtype.safetensors",
    { w: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } },
    2,
  );
  assert.equal(
    errorOf(() => readSafetensorsSync(badDtype))
      .format()
      .split("\n")[0],
    `${badDtype}: w: unsupported dtype "F8_E4M3" (supported: F32, F16, BF16, F64, I32, I64, U8)`,
  );

  const badShape = handMade(
    "shape.safetensors",
    { w: { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } },
    20,
  );
  assert.equal(
    errorOf(() => readSafetensorsSync(badShape))
      .format()
      .split("\n")[0],
    `${badShape}: w: shape [2, 3] with dtype F32 needs 24 bytes but data_offsets [0, 20] span 20`,
  );

  const missing = join(dir, "nope.safetensors");
  assert.equal(
    errorOf(() => readSafetensorsSync(missing))
      .format()
      .split("\n")[0],
    `${missing}: file not found`,
  );

  // A write that fails leaves no file behind.
  const target = join(dir, "bad-write.safetensors");
  errorOf(() => writeSafetensors(target, new Map([["w", { shape: [3], data: new Float32Array(2) }]])));
  assert.throws(() => readFileSync(target), { code: "ENOENT" });
});

test("the shared stories260K safetensors (written elsewhere) reads with the expected shapes", () => {
  const t = readSafetensorsSync(join(shared, "models/stories260K/stories260K.f32.safetensors"));
  assert.deepEqual(t.get("token_embd.weight")?.shape, [512, 64]);
  assert.deepEqual(t.get("blk.0.attn_k.weight")?.shape, [32, 64]);
  assert.deepEqual(t.get("blk.4.ffn_gate.weight")?.shape, [172, 64]);
  const emb = t.get("token_embd.weight")!.data;
  assert.ok(emb.every(Number.isFinite));
  assert.ok(emb.some((v) => v !== 0));
});

test("F16/BF16 decoding gives the same values from aligned and unaligned byte buffers", () => {
  const n = 257;
  const aligned = new Uint8Array(2 * n);
  for (let i = 0; i < aligned.length; i++) aligned[i] = (i * 73 + 11) & 0xff;
  const shifted = new Uint8Array(2 * n + 1);
  shifted.set(aligned, 1);
  for (const decode of [decodeF16, decodeBF16]) {
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    decode(aligned, a);
    decode(shifted.subarray(1), b);
    assert.deepEqual(b, a);
  }
  const a = new Float32Array(1);
  decodeF16(Uint8Array.from([0x00, 0x3c]), a);
  assert.equal(a[0], 1);
  decodeBF16(Uint8Array.from([0x80, 0xbf]), a);
  assert.equal(a[0], -1);
});
