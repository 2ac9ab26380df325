/** Numeric comparison helpers for parity tests. */
import assert from "node:assert/strict";

/** max |a - b| over the tensor, relative to max |b|. */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let mag = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    mag = Math.max(mag, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / Math.max(mag, 1e-30);
}
