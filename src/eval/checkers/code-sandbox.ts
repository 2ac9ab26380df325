/**
 * Runs model-written JavaScript against test snippets in a separate Node process.
 *
 * Isolation (what is enforced, so results are safe to compute on untrusted output):
 * - a fresh `node` child per sample, in an empty temporary directory, with an empty
 *   environment (no API keys leak in);
 * - Node's permission model (`--experimental-permission`): the child may read only its own
 *   script and cannot write files, spawn processes, start workers or load native addons;
 * - memory: `--max-old-space-size` caps the JS heap (default 128 MB);
 * - time: a wall-clock timeout (default 5 s) after which the child is SIGKILLed;
 * - output: stdout/stderr are capped at 64 KB.
 * Not enforced: network access (the permission model of Node 20 does not cover sockets).
 *
 * Each test is a snippet evaluated in the scope of the solution with `assert`
 * (node:assert/strict) in scope; `await` is allowed. A test passes when it does not throw.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CodeRunLimits {
  timeoutMs?: number;
  memoryMb?: number;
}

export interface CodeRunResult {
  passed: number;
  total: number;
  /** First failure message, timeout or crash description. */
  error?: string;
  timedOut: boolean;
}

const RESULT_MARK = "__SFT_CODE_RESULT__";
const OUTPUT_CAP = 64 * 1024;

/** Takes the first fenced code block (```js / ```javascript / ```), else the whole text. */
export function extractCode(response: string): string {
  const fence = /```[ \t]*([\w+-]*)[^\n]*\n([\s\S]*?)```/g;
  let first: string | undefined;
  for (const m of response.matchAll(fence)) {
    const lang = m[1].toLowerCase();
    if (["js", "javascript", "node", "mjs", "cjs"].includes(lang)) return m[2];
    first ??= m[2];
  }
  return first ?? response;
}

function harness(solution: string, tests: string[]): string {
  return `${solution}
;(async function (__sftTests, assert) {
  let __sftPassed = 0;
  let __sftError;
  for (const __sftTest of __sftTests) {
    try {
      await eval("(async () => {\\n" + __sftTest + "\\n})()");
      __sftPassed++;
    } catch (e) {
      if (__sftError === undefined) __sftError = String(e && e.message ? e.message : e).slice(0, 500);
    }
  }
  process.stdout.write("\\n${RESULT_MARK}" + JSON.stringify({ passed: __sftPassed, error: __sftError }) + "\\n");
})(${JSON.stringify(tests)}, require("node:assert/strict")).catch((e) => {
  process.stdout.write("\\n${RESULT_MARK}" + JSON.stringify({ passed: 0, error: String(e) }) + "\\n");
});
`;
}

/** Runs `solution` followed by each test; never throws for failures of the code under test. */
export async function runCodeTests(
  solution: string,
  tests: string[],
  limits: CodeRunLimits = {},
): Promise<CodeRunResult> {
  const timeoutMs = limits.timeoutMs ?? 5000;
  const memoryMb = limits.memoryMb ?? 128;
  const dir = mkdtempSync(join(tmpdir(), "sft-code-"));
  const script = join(dir, "solution.cjs");
  writeFileSync(script, harness(solution, tests));
  try {
    return await new Promise<CodeRunResult>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          `--max-old-space-size=${memoryMb}`,
          "--experimental-permission",
          `--allow-fs-read=${script}`,
          "--no-warnings",
          script,
        ],
        { cwd: dir, env: {}, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => {
        if (out.length < OUTPUT_CAP) out += d.toString("utf8");
      });
      child.stderr.on("data", (d: Buffer) => {
        if (err.length < OUTPUT_CAP) err += d.toString("utf8");
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        const line = out.split("\n").find((l) => l.startsWith(RESULT_MARK));
        if (timedOut) {
          resolve({
            passed: 0,
            total: tests.length,
            timedOut: true,
            error: `timed out after ${timeoutMs} ms`,
          });
          return;
        }
        if (line && code === 0) {
          const r = JSON.parse(line.slice(RESULT_MARK.length)) as { passed: number; error?: string };
          resolve({ passed: r.passed, total: tests.length, timedOut: false, error: r.error });
          return;
        }
        const reason = /heap out of memory|Allocation failed/i.test(err)
          ? `exceeded the ${memoryMb} MB memory limit`
          : (/^\w*Error\b.*$/m.exec(err)?.[0] ?? err.trim().split("\n")[0] ?? "").slice(0, 500) ||
            `exited with ${signal ?? code}`;
        resolve({ passed: 0, total: tests.length, timedOut: false, error: reason });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
