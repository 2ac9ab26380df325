/**
 * The kernel interface of the engine. Two implementations exist: `reference` (plain
 * TypeScript, generic over Float32Array/Float64Array; the test oracle and the float64
 * path of finite-difference checks) and `native` (C++ AVX2/FMA, multithreaded; Float32
 * only). Models call kernels only through this interface.
 *
 * Conventions (binding for both implementations):
 * - All matrices are row-major and dense; sub-ranges are passed as typed-array views
 *   (`subarray`), never as offsets.
 * - Forward kernels overwrite their outputs.
 * - Backward kernels ACCUMULATE (+=) into every gradient output (dx, dweight, dbias…),
 *   as in llm.c, so residual branches and shared weights need no extra adds.
 * - Token-major activations: x[rows, C] where rows = B*T. Attention tensors are
 *   q[B, Tq, H, D], k/v[B, Tk, KVH, D] (grouped-query: head h reads kv head
 *   floor(h / (H / KVH))).
 */
export type FloatArray = Float32Array | Float64Array;

export interface MatmulOptions {
  /** a is stored [K, M] and used transposed. */
  transA?: boolean;
  /** b is stored [N, K] and used transposed (the layout of nn.Linear weights). */
  transB?: boolean;
  /** out += result instead of out = result. */
  accumulate?: boolean;
  /** bias[N] added once to every output row. */
  bias?: FloatArray;
}

export interface AttentionShape {
  B: number;
  /** query length per sequence */
  Tq: number;
  /** key/value length per sequence; query i sits at absolute position (Tk - Tq + i) (causal). */
  Tk: number;
  H: number;
  KVH: number;
  D: number;
  /** softmax scale, usually 1/sqrt(D) */
  scale: number;
  /**
   * Packing: segment id per key position, [B*Tk]. A query attends to key j only when
   * seg[j] equals the segment of the query's own position. Omitted: one segment per row.
   */
  segments?: Int32Array;
  /**
   * Sliding window: a query at position p sees only keys j with p - j < window (itself and
   * the window - 1 before it), as HF's sliding-window masks. Omitted or 0: no window.
   */
  window?: number;
  /** Attention-logit soft-capping (Gemma 2): scores become softcap·tanh(score/softcap). Omitted or 0: none. */
  softcap?: number;
}

export interface Kernels {
  readonly name: "native" | "reference";

  /** out[M,N] (=|+=) op(a)[M,K] · op(b)[K,N] (+ bias[N]). */
  matmul(
    out: FloatArray,
    a: FloatArray,
    b: FloatArray,
    M: number,
    N: number,
    K: number,
    opts?: MatmulOptions,
  ): void;

  /** out = x / rms(x) * weight, per row of C; saves rstd[rows]. */
  rmsnormForward(
    out: FloatArray,
    rstd: FloatArray,
    x: FloatArray,
    weight: FloatArray,
    rows: number,
    C: number,
    eps: number,
  ): void;
  rmsnormBackward(
    dx: FloatArray,
    dweight: FloatArray | null,
    dout: FloatArray,
    x: FloatArray,
    weight: FloatArray,
    rstd: FloatArray,
    rows: number,
    C: number,
  ): void;

  /** out = (x - mean) * rstd * weight + bias, per row; saves mean[rows], rstd[rows]. */
  layernormForward(
    out: FloatArray,
    mean: FloatArray,
    rstd: FloatArray,
    x: FloatArray,
    weight: FloatArray,
    bias: FloatArray,
    rows: number,
    C: number,
    eps: number,
  ): void;
  layernormBackward(
    dx: FloatArray,
    dweight: FloatArray | null,
    dbias: FloatArray | null,
    dout: FloatArray,
    x: FloatArray,
    weight: FloatArray,
    mean: FloatArray,
    rstd: FloatArray,
    rows: number,
    C: number,
  ): void;

  /**
   * Rotary embedding applied in place to x[rows, nHeads, headDim] using position[row].
   * cos/sin tables are [maxPos, headDim/2]. `interleaved`: pairs (2i, 2i+1) (Meta/GGUF);
   * otherwise HF "rotate half": pairs (i, i + headDim/2).
   */
  ropeForward(
    x: FloatArray,
    positions: Int32Array,
    rows: number,
    nHeads: number,
    headDim: number,
    cos: FloatArray,
    sin: FloatArray,
    interleaved: boolean,
  ): void;
  /** In-place inverse rotation of a gradient (the transpose of the forward rotation). */
  ropeBackward(
    dx: FloatArray,
    positions: Int32Array,
    rows: number,
    nHeads: number,
    headDim: number,
    cos: FloatArray,
    sin: FloatArray,
    interleaved: boolean,
  ): void;

  /** Causal softmax attention. out[B,Tq,H,D]; lse[B,H,Tq] (log-sum-exp per query) saved for backward. */
  attentionForward(
    out: FloatArray,
    lse: FloatArray,
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    s: AttentionShape,
  ): void;
  attentionBackward(
    dq: FloatArray,
    dk: FloatArray,
    dv: FloatArray,
    dout: FloatArray,
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    out: FloatArray,
    lse: FloatArray,
    s: AttentionShape,
  ): void;

  /** out = silu(gate) * up, elementwise over n. */
  swigluForward(out: FloatArray, gate: FloatArray, up: FloatArray, n: number): void;
  swigluBackward(
    dgate: FloatArray,
    dup: FloatArray,
    dout: FloatArray,
    gate: FloatArray,
    up: FloatArray,
    n: number,
  ): void;

  /** GELU, tanh approximation (GPT-2's gelu_new), elementwise over n. */
  geluForward(out: FloatArray, x: FloatArray, n: number): void;
  geluBackward(dx: FloatArray, dout: FloatArray, x: FloatArray, n: number): void;

  /**
   * Fused softmax cross-entropy over logits[rows, V] with targets[rows] (-100 = ignored).
   * Writes dlogits = (softmax - onehot) * gradScale for trained rows and 0 for ignored rows
   * (dlogits may alias logits). Writes per-row loss into losses (0 for ignored rows).
   * Returns the sum of losses over trained rows.
   */
  crossEntropyForwardBackward(
    dlogits: FloatArray | null,
    losses: FloatArray,
    logits: FloatArray,
    targets: Int32Array,
    rows: number,
    V: number,
    gradScale: number,
  ): number;

  /** One AdamW step (decoupled weight decay, bias-corrected with `step` >= 1) over n elements. */
  adamw(
    param: FloatArray,
    grad: FloatArray,
    m: FloatArray,
    v: FloatArray,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
  ): void;

  /** Sum of squares of x[0..n) (float64 accumulation), for gradient-norm clipping. */
  sumSquares(x: FloatArray, n: number): number;

  // ---- Mixed-precision and fused helpers. Same conventions as above. ----

  /**
   * `matmul` with b held as bfloat16 bit patterns (frozen base weights in bf16 halve memory).
   * Same layouts and options as `matmul`; b is [K, N], or [N, K] with transB.
   */
  matmulBf16(
    out: FloatArray,
    a: FloatArray,
    b: Uint16Array,
    M: number,
    N: number,
    K: number,
    opts?: MatmulOptions,
  ): void;

  /** dbias[N] += column sums of dout[rows, N] (the bias gradient of a linear layer). */
  biasBackward(dbias: FloatArray, dout: FloatArray, rows: number, N: number): void;

  /** out[r, :] = table[ids[r], :] for r < rows; table is [vocab, C]. */
  embeddingForward(out: FloatArray, table: FloatArray, ids: Int32Array, rows: number, C: number): void;
  /** dtable[ids[r], :] += dout[r, :] (ACCUMULATES; repeated ids add up). */
  embeddingBackward(dtable: FloatArray, dout: FloatArray, ids: Int32Array, rows: number, C: number): void;

  /** out = a + b elementwise over n (out may alias a or b). */
  add(out: FloatArray, a: FloatArray, b: FloatArray, n: number): void;
  /** y += alpha * x elementwise over n. */
  axpy(y: FloatArray, x: FloatArray, alpha: number, n: number): void;
  /** x *= alpha elementwise over n (e.g. gradient clipping). */
  scale(x: FloatArray, alpha: number, n: number): void;
}
