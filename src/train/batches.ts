/**
 * Epoch and batch iteration. An epoch's micro-batches are a pure function of (seed, epoch),
 * so a position in training is just (epoch, micro-batch index): a resumed run rebuilds the
 * epoch's plan and skips the micro-batches already trained, and sees the same data in the
 * same order as a run that was never interrupted.
 */

export interface TrainPosition {
  epoch: number;
  /** micro-batches of `epoch` already consumed */
  microBatch: number;
}

/** Splits an ordered list of sequence ids into micro-batches of `batchSize` (the last may be short). */
export function microBatches<T>(items: readonly T[], batchSize: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += batchSize) out.push(items.slice(i, i + batchSize));
  return out;
}

/**
 * Optimizer steps per epoch: accumulation windows of `gradAccum` micro-batches that never
 * cross an epoch boundary; a short final window still makes a step (its loss is averaged
 * over its own trained tokens, so it is not under-weighted).
 */
export function stepsPerEpoch(numMicroBatches: number, gradAccum: number): number {
  return Math.ceil(numMicroBatches / gradAccum);
}

export function totalTrainingSteps(
  numMicroBatchesPerEpoch: number,
  gradAccum: number,
  epochs: number,
  maxSteps: number | undefined,
): number {
  if (maxSteps !== undefined && maxSteps > 0) return maxSteps;
  return Math.max(1, Math.ceil(epochs * stepsPerEpoch(numMicroBatchesPerEpoch, gradAccum)));
}

/**
 * Walks accumulation windows from a position on: yields the micro-batch indices of each
 * optimizer step and the position after it. `planEpoch(e)` returns that epoch's
 * micro-batches; it is called once per epoch.
 */
export function* accumulationWindows<T>(
  planEpoch: (epoch: number) => T[],
  gradAccum: number,
  from: TrainPosition,
): Generator<{ epoch: number; batches: T[]; next: TrainPosition; epochSteps: number }> {
  let { epoch, microBatch } = from;
  for (;;) {
    const plan = planEpoch(epoch);
    if (plan.length === 0) return;
    const epochSteps = stepsPerEpoch(plan.length, gradAccum);
    while (microBatch < plan.length) {
      const end = Math.min(plan.length, microBatch + gradAccum);
      const batches = plan.slice(microBatch, end);
      microBatch = end;
      const next = microBatch >= plan.length ? { epoch: epoch + 1, microBatch: 0 } : { epoch, microBatch };
      yield { epoch, batches, next, epochSteps };
    }
    epoch += 1;
    microBatch = 0;
  }
}
