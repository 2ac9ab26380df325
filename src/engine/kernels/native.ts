/**
 * The native kernels: the C++ addon in native/ (AVX2/FMA or AVX-512 chosen at run time,
 * a scalar fallback, a persistent thread pool), adapted to the `Kernels` interface. Typed
 * arrays go to C++ as they are (no copies); the addon checks every length against the shape.
 * The addon computes in float32 only: a call that receives any Float64Array is delegated to
 * the reference kernels, so float64 finite-difference checks work on either implementation.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { referenceKernels as ref } from "./reference.js";
import type { AttentionShape, FloatArray, Kernels, MatmulOptions } from "./types.js";

type F32 = Float32Array;

/** What the addon reports about itself: SIMD level, pool size, and the system BLAS in use. */
interface NativeAddonInfo {
  simd: string;
  threads: number;
  /** File of the system BLAS the GEMM uses for large shapes, or null. */
  blas: string | null;
  /** SFTKIT_BLAS policy in effect: "auto", "force" or "off". */
  blasMode: string;
  /** Why no BLAS is used (null when one is). */
  blasMissing: string | null;
}

/** The addon's raw surface (see native/src/addon.cc, ops.cc, attention.cc). */
interface NativeAddon {
  version(): string;
  info(): NativeAddonInfo;
  peakGflops(seconds: number, rounds: number): number;
  matmul(
    out: F32,
    a: F32,
    b: F32,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
    bias: F32 | null,
  ): void;
  matmulBf16(
    out: F32,
    a: F32,
    b: Uint16Array,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
    bias: F32 | null,
  ): void;
  rmsnormForward(out: F32, rstd: F32, x: F32, w: F32, rows: number, C: number, eps: number): void;
  rmsnormBackward(
    dx: F32,
    dw: F32 | null,
    dout: F32,
    x: F32,
    w: F32,
    rstd: F32,
    rows: number,
    C: number,
  ): void;
  layernormForward(
    out: F32,
    mean: F32,
    rstd: F32,
    x: F32,
    w: F32,
    b: F32,
    rows: number,
    C: number,
    eps: number,
  ): void;
  layernormBackward(
    dx: F32,
    dw: F32 | null,
    db: F32 | null,
    dout: F32,
    x: F32,
    w: F32,
    mean: F32,
    rstd: F32,
    rows: number,
    C: number,
  ): void;
  rope(
    x: F32,
    positions: Int32Array,
    rows: number,
    nHeads: number,
    headDim: number,
    cos: F32,
    sin: F32,
    interleaved: boolean,
    direction: number,
  ): void;
  attentionForward(out: F32, lse: F32, q: F32, k: F32, v: F32, s: AttentionShape): void;
  attentionBackward(
    dq: F32,
    dk: F32,
    dv: F32,
    dout: F32,
    q: F32,
    k: F32,
    v: F32,
    out: F32,
    lse: F32,
    s: AttentionShape,
  ): void;
  swigluForward(out: F32, gate: F32, up: F32, n: number): void;
  swigluBackward(dgate: F32, dup: F32, dout: F32, gate: F32, up: F32, n: number): void;
  geluForward(out: F32, x: F32, n: number): void;
  geluBackward(dx: F32, dout: F32, x: F32, n: number): void;
  crossEntropy(
    dlogits: F32 | null,
    losses: F32,
    logits: F32,
    targets: Int32Array,
    rows: number,
    V: number,
    gradScale: number,
  ): number;
  adamw(
    p: F32,
    g: F32,
    m: F32,
    v: F32,
    n: number,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    wd: number,
    step: number,
  ): void;
  sumSquares(x: F32, n: number): number;
  biasBackward(dbias: F32, dout: F32, rows: number, N: number): void;
  embeddingForward(out: F32, table: F32, ids: Int32Array, rows: number, C: number): void;
  embeddingBackward(dtable: F32, dout: F32, ids: Int32Array, rows: number, C: number): void;
  add(out: F32, a: F32, b: F32, n: number): void;
  axpy(y: F32, x: F32, alpha: number, n: number): void;
  scale(x: F32, alpha: number, n: number): void;
}

/**
 * Where `node scripts/build-native.mjs` (run by npm install / npm rebuild) puts the addon;
 * SFTKIT_NATIVE_ADDON overrides it (an addon built elsewhere, or a test of the fallback).
 */
export function nativeAddonPath(): string {
  if (process.env.SFTKIT_NATIVE_ADDON) return process.env.SFTKIT_NATIVE_ADDON;
  // From src/engine/kernels (tsx) or dist/src/engine/kernels (built) up to the package root.
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "native", "build", "Release", "sftkit_native.node");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return join(here, "..", "..", "..", "native", "build", "Release", "sftkit_native.node");
}

let addonCache: NativeAddon | undefined;

/** Loads the addon; throws with the reason when it is absent or older than this code. */
export function loadNativeAddon(): NativeAddon {
  if (addonCache) return addonCache;
  const path = nativeAddonPath();
  if (!existsSync(path)) throw new Error(`addon not built: ${path} is missing`);
  const require = createRequire(import.meta.url);
  const addon = require(path) as Partial<NativeAddon> & { version(): string };
  for (const fn of ["matmul", "attentionBackward", "crossEntropy", "scale"] as const) {
    if (typeof addon[fn] !== "function") {
      throw new Error(`addon ${path} (${addon.version()}) is out of date: it lacks ${fn}`);
    }
  }
  addonCache = addon as NativeAddon;
  return addonCache;
}

type Maybe = FloatArray | null | undefined;
const ok32 = (x: Maybe): boolean => !x || x instanceof Float32Array;
/** True when every given array is float32 (fixed parameters: no array allocated per call). */
function f32(
  a: Maybe,
  b?: Maybe,
  c?: Maybe,
  d?: Maybe,
  e?: Maybe,
  f?: Maybe,
  g?: Maybe,
  h?: Maybe,
  i?: Maybe,
) {
  return ok32(a) && ok32(b) && ok32(c) && ok32(d) && ok32(e) && ok32(f) && ok32(g) && ok32(h) && ok32(i);
}

/** Builds the `Kernels` object over a loaded addon. */
export function makeNativeKernels(n: NativeAddon): Kernels {
  return {
    name: "native",
    matmul(out, a, b, M, N, K, opts?: MatmulOptions) {
      const bias = opts?.bias ?? null;
      if (!f32(out, a, b, bias)) return ref.matmul(out, a, b, M, N, K, opts);
      n.matmul(
        out as F32,
        a as F32,
        b as F32,
        M,
        N,
        K,
        opts?.transA === true,
        opts?.transB === true,
        opts?.accumulate === true,
        bias as F32 | null,
      );
    },
    matmulBf16(out, a, b, M, N, K, opts?: MatmulOptions) {
      const bias = opts?.bias ?? null;
      if (!f32(out, a, bias)) return ref.matmulBf16(out, a, b, M, N, K, opts);
      n.matmulBf16(
        out as F32,
        a as F32,
        b,
        M,
        N,
        K,
        opts?.transA === true,
        opts?.transB === true,
        opts?.accumulate === true,
        bias as F32 | null,
      );
    },
    rmsnormForward(out, rstd, x, weight, rows, C, eps) {
      if (!f32(out, rstd, x, weight)) return ref.rmsnormForward(out, rstd, x, weight, rows, C, eps);
      n.rmsnormForward(out as F32, rstd as F32, x as F32, weight as F32, rows, C, eps);
    },
    rmsnormBackward(dx, dweight, dout, x, weight, rstd, rows, C) {
      if (!f32(dx, dweight, dout, x, weight, rstd))
        return ref.rmsnormBackward(dx, dweight, dout, x, weight, rstd, rows, C);
      n.rmsnormBackward(
        dx as F32,
        dweight as F32 | null,
        dout as F32,
        x as F32,
        weight as F32,
        rstd as F32,
        rows,
        C,
      );
    },
    layernormForward(out, mean, rstd, x, weight, bias, rows, C, eps) {
      if (!f32(out, mean, rstd, x, weight, bias))
        return ref.layernormForward(out, mean, rstd, x, weight, bias, rows, C, eps);
      n.layernormForward(
        out as F32,
        mean as F32,
        rstd as F32,
        x as F32,
        weight as F32,
        bias as F32,
        rows,
        C,
        eps,
      );
    },
    layernormBackward(dx, dweight, dbias, dout, x, weight, mean, rstd, rows, C) {
      if (!f32(dx, dweight, dbias, dout, x, weight, mean, rstd))
        return ref.layernormBackward(dx, dweight, dbias, dout, x, weight, mean, rstd, rows, C);
      n.layernormBackward(
        dx as F32,
        dweight as F32 | null,
        dbias as F32 | null,
        dout as F32,
        x as F32,
        weight as F32,
        mean as F32,
        rstd as F32,
        rows,
        C,
      );
    },
    ropeForward(x, positions, rows, nHeads, headDim, cos, sin, interleaved) {
      if (!f32(x, cos, sin))
        return ref.ropeForward(x, positions, rows, nHeads, headDim, cos, sin, interleaved);
      n.rope(x as F32, positions, rows, nHeads, headDim, cos as F32, sin as F32, interleaved, 1);
    },
    ropeBackward(dx, positions, rows, nHeads, headDim, cos, sin, interleaved) {
      if (!f32(dx, cos, sin))
        return ref.ropeBackward(dx, positions, rows, nHeads, headDim, cos, sin, interleaved);
      n.rope(dx as F32, positions, rows, nHeads, headDim, cos as F32, sin as F32, interleaved, -1);
    },
    attentionForward(out, lse, q, k, v, s) {
      if (!f32(out, lse, q, k, v)) return ref.attentionForward(out, lse, q, k, v, s);
      n.attentionForward(out as F32, lse as F32, q as F32, k as F32, v as F32, s);
    },
    attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s) {
      if (!f32(dq, dk, dv, dout, q, k, v, out, lse))
        return ref.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s);
      n.attentionBackward(
        dq as F32,
        dk as F32,
        dv as F32,
        dout as F32,
        q as F32,
        k as F32,
        v as F32,
        out as F32,
        lse as F32,
        s,
      );
    },
    swigluForward(out, gate, up, count) {
      if (!f32(out, gate, up)) return ref.swigluForward(out, gate, up, count);
      n.swigluForward(out as F32, gate as F32, up as F32, count);
    },
    swigluBackward(dgate, dup, dout, gate, up, count) {
      if (!f32(dgate, dup, dout, gate, up)) return ref.swigluBackward(dgate, dup, dout, gate, up, count);
      n.swigluBackward(dgate as F32, dup as F32, dout as F32, gate as F32, up as F32, count);
    },
    geluForward(out, x, count) {
      if (!f32(out, x)) return ref.geluForward(out, x, count);
      n.geluForward(out as F32, x as F32, count);
    },
    geluBackward(dx, dout, x, count) {
      if (!f32(dx, dout, x)) return ref.geluBackward(dx, dout, x, count);
      n.geluBackward(dx as F32, dout as F32, x as F32, count);
    },
    crossEntropyForwardBackward(dlogits, losses, logits, targets, rows, V, gradScale) {
      if (!f32(dlogits, losses, logits))
        return ref.crossEntropyForwardBackward(dlogits, losses, logits, targets, rows, V, gradScale);
      return n.crossEntropy(dlogits as F32 | null, losses as F32, logits as F32, targets, rows, V, gradScale);
    },
    adamw(param, grad, m, v, count, lr, beta1, beta2, eps, weightDecay, step) {
      if (!f32(param, grad, m, v))
        return ref.adamw(param, grad, m, v, count, lr, beta1, beta2, eps, weightDecay, step);
      n.adamw(param as F32, grad as F32, m as F32, v as F32, count, lr, beta1, beta2, eps, weightDecay, step);
    },
    sumSquares(x, count) {
      if (!f32(x)) return ref.sumSquares(x, count);
      return n.sumSquares(x as F32, count);
    },
    biasBackward(dbias, dout, rows, N) {
      if (!f32(dbias, dout)) return ref.biasBackward(dbias, dout, rows, N);
      n.biasBackward(dbias as F32, dout as F32, rows, N);
    },
    embeddingForward(out, table, ids, rows, C) {
      if (!f32(out, table)) return ref.embeddingForward(out, table, ids, rows, C);
      n.embeddingForward(out as F32, table as F32, ids, rows, C);
    },
    embeddingBackward(dtable, dout, ids, rows, C) {
      if (!f32(dtable, dout)) return ref.embeddingBackward(dtable, dout, ids, rows, C);
      n.embeddingBackward(dtable as F32, dout as F32, ids, rows, C);
    },
    add(out, a, b, count) {
      if (!f32(out, a, b)) return ref.add(out, a, b, count);
      n.add(out as F32, a as F32, b as F32, count);
    },
    axpy(y, x, alpha, count) {
      if (!f32(y, x)) return ref.axpy(y, x, alpha, count);
      n.axpy(y as F32, x as F32, alpha, count);
    },
    scale(x, alpha, count) {
      if (!f32(x)) return ref.scale(x, alpha, count);
      n.scale(x as F32, alpha, count);
    },
  };
}

/** The native kernels; throws (with the reason) when the addon cannot be loaded. */
export function loadNativeKernels(): Kernels {
  return makeNativeKernels(loadNativeAddon());
}

/** SIMD level, thread count and system BLAS the addon runs with (for logs and benchmarks). */
export function nativeInfo(): NativeAddonInfo & { version: string } {
  const addon = loadNativeAddon();
  return { ...addon.info(), version: addon.version() };
}

/**
 * The machine's measured fp32 FMA peak in GFLOP/s (all pool threads, the SIMD level in use),
 * best of `rounds` runs of about `seconds` each; undefined when the addon predates the kernel.
 */
export function nativePeakGflops(seconds = 0.1, rounds = 3): number | undefined {
  const addon = loadNativeAddon();
  return typeof addon.peakGflops === "function" ? addon.peakGflops(seconds, rounds) : undefined;
}
