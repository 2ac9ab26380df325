// Kernel selection: native by default when the addon loads, the reference kernels on
// request (SFTKIT_KERNELS=reference) or when the addon is missing, then with one warning.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { nativeAddonPath } from "../../../src/engine/kernels/native.js";

const indexModule = fileURLToPath(new URL("../../../src/engine/kernels/index.ts", import.meta.url));
const script = `
const { getKernels } = await import(${JSON.stringify(indexModule)});
const a = getKernels(); const b = getKernels();
const out = new Float32Array(1);
a.matmul(out, Float32Array.of(2), Float32Array.of(3), 1, 1, 1);
console.log(JSON.stringify({ name: a.name, same: a === b, value: out[0] }));
`;

function choose(env: Record<string, string>): { name: string; same: boolean; value: number; stderr: string } {
  const { NODE_TEST_CONTEXT: _, SFTKIT_KERNELS: __, SFTKIT_NATIVE_ADDON: ___, ...base } = process.env;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: { ...base, ...env },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return { ...JSON.parse(r.stdout.trim()), stderr: r.stderr };
}

test("a missing addon falls back to the reference kernels with one loud warning", () => {
  const r = choose({ SFTKIT_NATIVE_ADDON: "/nonexistent/sftkit_native.node" });
  assert.equal(r.name, "reference");
  assert.equal(r.same, true);
  assert.equal(r.value, 6);
  const warnings = r.stderr.split("\n").filter((l) => l.includes("native kernels unavailable"));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /\/nonexistent\/sftkit_native\.node.*correct but slow.*npm rebuild/);
});

test("SFTKIT_KERNELS=reference selects the reference kernels silently", () => {
  const r = choose({ SFTKIT_KERNELS: "reference" });
  assert.equal(r.name, "reference");
  assert.equal(r.stderr.includes("native kernels unavailable"), false);
});

test("the native kernels are chosen when the addon is built", {
  skip: existsSync(nativeAddonPath()) ? false : "native addon not built (node scripts/build-native.mjs)",
}, () => {
  const r = choose({});
  assert.equal(r.name, "native");
  assert.equal(r.value, 6);
  assert.equal(r.stderr, "");
});
