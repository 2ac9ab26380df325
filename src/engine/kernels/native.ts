/**
 * The native kernels: the C++ addon in native/ (AVX2/FMA with a scalar fallback,
 * multithreaded), adapted to the `Kernels` interface. The addon computes in float32 only;
 * any call that receives a Float64Array is delegated to the reference kernels, so the
 * float64 finite-difference path works unchanged on either implementation.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kernels } from "./types.js";

/** Where the addon is built by `node scripts/build-native.mjs` (npm install / npm rebuild). */
export function nativeAddonPath(): string {
  // src/engine/kernels/native.ts and dist/src/engine/kernels/native.js both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "native", "build", "Release", "sftkit_native.node");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return join(
    dirname(fileURLToPath(import.meta.url)),
    "..",
    "..",
    "..",
    "native",
    "build",
    "Release",
    "sftkit_native.node",
  );
}

/** Loads the addon and returns its kernels; throws (with the reason) when it is absent or stale. */
export function loadNativeKernels(): Kernels {
  const path = nativeAddonPath();
  if (!existsSync(path)) throw new Error(`addon not built (${path} missing)`);
  const require = createRequire(import.meta.url);
  const addon = require(path) as { version(): string; matmul?: unknown };
  if (typeof addon.matmul !== "function") {
    throw new Error(`addon ${path} (${addon.version()}) is out of date: it has no kernels`);
  }
  throw new Error("native kernels not wired yet");
}
