/**
 * A timing wrapper around a `Kernels` implementation: every call is timed (the kernels are
 * synchronous, so wall time around the call is the kernel's time) and summed per op group —
 * GEMMs by role, attention forward/backward, norms, RoPE, cross-entropy, optimizer, copies.
 * FLOPs are counted for the GEMMs (2·M·N·K) and attention (its four T×T products, causal
 * halving counted when Tq = Tk), so a step's achieved GFLOP/s can be set against the peak.
 */
import type { AttentionShape, Kernels, MatmulOptions } from "./types.js";

export interface ProfileRow {
  op: string;
  calls: number;
  ms: number;
  /** null where the op's arithmetic is not counted (elementwise ops). */
  gflop: number | null;
}

export interface KernelProfiler {
  kernels: Kernels;
  /** Forgets everything timed so far (call after warm-up). */
  reset(): void;
  /** The groups timed since the last reset, slowest first. */
  rows(): ProfileRow[];
}

export interface ProfileShape {
  /** Vocabulary size: GEMMs with a side this long are the LM head. */
  vocabSize: number;
  /** LoRA rank (0: none): GEMMs with an inner or output side this short are LoRA's. */
  loraR: number;
}

/** The group a GEMM belongs to, from its shape and transposes alone. */
export function gemmRole(
  M: number,
  N: number,
  K: number,
  o: MatmulOptions | undefined,
  s: ProfileShape,
): string {
  const tA = o?.transA ?? false;
  const tB = o?.transB ?? false;
  // forward y = x·Wᵀ (tB); input grad dx = dY·W (plain); weight grad dW = dYᵀ·X (tA)
  const role = tA ? "weight grad" : tB ? "forward" : "input grad";
  // The vocabulary sits on the output side in forward (N), the inner side in the input grad
  // (K) and the rows of the weight grad (M); the token count may equal it on the other sides.
  const lm = (tA ? M : tB ? N : K) === s.vocabSize;
  const lora = !lm && s.loraR > 0 && Math.min(M, N, K) <= s.loraR;
  return `GEMM ${lm ? "LM head" : lora ? "LoRA" : "linear"} ${role}`;
}

function attentionGflop(s: AttentionShape): number {
  // QKᵀ and P·V, 2 flops per multiply-add; a causal square mask does about half of them.
  const causalShare = s.Tq === s.Tk ? 0.5 : 1;
  return (2 * 2 * s.B * s.H * s.Tq * s.Tk * s.D * causalShare) / 1e9;
}

const GROUP: Record<string, string> = {
  matmul: "GEMM",
  matmulBf16: "GEMM",
  attentionForward: "attention forward",
  attentionBackward: "attention backward",
  rmsnormForward: "norms",
  rmsnormBackward: "norms",
  layernormForward: "norms",
  layernormBackward: "norms",
  ropeForward: "RoPE",
  ropeBackward: "RoPE",
  swigluForward: "activations",
  swigluBackward: "activations",
  geluForward: "activations",
  geluBackward: "activations",
  crossEntropyForwardBackward: "cross-entropy",
  adamw: "optimizer",
  sumSquares: "optimizer",
  biasBackward: "bias grads",
  embeddingForward: "embedding",
  embeddingBackward: "embedding",
  add: "copies/adds",
  axpy: "copies/adds",
  scale: "copies/adds",
};

export function profileKernels(inner: Kernels, shape: ProfileShape): KernelProfiler {
  let acc = new Map<string, ProfileRow>();
  const note = (op: string, ms: number, gflop: number | null) => {
    let r = acc.get(op);
    if (!r) {
      r = { op, calls: 0, ms: 0, gflop: gflop === null ? null : 0 };
      acc.set(op, r);
    }
    r.calls++;
    r.ms += ms;
    if (gflop !== null) r.gflop = (r.gflop ?? 0) + gflop;
  };
  const wrapped: Record<string, unknown> = { name: inner.name };
  for (const key of Object.keys(GROUP)) {
    const fn = (inner as unknown as Record<string, (...a: unknown[]) => unknown>)[key];
    if (typeof fn !== "function") continue;
    wrapped[key] = (...a: unknown[]) => {
      const t0 = performance.now();
      const res = fn.apply(inner, a);
      const ms = performance.now() - t0;
      if (key === "matmul" || key === "matmulBf16") {
        const [M, N, K, o] = a.slice(3) as [number, number, number, MatmulOptions | undefined];
        const role = gemmRole(M, N, K, o, shape);
        note(key === "matmulBf16" ? `${role} (bf16 base)` : role, ms, (2 * M * N * K) / 1e9);
      } else if (key === "attentionForward") {
        note(GROUP[key], ms, attentionGflop(a[5] as AttentionShape));
      } else if (key === "attentionBackward") {
        // dV, dP, dQ, dK plus the recomputed scores: 5 products against the forward's 2.
        note(GROUP[key], ms, 2.5 * attentionGflop(a[9] as AttentionShape));
      } else {
        note(GROUP[key], ms, null);
      }
      return res;
    };
  }
  // Any kernel this list does not know yet is passed through untimed, not dropped.
  for (const key of Object.keys(inner)) if (!(key in wrapped)) wrapped[key] = (inner as never)[key];
  return {
    kernels: wrapped as unknown as Kernels,
    reset: () => {
      acc = new Map();
    },
    rows: () => [...acc.values()].sort((x, y) => y.ms - x.ms),
  };
}
