/** Runs the real `sft` entry point as a child process. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";

const sftBin = new URL("../../bin/sft.js", import.meta.url).pathname;

export interface SftExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Starts `sft ...args` in `cwd` (async, so in-process test servers keep answering); `child` is there for tests that kill it, `done` settles on close. */
export function spawnSft(args: string[], cwd: string): { child: ChildProcess; done: Promise<SftExit> } {
  const child = spawn(process.execPath, [sftBin, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c) => {
    out += c;
  });
  child.stderr?.on("data", (c) => {
    err += c;
  });
  const done = new Promise<SftExit>((r) =>
    child.on("close", (code, signal) => r({ code, signal, out, err })),
  );
  return { child, done };
}

/**
 * Runs `sft ...args` to the end (synchronously: only for tests with no in-process server to
 * keep answering), in `cwd` (default: the repository root), without colour.
 */
export function runSft(
  args: string[],
  cwd = new URL("../..", import.meta.url).pathname,
): { code: number; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [sftBin, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}
