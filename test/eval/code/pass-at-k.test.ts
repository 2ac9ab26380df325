import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { meanPassAtKs, passAtK } from "../../../src/eval/code/pass-at-k.js";

/** 1 − C(n−c, k) / C(n, k) with exact big-integer binomials. */
function exact(n: number, c: number, k: number): number {
  const choose = (a: number, b: number): bigint => {
    if (b < 0 || b > a) return 0n;
    let r = 1n;
    for (let i = 1; i <= b; i++) r = (r * BigInt(a - b + i)) / BigInt(i);
    return r;
  };
  const num = choose(n - c, k);
  const den = choose(n, k);
  return 1 - Number((num * 10n ** 15n) / den) / 1e15;
}

describe("pass@k (Chen et al. 2021)", () => {
  it("matches hand-computed values", () => {
    assert.equal(passAtK(10, 3, 1), 1 - 7 / 10); // C(7,1)/C(10,1)
    assert.ok(Math.abs(passAtK(10, 3, 5)! - (1 - 21 / 252)) < 1e-12); // C(7,5)=21, C(10,5)=252
    assert.ok(Math.abs(passAtK(20, 2, 10)! - (1 - 43758 / 184756)) < 1e-12); // C(18,10), C(20,10)
    assert.equal(passAtK(5, 0, 1), 0);
    assert.equal(passAtK(5, 5, 3), 1);
    assert.equal(passAtK(10, 8, 5), 1); // fewer than k failures: every k-subset has a pass
    assert.equal(passAtK(1, 1, 1), 1);
  });

  it("pass@1 is the share of passing samples, and the product form equals the binomial one", () => {
    for (let n = 1; n <= 25; n++)
      for (let c = 0; c <= n; c++) {
        assert.ok(Math.abs(passAtK(n, c, 1)! - c / n) < 1e-12);
        for (const k of [2, 5, 10])
          if (k <= n) assert.ok(Math.abs(passAtK(n, c, k)! - exact(n, c, k)) < 1e-9);
      }
  });

  it("is undefined (null) for k > n and rejects impossible counts", () => {
    assert.equal(passAtK(5, 2, 10), null);
    assert.throws(() => passAtK(5, 6, 1), RangeError);
    assert.throws(() => passAtK(0, 0, 1), RangeError);
  });

  it("averages over problems, missing where a problem's value is missing", () => {
    const m = meanPassAtKs(
      [
        { "pass@1": 0.3, "pass@10": null },
        { "pass@1": 0.5, "pass@10": null },
      ],
      [1, 10],
    );
    assert.ok(Math.abs(m["pass@1"]! - 0.4) < 1e-12);
    assert.equal(m["pass@10"], null);
  });
});
