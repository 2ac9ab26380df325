/**
 * Runs a solution against its tests in the sandbox (./sandbox.ts) with the harness of its
 * language, and reads the verdict from the private channel (./verdict.ts).
 *
 * - python: the interpreter `python` (default `python3`, resolved to its real executable so
 *   version managers' shims work), `-I -S -B` (no user site, no environment variables, no
 *   bytecode files); the program is `setup + solution`, each test runs in its namespace.
 * - javascript / typescript: this Node (`process.execPath`) under its permission model (read
 *   only the working directory, write nothing; no child processes, workers, addons or inspector),
 *   `--max-old-space-size`; TypeScript, and JavaScript using `import`/`export`, is first
 *   transpiled to CommonJS with esbuild. Each test is the body of an async function with
 *   `assert` (node:assert/strict) in scope.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { transformSync } from "esbuild";
import { SftError } from "../../errors.js";
import type { CodeLanguage } from "./extract.js";
import { jsHarness } from "./harness-js.js";
import { pythonHarness } from "./harness-py.js";
import { type Isolation, installRoot, runSandboxed, type SandboxSpec } from "./sandbox.js";
import { readVerdict } from "./verdict.js";

export interface CodeRunOptions {
  timeoutMs?: number;
  memoryMb?: number;
  /** Python interpreter (name on PATH or path); default "python3" */
  python?: string;
}

export interface CodeRunResult {
  passed: number;
  total: number;
  /** first failure, timeout, crash or rejected result */
  error?: string;
  timedOut: boolean;
  isolation: Isolation;
}

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MEMORY_MB = 256;

const pythons = new Map<string, { executable: string; prefixes: string[] }>();

/** The real executable and installation prefixes of a Python interpreter; SftError when absent. */
export function findPython(python = "python3"): { executable: string; prefixes: string[] } {
  const hit = pythons.get(python);
  if (hit) return hit;
  const r = spawnSync(
    python,
    [
      "-I",
      "-c",
      // audit hooks (PEP 578), which the harness relies on, arrived in 3.8
      "import sys; assert sys.version_info >= (3, 8); print(sys.executable); print(sys.prefix); print(sys.base_prefix)",
    ],
    {
      encoding: "utf8",
      timeout: 20_000,
    },
  );
  const lines = r.status === 0 ? r.stdout.trim().split("\n") : [];
  if (lines.length < 3 || !lines[0]) {
    throw new SftError(`no Python interpreter "${python}" (3.8 or newer) could be run for the code checker`, {
      where: { field: "python" },
      hint: "install Python 3 (e.g. apt-get install python3) or pass --python PATH / set `python:` in the eval config",
      code: "E_CONFIG",
    });
  }
  const found = { executable: lines[0], prefixes: [...new Set([lines[1], lines[2]])] };
  pythons.set(python, found);
  return found;
}

/** Node 20 names the permission model `--experimental-permission`; later releases `--permission`. */
const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has("--permission")
  ? "--permission"
  : "--experimental-permission";

function jsArgv(memoryMb: number): (workDir: string) => string[] {
  return (workDir) => [
    process.execPath,
    `--max-old-space-size=${memoryMb}`,
    PERMISSION_FLAG,
    `--allow-fs-read=${workDir}/*`,
    "--no-warnings",
    "-",
  ];
}

/** TypeScript (or ESM JavaScript) to a CommonJS script; throws with esbuild's message. */
function toScript(code: string, language: "javascript" | "typescript"): string {
  if (language === "javascript" && !/^\s*(import|export)\b/m.test(code)) return code;
  return transformSync(code, {
    loader: language === "typescript" ? "ts" : "js",
    format: "cjs",
    target: "node20",
    sourcefile: language === "typescript" ? "solution.ts" : "solution.js",
  }).code;
}

/** Runs `solution` (after `setup`, Python only) and each test; never throws for the code's faults. */
export async function runCodeTests(
  language: CodeLanguage,
  solution: string,
  tests: string[],
  opts: CodeRunOptions & { setup?: string } = {},
): Promise<CodeRunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const memoryMb = opts.memoryMb ?? DEFAULT_MEMORY_MB;
  const nonce = randomBytes(32);
  let spec: SandboxSpec;
  let probe: { key: string; spec: SandboxSpec };
  if (language === "python") {
    const py = findPython(opts.python);
    const base = {
      argv: () => [py.executable, "-I", "-S", "-B", "-"],
      nonce,
      timeoutMs,
      memoryMb,
      memoryLimit: "as" as const,
      readPaths: [...py.prefixes, installRoot(py.executable)],
    };
    spec = { ...base, program: pythonHarness(opts.setup ?? "", solution, tests) };
    probe = { key: `python:${py.executable}`, spec: { ...base, timeoutMs: 20_000, program: "pass\n" } };
  } else {
    let script: string;
    try {
      script = toScript(solution, language);
    } catch (e) {
      const first = (e as { errors?: { text: string }[] }).errors?.[0]?.text ?? (e as Error).message;
      // nothing ran: no isolation to report as missing
      const isolation = {
        network: true,
        filesystem: true,
        killedWithParent: true,
        memory: true,
        processes: true,
      };
      return {
        passed: 0,
        total: tests.length,
        timedOut: false,
        error: `does not compile: ${first}`,
        isolation,
      };
    }
    const base = {
      argv: jsArgv(memoryMb),
      nonce,
      timeoutMs,
      memoryMb: memoryMb + 256,
      memoryLimit: "data" as const,
      readPaths: [installRoot(process.execPath)],
    };
    spec = { ...base, program: jsHarness(script, tests) };
    probe = { key: `node:${process.execPath}`, spec: { ...base, timeoutMs: 20_000, program: "" } };
  }
  const run = await runSandboxed(spec, probe);
  const fail = (error: string): CodeRunResult => ({
    passed: 0,
    total: tests.length,
    timedOut: run.timedOut,
    error,
    isolation: run.isolation,
  });
  if (run.timedOut) return fail(`timed out after ${timeoutMs} ms`);
  const verdict = readVerdict(run.channel, nonce, tests.length);
  if (verdict.ok)
    return {
      passed: verdict.passed,
      total: tests.length,
      timedOut: false,
      error: verdict.error || undefined,
      isolation: run.isolation,
    };
  if (run.channel.length > 0) return fail(verdict.reason);
  return fail(crashReason(run.stderr, run.code, run.signal, memoryMb) ?? verdict.reason);
}

function crashReason(
  stderr: string,
  code: number | null,
  signal: NodeJS.Signals | null,
  memoryMb: number,
): string | undefined {
  if (/heap out of memory|Allocation failed|MemoryError|Cannot allocate memory/i.test(stderr))
    return `exceeded the ${memoryMb} MB memory limit`;
  const line =
    /^\w*(?:Error|Exception)\b.*$/m.exec(stderr)?.[0] ??
    stderr
      .trim()
      .split("\n")
      .find((l) => l.trim() !== "");
  if (line) return `${line.slice(0, 500)} (exit ${signal ?? code})`;
  if (signal || code) return `exited with ${signal ?? code} before reporting`;
  return undefined;
}
