import assert from "node:assert/strict";
import { test } from "node:test";
import {
  accumulationWindows,
  microBatches,
  stepsPerEpoch,
  totalTrainingSteps,
} from "../../src/train/batches.js";
import { mixEpoch, taskDrawCounts } from "../../src/train/mixing.js";

const tasks = [
  { name: "qa", size: 10, weight: 2 },
  { name: "summ", size: 20, weight: 0.5 },
  { name: "cls", size: 5, weight: 1 },
];

test("each task is drawn weight × size times: oversampled, undersampled, as is", () => {
  const mix = mixEpoch(tasks, 3, 0);
  assert.deepEqual(mix.counts, { qa: 20, summ: 10, cls: 5 });
  assert.deepEqual(taskDrawCounts(tasks), mix.counts);
  assert.equal(mix.order.length, 35);
  const ids = [...mix.order];
  // qa (ids 0..9): every record exactly twice
  for (let i = 0; i < 10; i++) assert.equal(ids.filter((x) => x === i).length, 2);
  // summ (ids 10..29): 10 distinct records
  const summ = ids.filter((x) => x >= 10 && x < 30);
  assert.equal(new Set(summ).size, 10);
  // cls (30..34) once each
  for (let i = 30; i < 35; i++) assert.equal(ids.filter((x) => x === i).length, 1);
});

test("mixing is a pure function of (seed, epoch): reproducible, and epochs differ", () => {
  assert.deepEqual([...mixEpoch(tasks, 3, 1).order], [...mixEpoch(tasks, 3, 1).order]);
  assert.notDeepEqual([...mixEpoch(tasks, 3, 1).order], [...mixEpoch(tasks, 3, 2).order]);
  const subset = (e: number) =>
    [...mixEpoch(tasks, 3, e).order]
      .filter((x) => x >= 10 && x < 30)
      .sort((a, b) => a - b)
      .join();
  assert.notEqual(subset(0), subset(1), "undersampling draws a different subset each epoch");
});

test("steps per epoch and total steps", () => {
  assert.equal(stepsPerEpoch(10, 3), 4);
  assert.equal(totalTrainingSteps(10, 3, 2, undefined), 8);
  assert.equal(totalTrainingSteps(10, 3, 1.5, undefined), 6);
  assert.equal(totalTrainingSteps(10, 3, 2, 5), 5);
  assert.deepEqual(microBatches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});

test("accumulation windows resume mid-epoch at the same place", () => {
  const plan = (e: number) => microBatches([...mixEpoch(tasks, 9, e).order], 4);
  const full = [];
  const it = accumulationWindows(plan, 3, { epoch: 0, microBatch: 0 });
  for (let i = 0; i < 10; i++) full.push(it.next().value!);
  // 35 samples / 4 = 9 micro-batches, 3 windows per epoch
  assert.equal(full[0].epochSteps, 3);
  assert.deepEqual(full[2].next, { epoch: 1, microBatch: 0 });
  const resumed = accumulationWindows(plan, 3, full[4].next);
  for (let i = 5; i < 10; i++) assert.deepEqual(resumed.next().value, full[i]);
});
