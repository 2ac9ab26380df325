/**
 * Starts the recipe: one process for one rank, else `torchrun` (python -m
 * torch.distributed.run, static rendezvous at --master-addr:--master-port) for N ranks per
 * node. A failed job is reported by the rank that failed first, with its exit code or signal.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { constants } from "node:os";
import { SftError } from "../../errors.js";
import type { OutputStream } from "../progress.js";
import { RECIPE } from "./python.js";

export interface Topology {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** undefined: a free port is picked (one node only) */
  masterPort?: number;
}

/** A free TCP port on addr, or the one asked for when it is free; else the port-in-use error. */
export async function rendezvousPort(t: Topology): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((done) => {
      const s = createServer();
      s.once("error", () => done(null));
      s.listen(port, t.masterAddr, () => {
        const got = (s.address() as { port: number }).port;
        s.close(() => done(got));
      });
    });
  if (t.masterPort === undefined) {
    if (t.nnodes > 1)
      throw new SftError("--master-port is needed when training on several nodes", {
        where: { field: "--master-port" },
        hint: "pass the same free port (e.g. --master-port 29500) on every node",
      });
    const got = await tryListen(0);
    if (got === null)
      throw new SftError(`cannot open a port on ${t.masterAddr} for the ranks to meet`, {
        where: { field: "--master-addr" },
      });
    return got;
  }
  // only the node that hosts the rendezvous binds the port
  if (t.nodeRank === 0 && (await tryListen(t.masterPort)) === null)
    throw new SftError(`port ${t.masterPort} on ${t.masterAddr} is in use`, {
      where: { field: "--master-port" },
      hint: "pass a free port with --master-port, or stop the process holding it",
      code: "E_PORT",
    });
  return t.masterPort;
}

/** Runs the recipe to the end; throws naming the failed rank. */
export async function launchRecipe(opts: {
  python: string;
  planDir: string;
  resume: boolean;
  topology: Topology;
  stdout: OutputStream;
  quiet: boolean;
}): Promise<void> {
  const t = opts.topology;
  const world = t.nprocPerNode * t.nnodes;
  const recipeArgs = [RECIPE, opts.planDir, ...(opts.resume ? ["--resume"] : [])];
  let args: string[];
  if (world === 1) args = recipeArgs;
  else {
    if (t.masterPort === undefined) throw new Error("launchRecipe: the rendezvous port is resolved first");
    const port = t.masterPort;
    args = [
      "-m",
      "torch.distributed.run",
      `--nproc-per-node=${t.nprocPerNode}`,
      `--nnodes=${t.nnodes}`,
      `--node-rank=${t.nodeRank}`,
      `--master-addr=${t.masterAddr}`,
      `--master-port=${port}`,
      "--max-restarts=0",
      ...recipeArgs,
    ];
  }
  const child = spawn(opts.python, args, {
    stdio: ["ignore", "pipe", "pipe"],
    // one thread per rank keeps N ranks on N cores instead of N×cores threads
    env: {
      ...process.env,
      OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? (world > 1 ? "1" : undefined),
      PYTHONUNBUFFERED: "1",
    },
  });
  let err = "";
  child.stdout.on("data", (c: Buffer) => {
    if (!opts.quiet) opts.stdout.write(c.toString());
  });
  child.stderr.on("data", (c: Buffer) => {
    err = (err + c.toString()).slice(-200_000);
  });
  // stopping sftkit stops the ranks
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.once("SIGINT", forward);
  process.once("SIGTERM", forward);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("close", (c, s) => done({ code: c, signal: s })),
  );
  process.off("SIGINT", forward);
  process.off("SIGTERM", forward);
  if (code === 0) return;
  throw failureError(err, code, signal, world);
}

function signalName(exitcode: number): string {
  const n = -exitcode;
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

/** The error for a failed job: the rank that failed first (torchrun's root cause), why, and how to continue. */
export function failureError(
  stderr: string,
  code: number | null,
  signal: string | null,
  world: number,
): SftError {
  const own = /sftkit-torch rank (\d+): (.*)/.exec(stderr);
  const root = /Root Cause[\s\S]*?rank\s*:\s*(\d+)[^\n]*\n\s*exitcode\s*:\s*(-?\d+)/.exec(stderr);
  const lastLine =
    stderr
      .trim()
      .split("\n")
      .filter((l) => /Error|error:/.test(l))
      .pop() ?? stderr.trim().split("\n").pop();
  const hint = "fix the cause, then continue from the last checkpoint with `sft train --resume RUN_DIR`";
  if (own) return new SftError(`torch engine: rank ${own[1]} failed: ${own[2]}`, { hint, code: "E_RANK" });
  if (root) {
    const exitcode = Number(root[2]);
    const how = exitcode < 0 ? `was killed by ${signalName(exitcode)}` : `exited with code ${exitcode}`;
    return new SftError(`torch engine: rank ${root[1]} of ${world} ${how}; the job stopped`, {
      hint,
      code: "E_RANK",
    });
  }
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return new SftError(
    `torch engine: rank 0${world > 1 ? ` of ${world}` : ""} ${how}${lastLine ? `: ${lastLine.trim()}` : ""}`,
    { hint, code: "E_RANK" },
  );
}
