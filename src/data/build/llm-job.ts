/**
 * What `sft data build` and `sft data augment` hold while they run: the output lock, the
 * job store (response cache and slot state), the usage meter and the LLM backend that goes
 * through both. Opened in that order — the lock before anything is written.
 */
import type { LlmConfig } from "../../config/build.js";
import { createLlmBackend, type LlmBackend, LlmStore, type Pricing, UsageMeter } from "../../llm/index.js";
import { statePathFor } from "./builder.js";
import { lockOutput } from "./output-lock.js";

export interface LlmJob {
  store: LlmStore;
  meter: UsageMeter;
  /** undefined when the config names no LLM */
  backend: LlmBackend | undefined;
  /** A progress line to stderr (nothing when quiet). */
  log: (line: string) => void;
  /** Releases the store and the lock. */
  close(): void;
}

export function openLlmJob(opts: {
  out: string;
  /** the job store's path (default: next to `out`) */
  state?: string;
  llm?: LlmConfig;
  /** the command holding the lock, for the message another run gets */
  command: string;
  /** no progress lines */
  quiet?: boolean;
}): LlmJob {
  const log = (line: string) => {
    if (!opts.quiet) process.stderr.write(`${line}\n`);
  };
  const lock = lockOutput(opts.out, opts.command);
  const store = new LlmStore(opts.state ?? statePathFor(opts.out));
  const close = () => {
    store.close();
    lock.release();
  };
  try {
    const meter = new UsageMeter(opts.llm?.price as Pricing | undefined);
    const backend = opts.llm
      ? createLlmBackend(opts.llm, {
          store,
          meter,
          onRetry: (r) => log(`retry ${r.attempt} in ${Math.round(r.delayMs)} ms: ${r.reason}`),
        })
      : undefined;
    return { store, meter, backend, log, close };
  } catch (e) {
    close();
    throw e;
  }
}
