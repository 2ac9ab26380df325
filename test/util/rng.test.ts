import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/util/rng.js";

test("same seed and stream give the same sequence; other streams differ", () => {
  const a = Rng.seeded(7, "data");
  const b = Rng.seeded(7, "data");
  const c = Rng.seeded(7, "dropout");
  const xs = Array.from({ length: 8 }, () => a.nextUint32());
  assert.deepEqual(
    Array.from({ length: 8 }, () => b.nextUint32()),
    xs,
  );
  assert.notDeepEqual(
    Array.from({ length: 8 }, () => c.nextUint32()),
    xs,
  );
  assert.notDeepEqual(
    Array.from({ length: 8 }, () => Rng.seeded(7, "data", 1).nextUint32()),
    xs,
  );
});

test("state round-trips through JSON and continues the exact stream", () => {
  const r = Rng.seeded(123, "neftune");
  for (let i = 0; i < 100; i++) r.nextNormal();
  const saved = JSON.parse(JSON.stringify(r.state()));
  const expected = Array.from({ length: 50 }, () => r.nextFloat());
  const resumed = Rng.fromState(saved);
  assert.deepEqual(
    Array.from({ length: 50 }, () => resumed.nextFloat()),
    expected,
  );
});

test("floats are uniform in [0,1), normals have mean 0 and variance 1, ints are in range", () => {
  const r = Rng.seeded(1);
  const n = 20000;
  let sum = 0;
  let sumSq = 0;
  let fsum = 0;
  for (let i = 0; i < n; i++) {
    const f = r.nextFloat();
    assert.ok(f >= 0 && f < 1);
    fsum += f;
    const z = r.nextNormal();
    sum += z;
    sumSq += z * z;
    const k = r.nextInt(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
  }
  assert.ok(Math.abs(fsum / n - 0.5) < 0.01);
  assert.ok(Math.abs(sum / n) < 0.03);
  assert.ok(Math.abs(sumSq / n - 1) < 0.05);
});

test("permutation is a permutation and depends on the seed", () => {
  const p = Rng.seeded(5, "order").permutation(100);
  assert.deepEqual(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.notDeepEqual([...Rng.seeded(6, "order").permutation(100)], [...p]);
});
