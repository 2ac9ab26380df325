/**
 * Exclusive locks on a run directory or an output file, so two processes never write one
 * run (interleaved metrics, two configs, one silently winning).
 *
 * A lock is a small JSON file naming its holder: pid, the process's start time (field 22 of
 * /proc/<pid>/stat, clock ticks since boot), the boot id, host, command and since when. It is
 * created atomically and complete: written to a private temporary file, then hard-linked to
 * the lock path, which fails when the path exists — so of two processes exactly one wins and
 * a reader never sees a half-written lock.
 *
 * A lock whose holder is gone is stale and is taken over with a warning: on the same host,
 * the pid no longer exists, or it exists but started at another time (the pid was reused),
 * or the machine has rebooted since. Where /proc is missing (macOS, Windows) only the pid is
 * checked. A lock held from another host is never taken over (its process cannot be seen).
 *
 * Release: `release()` (callers use try/finally), and on process exit (a normal end,
 * `process.exit`, an uncaught error). A process killed by a signal (Ctrl-C, SIGTERM, SIGKILL)
 * leaves the file, and the next taker finds it stale and says so. No signal handler is
 * installed on purpose: JavaScript handlers run only when the event loop is free, so during
 * a long synchronous stretch (a training step, tokenizing a dataset) they would make Ctrl-C
 * wait instead of stopping the process at once.
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { SftError } from "../errors.js";

export interface LockHolder {
  pid: number;
  /** the holder's start time in clock ticks since boot; null where /proc is missing */
  start_time: string | null;
  boot_id: string | null;
  host: string;
  command: string;
  /** ISO time the lock was taken */
  since: string;
}

export interface HeldLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock file (if it is still this process's); safe to call twice. */
  release(): void;
}

export interface AcquireLockOptions {
  /** what takes the lock, for the holder's record and messages (e.g. "sft train") */
  command: string;
  /** what is locked, for messages (default: the lock path) */
  what?: string;
  /** where the stale-lock takeover warning goes (default: stderr) */
  warn?: (message: string) => void;
}

/** Start time of a process (clock ticks since boot), or null when it does not exist or /proc is missing. */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // the command name (field 2) is in parentheses and may itself hold spaces or ")"
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? null; // field 22 overall; fields[0] is field 3
}

function bootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function hasProc(): boolean {
  return processStartTime(process.pid) !== null;
}

/** Why a holder is no longer running, or undefined when it (or a process we cannot see) may be. */
export function staleReason(holder: LockHolder): string | undefined {
  if (holder.host !== hostname()) return undefined;
  const boot = bootId();
  if (holder.boot_id && boot && holder.boot_id !== boot) return "the machine has restarted since";
  if (!pidExists(holder.pid)) return `process ${holder.pid} no longer exists`;
  if (holder.start_time !== null && hasProc()) {
    const now = processStartTime(holder.pid);
    if (now !== null && now !== holder.start_time)
      return `process ${holder.pid} is another process now (the pid was reused)`;
  }
  return undefined;
}

function readHolder(path: string): { text: string; holder: LockHolder | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return { text, holder: typeof h.pid === "number" ? h : undefined };
  } catch {
    return { text, holder: undefined };
  }
}

/** Locks this process holds, so the exit hook can release them (process-wide by nature). */
const held = new Map<string, HeldLock>();
let exitHookInstalled = false;

function releaseAll(): void {
  for (const lock of [...held.values()]) lock.release();
}

function describeHolder(h: LockHolder): string {
  const host = h.host === hostname() ? "" : ` on host ${h.host}`;
  return `pid ${h.pid}${host} (${h.command}) has held it since ${h.since}`;
}

/**
 * Takes the lock at `path` or throws an SftError (code E_LOCKED) naming the holder. A stale
 * lock (holder gone) is taken over with a warning.
 */
export function acquireLock(path: string, opts: AcquireLockOptions): HeldLock {
  const what = opts.what ?? path;
  const holder: LockHolder = {
    pid: process.pid,
    start_time: processStartTime(process.pid),
    boot_id: bootId(),
    host: hostname(),
    command: opts.command,
    since: new Date().toISOString(),
  };
  const text = `${JSON.stringify(holder, null, 2)}\n`;
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, text);
  } catch (e) {
    throw cannotLock(what, path, e);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 5) throw cannotLock(what, path, e);
      }
      const current = readHolder(path);
      if (!current) continue; // released meanwhile: try again
      if (!current.holder)
        throw new SftError(`${what} is locked by an unreadable lock file`, {
          where: { file: path },
          hint: `if no other sftkit process writes here, delete ${path}`,
          code: "E_LOCKED",
        });
      const reason = staleReason(current.holder);
      if (reason === undefined)
        throw new SftError(`${what} is in use: ${describeHolder(current.holder)}`, {
          where: { file: path },
          hint:
            "two processes writing one output would interleave their files; wait for that one to finish, " +
            `stop it, or choose another output. If no such process runs, delete ${path}`,
          code: "E_LOCKED",
        });
      takeOverStale(path, current.text);
      (opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(
        `warning: took over the stale lock of ${what}: ${reason} (${describeHolder(current.holder)})`,
      );
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  const lock: HeldLock = {
    path,
    holder,
    release() {
      if (held.get(path) !== lock) return;
      held.delete(path);
      const current = readHolder(path);
      if (current?.text === text) rmSync(path, { force: true });
    },
  };
  held.set(path, lock);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", releaseAll);
  }
  return lock;
}

function cannotLock(what: string, path: string, e: unknown): SftError {
  const err = e as NodeJS.ErrnoException;
  return new SftError(`cannot create the lock file of ${what}: ${err.code ?? err.message}`, {
    where: { file: path },
    hint:
      err.code === "EXDEV" || err.code === "EPERM" || err.code === "ENOTSUP"
        ? "the file system does not support hard links; put the output on a local file system"
        : "the folder must be writable (check its permissions and free space)",
    code: "E_LOCKED",
    cause: e,
  });
}

/**
 * Removes a stale lock file, but only the one that was judged stale: it is first renamed to
 * a private name (atomic), and put back if another process replaced it in between.
 */
function takeOverStale(path: string, staleText: string): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // someone else removed it
    throw e;
  }
  const moved = readHolder(aside);
  if (moved && moved.text !== staleText) {
    // a live lock taken meanwhile: restore it (fails only if yet another process linked one)
    try {
      linkSync(aside, path);
    } catch {
      // the path is held by a newer lock; ours will see it on the next attempt
    }
  }
  rmSync(aside, { force: true });
}
