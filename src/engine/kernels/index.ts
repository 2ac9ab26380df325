/**
 * Kernel selection: the native addon when it loads (and SFTKIT_KERNELS is not "reference"),
 * otherwise the TypeScript reference kernels, announced once on stderr because training on
 * them is many times slower.
 */
import { loadNativeKernels } from "./native.js";
import { referenceKernels } from "./reference.js";
import type { Kernels } from "./types.js";

export { referenceKernels } from "./reference.js";
export type { AttentionShape, FloatArray, Kernels, MatmulOptions } from "./types.js";

let chosen: Kernels | undefined;

export function getKernels(): Kernels {
  if (chosen) return chosen;
  if (process.env.SFTKIT_KERNELS === "reference") {
    chosen = referenceKernels;
    return chosen;
  }
  try {
    chosen = loadNativeKernels();
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    process.stderr.write(
      `sftkit: WARNING: native kernels unavailable (${reason}): using TypeScript kernels — correct but slow; ` +
        "run `npm rebuild sftkit` (needs a C++ compiler, make and python3) to build them.\n",
    );
    chosen = referenceKernels;
  }
  return chosen;
}
