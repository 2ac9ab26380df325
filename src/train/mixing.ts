/**
 * Multi-task mixing. Each task's records are drawn `weight` times per epoch: the whole part
 * of the weight repeats every record (oversampling), the fractional part adds a seeded
 * subset without replacement (so weight 0.5 trains on a different half each epoch). The
 * result is one shuffled list of global sample ids and the per-task counts, which the
 * trainer prints and records in the run directory.
 */
import { Rng } from "../util/rng.js";

export interface MixTask {
  name: string;
  /** number of samples of this task */
  size: number;
  weight: number;
}

export interface EpochMix {
  /** global sample ids (task offset + index within the task), shuffled */
  order: Int32Array;
  /** samples drawn per task this epoch */
  counts: Record<string, number>;
}

/** Samples per epoch each task contributes: round(weight × size). */
export function taskDrawCounts(tasks: readonly MixTask[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of tasks) counts[t.name] = (counts[t.name] ?? 0) + Math.round(t.weight * t.size);
  return counts;
}

/** The mixed, shuffled sample order of one epoch; a pure function of (tasks, seed, epoch). */
export function mixEpoch(tasks: readonly MixTask[], seed: number, epoch: number): EpochMix {
  const ids: number[] = [];
  const counts: Record<string, number> = {};
  let offset = 0;
  tasks.forEach((task, taskIndex) => {
    const total = Math.round(task.weight * task.size);
    const wholeRepeats = Math.floor(total / Math.max(1, task.size));
    for (let r = 0; r < wholeRepeats; r++) for (let i = 0; i < task.size; i++) ids.push(offset + i);
    const remainder = total - wholeRepeats * task.size;
    if (remainder > 0) {
      const pick = Rng.seeded(seed, "mix-subset", epoch, taskIndex).permutation(task.size);
      for (let i = 0; i < remainder; i++) ids.push(offset + pick[i]);
    }
    counts[task.name] = (counts[task.name] ?? 0) + total;
    offset += task.size;
  });
  const order = Int32Array.from(ids);
  Rng.seeded(seed, "epoch-order", epoch).shuffle(order);
  return { order, counts };
}
