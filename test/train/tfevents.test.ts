import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { crc32c, maskedCrc32c, TfEventsWriter } from "../../src/train/tfevents.js";

// An independent reader: bitwise CRC32C (no table) and a generic protobuf wire decoder.
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = ~0 >>> 0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return ~crc >>> 0;
}
function mask(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 2 ** 32;
}

type Field = { field: number; wire: number; value: bigint | number | Uint8Array };
function decodeProto(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 1) {
      out.push({ field, wire, value: view.getFloat64(i, true) });
      i += 8;
    } else if (wire === 5) {
      out.push({ field, wire, value: view.getFloat32(i, true) });
      i += 4;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

test("CRC32C matches the published check values", () => {
  const enc = new TextEncoder();
  assert.equal(crc32c(enc.encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
  const random = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  assert.equal(crc32c(random), crc32cBitwise(random));
  assert.equal(maskedCrc32c(random), mask(crc32cBitwise(random)));
});

test("event file reads back: framing, CRCs, file_version, then scalar summaries", () => {
  const dir = mkdtempSync(join(tmpdir(), "tfevents-"));
  let t = 1000.5;
  const w = new TfEventsWriter(dir, () => t++);
  w.scalars(1, { "train/loss": 2.5, "train/learning_rate": 1e-4 });
  w.scalars(2, { "eval/loss": 2.25, skipped: Number.NaN });
  w.scalars(3000000000, { big: 1 });
  w.close();
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /^events\.out\.tfevents\.\d+\./);
  const bytes = new Uint8Array(readFileSync(join(dir, files[0])));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: Field[][] = [];
  let off = 0;
  while (off < bytes.length) {
    const len = Number(view.getBigUint64(off, true));
    assert.equal(view.getUint32(off + 8, true), mask(crc32cBitwise(bytes.subarray(off, off + 8))));
    const data = bytes.subarray(off + 12, off + 12 + len);
    assert.equal(view.getUint32(off + 12 + len, true), mask(crc32cBitwise(data)));
    events.push(decodeProto(data));
    off += 12 + len + 4;
  }
  assert.equal(off, bytes.length);
  assert.equal(events.length, 4);
  const first = events[0];
  assert.equal(first.find((f) => f.field === 1)?.value, 1000.5);
  assert.equal(
    new TextDecoder().decode(first.find((f) => f.field === 3)?.value as Uint8Array),
    "brain.Event:2",
  );
  const scalarsOf = (ev: Field[]) => {
    const summary = decodeProto(ev.find((f) => f.field === 5)!.value as Uint8Array);
    return Object.fromEntries(
      summary.map((v) => {
        const fields = decodeProto(v.value as Uint8Array);
        return [
          new TextDecoder().decode(fields.find((f) => f.field === 1)!.value as Uint8Array),
          fields.find((f) => f.field === 2)!.value,
        ];
      }),
    );
  };
  assert.equal(events[1].find((f) => f.field === 2)?.value, 1n);
  assert.deepEqual(scalarsOf(events[1]), { "train/loss": 2.5, "train/learning_rate": Math.fround(1e-4) });
  assert.deepEqual(scalarsOf(events[2]), { "eval/loss": 2.25 });
  assert.equal(events[3].find((f) => f.field === 2)?.value, 3000000000n);
});
