/**
 * Resumable slot jobs. A job is a fixed, deterministic list of slots (0..n-1); each slot's
 * result is committed to the SQLite store in one transaction when it is done. Rerunning a
 * job skips committed slots, so a job killed at any moment continues where it stopped and
 * never writes a slot twice. The output is read back in slot order, so an interrupted and
 * resumed job writes the same file as an uninterrupted one.
 */
import type { LlmStore, SlotRow } from "../../llm/store.js";

export interface SlotJobProgress {
  done: number;
  total: number;
  /** slots that were already committed when the run started */
  resumed: number;
}

/**
 * Runs `work` for every slot not yet committed, at most `parallel` at a time. The first
 * failure stops new slots from starting and is rethrown once the running ones settle
 * (their results are kept).
 */
export async function runSlots(
  store: LlmStore,
  job: string,
  slots: readonly number[],
  work: (slot: number) => Promise<Omit<SlotRow, "slot">>,
  opts: {
    parallel: number;
    onProgress?: (p: SlotJobProgress) => void;
    /** called right after each slot is committed (e.g. to save the job's usage so far) */
    onCommit?: () => void;
  },
): Promise<SlotJobProgress> {
  const pending = slots.filter((s) => store.slot(job, s) === undefined);
  const progress = {
    done: slots.length - pending.length,
    total: slots.length,
    resumed: slots.length - pending.length,
  };
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < pending.length) {
      const slot = pending[next++];
      try {
        const row = await work(slot);
        store.saveSlot(job, { slot, ...row });
        opts.onCommit?.();
        progress.done++;
        opts.onProgress?.({ ...progress });
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, worker));
  if (failure !== undefined) throw failure;
  return progress;
}
