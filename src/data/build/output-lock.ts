/**
 * One process per dataset output: `sft data build` and `sft data augment` hold `<out>.lock`
 * (see util/lock.ts) from before the job store is opened until they exit, so two jobs never
 * write one output, its rejects file or its state database.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { acquireLock, type HeldLock } from "../../util/lock.js";

export function lockPathFor(out: string): string {
  return `${out}.lock`;
}

export function lockOutput(out: string, command: string): HeldLock {
  mkdirSync(dirname(out), { recursive: true });
  return acquireLock(lockPathFor(out), { command, what: `output ${out}` });
}
