// The 64-bit Arm (NEON) kernel path, tested on a machine of another architecture: the
// native sources are cross-compiled with Debian's aarch64 compiler and the stand-alone GEMM
// check (native/test/gemm_check.cc: every transpose, accumulate, bias, bf16 B and odd
// sizes against a float64 reference) runs under qemu-user, on the NEON micro-kernel and on
// the scalar fallback. Skipped, saying what to install, where the tools are missing; on an
// arm64 machine the addon's own tests (native.test.ts) cover the path directly.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../../tokenize/helpers.js";

const CXX = "aarch64-linux-gnu-g++";
const found = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const qemu = ["qemu-aarch64", "qemu-aarch64-static"].find(found);
const skip =
  arch() === "arm64"
    ? "this is an arm64 machine: native.test.ts runs the NEON path itself"
    : !found(CXX)
      ? `no ${CXX} (Debian: apt-get install g++-aarch64-linux-gnu)`
      : !qemu
        ? "no qemu-aarch64 (Debian: apt-get install qemu-user)"
        : false;

const native = join(repoRoot, "native");
const dir = mkdtempSync(join(tmpdir(), "sft-arm64-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

test("every native source compiles for aarch64", { skip }, () => {
  const sources = readdirSync(join(native, "src"))
    .filter((f) => f.endsWith(".cc"))
    .map((f) => join(native, "src", f));
  const r = run(CXX, [
    "-std=c++17",
    "-O2",
    "-fsyntax-only",
    `-I${join(repoRoot, "node_modules/node-addon-api")}`,
    `-I${join(repoRoot, "node_modules/node-api-headers/include")}`,
    "-DNAPI_VERSION=8",
    "-DNAPI_DISABLE_CPP_EXCEPTIONS",
    ...sources,
  ]);
  assert.equal(r.status, 0, r.out);
});

test("GEMM under qemu-aarch64: the NEON micro-kernel and the scalar fallback equal the float64 reference", {
  skip,
}, () => {
  const bin = join(dir, "gemm_check");
  const built = run(CXX, [
    "-std=c++17",
    "-O2",
    "-pthread",
    "-static",
    join(native, "test/gemm_check.cc"),
    ...["gemm.cc", "cpu.cc", "threadpool.cc", "blas.cc"].map((f) => join(native, "src", f)),
    "-ldl",
    "-o",
    bin,
  ]);
  assert.equal(built.status, 0, built.out);
  // three pool threads, so the threaded paths run as well (SFTKIT_BLAS=off: our kernels only)
  for (const [simd, expected] of [
    ["", "neon"],
    ["scalar", "scalar"],
  ] as const) {
    const r = run(qemu as string, [bin], { SFTKIT_BLAS: "off", SFTKIT_THREADS: "3", SFTKIT_SIMD: simd });
    assert.match(r.out, new RegExp(`^simd ${expected}\\n`), r.out);
    assert.match(r.out, /\n221 products checked, 0 failed\n/, r.out);
    assert.equal(r.status, 0, r.out);
  }
});
