/** Runs the real `sft` entry point as a child process (async, so in-process test servers keep answering). */
import { type ChildProcess, spawn } from "node:child_process";

const sftBin = new URL("../../bin/sft.js", import.meta.url).pathname;

export interface SftExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Starts `sft ...args` in `cwd`; `child` is there for tests that kill it, `done` settles on close. */
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
