/**
 * The reference kernels: plain TypeScript, written for clarity, generic over
 * Float32Array/Float64Array. They are the oracle the native kernels are tested against,
 * and with Float64Array inputs the path that finite-difference gradient checks run on.
 * Intermediate sums are JS numbers (float64); results are stored in the caller's arrays,
 * so a Float64Array path stays float64 end to end.
 */
import type { AttentionShape, FloatArray, Kernels, MatmulOptions } from "./types.js";

const IGNORE_INDEX = -100;

/** Fails fast on a too-short view instead of silently reading undefined (NaN). */
function checkLength(name: string, arr: { length: number }, need: number): void {
  if (arr.length < need) {
    throw new RangeError(`kernel argument ${name} has ${arr.length} elements, needs at least ${need}`);
  }
}

/**
 * out[M,N] (=|+=) op(a)·bKN (+ bias), with bKN the right operand laid out [K, N].
 * One output row at a time, summed in float64 in row-update order (the inner loop runs
 * over contiguous memory), then stored.
 */
function matmulKN(
  out: FloatArray,
  a: FloatArray,
  bKN: FloatArray,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions,
): void {
  const { transA = false, accumulate = false, bias } = opts;
  checkLength("out", out, M * N);
  checkLength("a", a, M * K);
  if (bias) checkLength("bias", bias, N);
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const aik = transA ? a[k * M + i] : a[i * K + k];
      const o = k * N;
      for (let j = 0; j < N; j++) acc[j] += aik * bKN[o + j];
    }
    for (let j = 0; j < N; j++) {
      const v = acc[j] + (bias ? bias[j] : 0);
      out[i * N + j] = accumulate ? out[i * N + j] + v : v;
    }
  }
}

const bf16Bits = new Uint32Array(1);
const bf16Value = new Float32Array(bf16Bits.buffer);
/** The float a bfloat16 bit pattern stands for (bf16 is the top half of a float32). */
export function bf16ToFloat(bits: number): number {
  bf16Bits[0] = bits << 16;
  return bf16Value[0];
}

function matmul(
  out: FloatArray,
  a: FloatArray,
  b: FloatArray,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions = {},
): void {
  checkLength("b", b, K * N);
  if (!opts.transB) {
    matmulKN(out, a, b, M, N, K, opts);
    return;
  }
  // b is [N, K]: transpose it once (exact copy in the array's own precision).
  const bKN = b instanceof Float64Array ? new Float64Array(K * N) : new Float32Array(K * N);
  for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) bKN[k * N + j] = b[j * K + k];
  matmulKN(out, a, bKN, M, N, K, opts);
}

function matmulBf16(
  out: FloatArray,
  a: FloatArray,
  b: Uint16Array,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions = {},
): void {
  checkLength("b", b, K * N);
  const bKN = new Float32Array(K * N); // every bf16 value is exact in float32
  for (let k = 0; k < K; k++)
    for (let j = 0; j < N; j++) bKN[k * N + j] = bf16ToFloat(opts.transB ? b[j * K + k] : b[k * N + j]);
  matmulKN(out, a, bKN, M, N, K, opts);
}

function rmsnormForward(
  out: FloatArray,
  rstd: FloatArray,
  x: FloatArray,
  weight: FloatArray,
  rows: number,
  C: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const s = 1 / Math.sqrt(ss / C + eps);
    rstd[r] = s;
    for (let c = 0; c < C; c++) out[o + c] = x[o + c] * s * weight[c];
  }
}

function rmsnormBackward(
  dx: FloatArray,
  dweight: FloatArray | null,
  dout: FloatArray,
  x: FloatArray,
  weight: FloatArray,
  rstd: FloatArray,
  rows: number,
  C: number,
): void {
  // y_c = w_c x_c s, s = (mean(x^2)+eps)^-1/2, ds/dx_c = -s^3 x_c / C
  // dx_c = s w_c dy_c - s^3 x_c / C * sum_j(w_j dy_j x_j)
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    const s = rstd[r];
    let dot = 0;
    for (let c = 0; c < C; c++) dot += weight[c] * dout[o + c] * x[o + c];
    const k = (s * s * s * dot) / C;
    for (let c = 0; c < C; c++) {
      dx[o + c] += s * weight[c] * dout[o + c] - k * x[o + c];
      if (dweight) dweight[c] += dout[o + c] * x[o + c] * s;
    }
  }
}

function layernormForward(
  out: FloatArray,
  mean: FloatArray,
  rstd: FloatArray,
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray,
  rows: number,
  C: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += x[o + c];
    const mu = sum / C;
    let vs = 0;
    for (let c = 0; c < C; c++) vs += (x[o + c] - mu) * (x[o + c] - mu);
    const s = 1 / Math.sqrt(vs / C + eps);
    mean[r] = mu;
    rstd[r] = s;
    for (let c = 0; c < C; c++) out[o + c] = (x[o + c] - mu) * s * weight[c] + bias[c];
  }
}

function layernormBackward(
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
): void {
  // xhat = (x-mu)s; dxhat = dy*w; dx = s (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    const mu = mean[r];
    const s = rstd[r];
    let sumD = 0;
    let sumDX = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - mu) * s;
      const dxhat = dout[o + c] * weight[c];
      sumD += dxhat;
      sumDX += dxhat * xhat;
    }
    const meanD = sumD / C;
    const meanDX = sumDX / C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - mu) * s;
      const dxhat = dout[o + c] * weight[c];
      dx[o + c] += s * (dxhat - meanD - xhat * meanDX);
      if (dweight) dweight[c] += dout[o + c] * xhat;
      if (dbias) dbias[c] += dout[o + c];
    }
  }
}

/**
 * Rotates pairs of x[rows, nHeads, headDim] by angle ±theta(pos, i).
 * direction +1: forward rotation; -1: its inverse (= transpose), used by backward.
 */
function ropeRotate(
  x: FloatArray,
  positions: Int32Array,
  rows: number,
  nHeads: number,
  headDim: number,
  cos: FloatArray,
  sin: FloatArray,
  interleaved: boolean,
  direction: 1 | -1,
): void {
  const half = headDim >> 1;
  for (let r = 0; r < rows; r++) {
    const pos = positions[r];
    const t = pos * half;
    if (t + half > cos.length || t + half > sin.length || pos < 0) {
      throw new RangeError(`rope: position ${pos} outside the cos/sin tables`);
    }
    for (let h = 0; h < nHeads; h++) {
      const base = (r * nHeads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const c = cos[t + i];
        const s = sin[t + i] * direction;
        const i0 = interleaved ? base + 2 * i : base + i;
        const i1 = interleaved ? base + 2 * i + 1 : base + i + half;
        const x0 = x[i0];
        const x1 = x[i1];
        x[i0] = x0 * c - x1 * s;
        x[i1] = x0 * s + x1 * c;
      }
    }
  }
}

/** Query i of a sequence sits at absolute key position Tk - Tq + i (decode: Tq < Tk). */
function queryAbsolutePosition(s: AttentionShape, i: number): number {
  return s.Tk - s.Tq + i;
}

function checkAttentionShape(s: AttentionShape): void {
  if (s.Tq > s.Tk) throw new RangeError(`attention: Tq (${s.Tq}) > Tk (${s.Tk})`);
  if (s.H % s.KVH !== 0) throw new RangeError(`attention: H (${s.H}) not a multiple of KVH (${s.KVH})`);
  if (s.segments && s.segments.length < s.B * s.Tk) {
    throw new RangeError(`attention: segments has ${s.segments.length} entries, needs B*Tk = ${s.B * s.Tk}`);
  }
}

/** Unnormalized scores of one query row into `scores`; returns the max over visible keys (or -Inf). */
function attentionScores(
  scores: Float64Array,
  visible: Uint8Array,
  q: FloatArray,
  k: FloatArray,
  s: AttentionShape,
  b: number,
  i: number,
  h: number,
): number {
  const { Tq, Tk, H, KVH, D, scale, segments } = s;
  const kvh = Math.floor(h / (H / KVH));
  const p = queryAbsolutePosition(s, i);
  const qo = ((b * Tq + i) * H + h) * D;
  const mySeg = segments ? segments[b * Tk + p] : 0;
  const window = s.window !== undefined && s.window > 0 ? s.window : Number.POSITIVE_INFINITY;
  const cap = s.softcap !== undefined && s.softcap > 0 ? s.softcap : 0;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < Tk; j++) {
    const ok = j <= p && p - j < window && (!segments || segments[b * Tk + j] === mySeg);
    visible[j] = ok ? 1 : 0;
    if (!ok) continue;
    const ko = ((b * Tk + j) * KVH + kvh) * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
    scores[j] = cap > 0 ? cap * Math.tanh((dot * scale) / cap) : dot * scale;
    if (scores[j] > max) max = scores[j];
  }
  return max;
}

function attentionForward(
  out: FloatArray,
  lse: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  s: AttentionShape,
): void {
  checkAttentionShape(s);
  const { B, Tq, Tk, H, KVH, D } = s;
  const scores = new Float64Array(Tk);
  const visible = new Uint8Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / KVH));
        const max = attentionScores(scores, visible, q, k, s, b, i, h);
        let sum = 0;
        for (let j = 0; j < Tk; j++) if (visible[j]) sum += Math.exp(scores[j] - max);
        const l = max + Math.log(sum);
        lse[(b * H + h) * Tq + i] = l;
        const oo = ((b * Tq + i) * H + h) * D;
        for (let d = 0; d < D; d++) out[oo + d] = 0;
        for (let j = 0; j < Tk; j++) {
          if (!visible[j]) continue;
          const pj = Math.exp(scores[j] - l);
          const vo = ((b * Tk + j) * KVH + kvh) * D;
          for (let d = 0; d < D; d++) out[oo + d] += pj * v[vo + d];
        }
      }
    }
  }
}

function attentionBackward(
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
): void {
  checkAttentionShape(s);
  const { B, Tq, Tk, H, KVH, D, scale } = s;
  const cap = s.softcap !== undefined && s.softcap > 0 ? s.softcap : 0;
  const scores = new Float64Array(Tk);
  const visible = new Uint8Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / KVH));
        attentionScores(scores, visible, q, k, s, b, i, h);
        const l = lse[(b * H + h) * Tq + i];
        const qo = ((b * Tq + i) * H + h) * D;
        // delta = sum_j p_j (dout . v_j) = dout . out
        let delta = 0;
        for (let d = 0; d < D; d++) delta += dout[qo + d] * out[qo + d];
        for (let j = 0; j < Tk; j++) {
          if (!visible[j]) continue;
          const pj = Math.exp(scores[j] - l);
          const kvo = ((b * Tk + j) * KVH + kvh) * D;
          let dp = 0;
          for (let d = 0; d < D; d++) dp += dout[qo + d] * v[kvo + d];
          // Soft-capping: d cap·tanh(x/cap)/dx = 1 - tanh² = 1 - (score/cap)².
          const capGrad = cap > 0 ? 1 - (scores[j] / cap) ** 2 : 1;
          const ds = pj * (dp - delta) * scale * capGrad;
          for (let d = 0; d < D; d++) {
            dv[kvo + d] += pj * dout[qo + d];
            dq[qo + d] += ds * k[kvo + d];
            dk[kvo + d] += ds * q[qo + d];
          }
        }
      }
    }
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function swigluForward(out: FloatArray, gate: FloatArray, up: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = g * sigmoid(g) * up[i];
  }
}

function swigluBackward(
  dgate: FloatArray,
  dup: FloatArray,
  dout: FloatArray,
  gate: FloatArray,
  up: FloatArray,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const sg = sigmoid(g);
    const silu = g * sg;
    const dsilu = sg * (1 + g * (1 - sg));
    dgate[i] += dout[i] * up[i] * dsilu;
    dup[i] += dout[i] * silu;
  }
}

const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

function geluForward(out: FloatArray, x: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    out[i] = 0.5 * xi * (1 + Math.tanh(GELU_K * (xi + GELU_C * xi * xi * xi)));
  }
}

function geluBackward(dx: FloatArray, dout: FloatArray, x: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const t = Math.tanh(GELU_K * (xi + GELU_C * xi * xi * xi));
    const dinner = GELU_K * (1 + 3 * GELU_C * xi * xi);
    dx[i] += dout[i] * (0.5 * (1 + t) + 0.5 * xi * (1 - t * t) * dinner);
  }
}

function crossEntropyForwardBackward(
  dlogits: FloatArray | null,
  losses: FloatArray,
  logits: FloatArray,
  targets: Int32Array,
  rows: number,
  V: number,
  gradScale: number,
): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    const t = targets[r];
    if (t === IGNORE_INDEX) {
      losses[r] = 0;
      if (dlogits) for (let c = 0; c < V; c++) dlogits[o + c] = 0;
      continue;
    }
    if (t < 0 || t >= V) throw new RangeError(`cross-entropy: target ${t} at row ${r} outside [0, ${V})`);
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < V; c++) if (logits[o + c] > max) max = logits[o + c];
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits[o + c] - max);
    const lse = max + Math.log(sum);
    const loss = lse - logits[o + t];
    losses[r] = loss;
    total += loss;
    if (dlogits) {
      // Reads logits[o+c] before writing dlogits[o+c], so the two may alias.
      for (let c = 0; c < V; c++) {
        const p = Math.exp(logits[o + c] - lse);
        dlogits[o + c] = (p - (c === t ? 1 : 0)) * gradScale;
      }
    }
  }
  return total;
}

function adamw(
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
): void {
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const mhat = m[i] / bc1;
    const vhat = v[i] / bc2;
    param[i] -= lr * (mhat / (Math.sqrt(vhat) + eps) + weightDecay * param[i]);
  }
}

function sumSquares(x: FloatArray, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

function biasBackward(dbias: FloatArray, dout: FloatArray, rows: number, N: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < N; c++) dbias[c] += dout[r * N + c];
}

function checkId(id: number, table: { length: number }, C: number, r: number): void {
  if (id < 0 || (id + 1) * C > table.length) {
    throw new RangeError(`embedding: id ${id} at row ${r} outside the table (${table.length / C} rows)`);
  }
}

function embeddingForward(
  out: FloatArray,
  table: FloatArray,
  ids: Int32Array,
  rows: number,
  C: number,
): void {
  for (let r = 0; r < rows; r++) {
    const id = ids[r];
    checkId(id, table, C, r);
    for (let c = 0; c < C; c++) out[r * C + c] = table[id * C + c];
  }
}

function embeddingBackward(
  dtable: FloatArray,
  dout: FloatArray,
  ids: Int32Array,
  rows: number,
  C: number,
): void {
  for (let r = 0; r < rows; r++) {
    const id = ids[r];
    checkId(id, dtable, C, r);
    for (let c = 0; c < C; c++) dtable[id * C + c] += dout[r * C + c];
  }
}

function add(out: FloatArray, a: FloatArray, b: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

function axpy(y: FloatArray, x: FloatArray, alpha: number, n: number): void {
  for (let i = 0; i < n; i++) y[i] += alpha * x[i];
}

function scale(x: FloatArray, alpha: number, n: number): void {
  for (let i = 0; i < n; i++) x[i] *= alpha;
}

export const referenceKernels: Kernels = {
  name: "reference",
  matmul,
  matmulBf16,
  rmsnormForward,
  rmsnormBackward,
  layernormForward,
  layernormBackward,
  ropeForward: (x, positions, rows, nHeads, headDim, cos, sin, interleaved) =>
    ropeRotate(x, positions, rows, nHeads, headDim, cos, sin, interleaved, 1),
  ropeBackward: (dx, positions, rows, nHeads, headDim, cos, sin, interleaved) =>
    ropeRotate(dx, positions, rows, nHeads, headDim, cos, sin, interleaved, -1),
  attentionForward,
  attentionBackward,
  swigluForward,
  swigluBackward,
  geluForward,
  geluBackward,
  crossEntropyForwardBackward,
  adamw,
  sumSquares,
  biasBackward,
  embeddingForward,
  embeddingBackward,
  add,
  axpy,
  scale,
};
