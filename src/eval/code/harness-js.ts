/**
 * The trusted prologue that runs a JavaScript solution and its tests inside the sandbox.
 *
 * Why the result cannot be forged by the solution:
 * - the verdict travels on fd 3, never on stdout, and starts with 32 random bytes the parent
 *   wrote to fd 3 and this prologue read before any solution code ran; they are not in the
 *   environment, argv, a file or this source, and they live only as raw bytes in a closure
 *   (a heap snapshot holds no typed-array contents; the inspector is denied by Node's
 *   permission model), so the solution cannot learn them;
 * - every function the verdict depends on (`fs.writeSync`, `Reflect.apply`, `Promise#then`,
 *   `Function`, `vm.runInThisContext`, the exit) and a frozen copy of `node:assert/strict`
 *   are taken before the solution runs, so patching globals, `process.exit` or `assert`
 *   changes nothing; the prologue is strict code, so `fn.caller` cannot reach it;
 * - the parent accepts exactly one record and nothing else on fd 3 (see ./verdict.ts).
 */

/** Program text: prologue + the solution and tests as string literals. */
export function jsHarness(solution: string, tests: string[]): string {
  return `"use strict";
(function () {
  const fs = require("node:fs");
  const vm = require("node:vm");
  const readSync = fs.readSync;
  const writeSync = fs.writeSync;
  const apply = Reflect.apply;
  const then = Promise.prototype.then;
  const FunctionCtor = Function;
  const stringify = JSON.stringify;
  const StringCtor = String;
  const runInThisContext = vm.runInThisContext;
  const reallyExit = typeof process.reallyExit === "function" ? process.reallyExit.bind(process) : process.exit.bind(process);
  const nonce = new Uint8Array(32);
  for (let got = 0; got < 32; ) {
    let n = 0;
    try { n = readSync(3, nonce, got, 32 - got, null); } catch (e) { if (e.code !== "EAGAIN") throw e; }
    if (n === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    got += n;
  }
  const original = require("node:assert/strict");
  const assert = function assert(...args) { return apply(original, undefined, args); };
  for (const key of Object.getOwnPropertyNames(original)) {
    if (key === "length" || key === "name" || key === "prototype") continue;
    try { assert[key] = original[key]; } catch {}
  }
  assert.strict = assert;
  Object.freeze(assert);
  const solution = ${JSON.stringify(solution)};
  const tests = ${JSON.stringify(tests)};
  const describe = (e) => {
    try { return StringCtor(e && e.message !== undefined ? e.message : e).slice(0, 500); } catch { return "(unprintable error)"; }
  };
  let passed = 0;
  let firstError = "";
  const report = () => {
    let detail = "";
    try { detail = stringify(firstError); } catch {}
    writeSync(3, nonce);
    writeSync(3, " " + passed + " " + detail + "\\n");
    reallyExit(0);
  };
  globalThis.require = require;
  globalThis.module = module;
  globalThis.exports = module.exports;
  try {
    runInThisContext(solution, { filename: "solution.js" });
  } catch (e) {
    firstError = "the solution failed: " + describe(e);
    report();
    return;
  }
  let i = 0;
  const next = () => {
    if (i >= tests.length) return report();
    const test = tests[i++];
    let promise;
    try {
      promise = apply(new FunctionCtor("assert", "return (async () => {\\n" + test + "\\n})();"), undefined, [assert]);
    } catch (e) {
      if (!firstError) firstError = describe(e);
      return next();
    }
    apply(then, promise, [
      () => { passed++; next(); },
      (e) => { if (!firstError) firstError = describe(e); next(); },
    ]);
  };
  next();
})();
`;
}
