// Row-wise and elementwise kernels. Each body is plain C++ written so the compiler can
// vectorize it (fixed-width partial sums instead of serial reductions, branch-free exp), and
// is compiled twice (AVX2/FMA and baseline) by SFT_DISPATCH_FN. Large calls are split over
// the thread pool by rows or by contiguous chunks; small ones stay on the calling thread.
#include "ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "args.h"
#include "common.h"
#include "threadpool.h"

namespace sft {
namespace {

/** Work (elements touched) below which a call stays on one thread. */
constexpr long kParallelMinWork = 1 << 15;

template <class F>
void parallel_chunks(long n, long work_per_item, long align, F&& f) {
  const int nt = pool_threads();
  if (nt == 1 || n * work_per_item < kParallelMinWork || n < 2) {
    f(0L, n);
    return;
  }
  int parts = static_cast<int>(std::min<long>(nt, (n + align - 1) / align));
  parallel_for(parts, [&](int t) {
    long b, e;
    chunk_range(n, parts, t, align, &b, &e);
    if (b < e) f(b, e);
  });
}

SFT_INLINE float sum_squares_f(const float* x, long n) {
  float part[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; l++) part[l] += x[i + l] * x[i + l];
  float s = 0;
  for (int l = 0; l < 16; l++) s += part[l];
  for (; i < n; i++) s += x[i] * x[i];
  return s;
}

}  // namespace

// ---------------------------------------------------------------- RMSNorm / LayerNorm

SFT_DISPATCH_FN(rmsnorm_fwd_rows,
                (float* out, float* rstd, const float* x, const float* w, long r0, long r1, long C, float eps),
                (out, rstd, x, w, r0, r1, C, eps), {
                  for (long r = r0; r < r1; r++) {
                    const float* xr = x + r * C;
                    float* o = out + r * C;
                    float s = 1.0f / std::sqrt(sum_squares_f(xr, C) / C + eps);
                    rstd[r] = s;
                    for (long c = 0; c < C; c++) o[c] = xr[c] * s * w[c];
                  }
                })

SFT_DISPATCH_FN(rmsnorm_bwd_rows,
                (float* dx, float* dw, const float* dout, const float* x, const float* w, const float* rstd,
                 long r0, long r1, long C),
                (dx, dw, dout, x, w, rstd, r0, r1, C), {
                  for (long r = r0; r < r1; r++) {
                    const float* xr = x + r * C;
                    const float* g = dout + r * C;
                    float* d = dx + r * C;
                    const float s = rstd[r];
                    float part[16] = {0};
                    long c = 0;
                    for (; c + 16 <= C; c += 16)
                      for (int l = 0; l < 16; l++) part[l] += w[c + l] * g[c + l] * xr[c + l];
                    float dot = 0;
                    for (int l = 0; l < 16; l++) dot += part[l];
                    for (; c < C; c++) dot += w[c] * g[c] * xr[c];
                    const float k = s * s * s * dot / C;
                    for (c = 0; c < C; c++) d[c] += s * w[c] * g[c] - k * xr[c];
                    if (dw)
                      for (c = 0; c < C; c++) dw[c] += g[c] * xr[c] * s;
                  }
                })

SFT_DISPATCH_FN(layernorm_fwd_rows,
                (float* out, float* mean, float* rstd, const float* x, const float* w, const float* b, long r0,
                 long r1, long C, float eps),
                (out, mean, rstd, x, w, b, r0, r1, C, eps), {
                  for (long r = r0; r < r1; r++) {
                    const float* xr = x + r * C;
                    float* o = out + r * C;
                    float part[16] = {0};
                    long c = 0;
                    for (; c + 16 <= C; c += 16)
                      for (int l = 0; l < 16; l++) part[l] += xr[c + l];
                    float sum = 0;
                    for (int l = 0; l < 16; l++) sum += part[l];
                    for (; c < C; c++) sum += xr[c];
                    const float mu = sum / C;
                    float vpart[16] = {0};
                    for (c = 0; c + 16 <= C; c += 16)
                      for (int l = 0; l < 16; l++) vpart[l] += (xr[c + l] - mu) * (xr[c + l] - mu);
                    float vs = 0;
                    for (int l = 0; l < 16; l++) vs += vpart[l];
                    for (; c < C; c++) vs += (xr[c] - mu) * (xr[c] - mu);
                    const float s = 1.0f / std::sqrt(vs / C + eps);
                    mean[r] = mu;
                    rstd[r] = s;
                    for (c = 0; c < C; c++) o[c] = (xr[c] - mu) * s * w[c] + b[c];
                  }
                })

SFT_DISPATCH_FN(layernorm_bwd_rows,
                (float* dx, float* dw, float* db, const float* dout, const float* x, const float* w,
                 const float* mean, const float* rstd, long r0, long r1, long C),
                (dx, dw, db, dout, x, w, mean, rstd, r0, r1, C), {
                  for (long r = r0; r < r1; r++) {
                    const float* xr = x + r * C;
                    const float* g = dout + r * C;
                    float* d = dx + r * C;
                    const float mu = mean[r], s = rstd[r];
                    float pd[16] = {0}, pdx[16] = {0};
                    long c = 0;
                    for (; c + 16 <= C; c += 16)
                      for (int l = 0; l < 16; l++) {
                        float dxh = g[c + l] * w[c + l];
                        pd[l] += dxh;
                        pdx[l] += dxh * (xr[c + l] - mu) * s;
                      }
                    float sumD = 0, sumDX = 0;
                    for (int l = 0; l < 16; l++) {
                      sumD += pd[l];
                      sumDX += pdx[l];
                    }
                    for (; c < C; c++) {
                      float dxh = g[c] * w[c];
                      sumD += dxh;
                      sumDX += dxh * (xr[c] - mu) * s;
                    }
                    const float meanD = sumD / C, meanDX = sumDX / C;
                    for (c = 0; c < C; c++) {
                      float xh = (xr[c] - mu) * s;
                      d[c] += s * (g[c] * w[c] - meanD - xh * meanDX);
                    }
                    if (dw)
                      for (c = 0; c < C; c++) dw[c] += g[c] * (xr[c] - mu) * s;
                    if (db)
                      for (c = 0; c < C; c++) db[c] += g[c];
                  }
                })

// ---------------------------------------------------------------- RoPE

SFT_DISPATCH_FN(rope_rows,
                (float* x, const int32_t* pos, long r0, long r1, long nHeads, long headDim, const float* cosT,
                 const float* sinT, bool interleaved, float dir),
                (x, pos, r0, r1, nHeads, headDim, cosT, sinT, interleaved, dir), {
                  const long half = headDim / 2;
                  for (long r = r0; r < r1; r++) {
                    const float* cs = cosT + static_cast<long>(pos[r]) * half;
                    const float* sn = sinT + static_cast<long>(pos[r]) * half;
                    for (long h = 0; h < nHeads; h++) {
                      float* xb = x + (r * nHeads + h) * headDim;
                      if (interleaved) {
                        for (long i = 0; i < half; i++) {
                          float c = cs[i], s = sn[i] * dir;
                          float x0 = xb[2 * i], x1 = xb[2 * i + 1];
                          xb[2 * i] = x0 * c - x1 * s;
                          xb[2 * i + 1] = x0 * s + x1 * c;
                        }
                      } else {
                        for (long i = 0; i < half; i++) {
                          float c = cs[i], s = sn[i] * dir;
                          float x0 = xb[i], x1 = xb[i + half];
                          xb[i] = x0 * c - x1 * s;
                          xb[i + half] = x0 * s + x1 * c;
                        }
                      }
                    }
                  }
                })

// ---------------------------------------------------------------- activations

SFT_DISPATCH_FN(swiglu_fwd, (float* out, const float* g, const float* u, long b, long e), (out, g, u, b, e), {
  for (long i = b; i < e; i++) {
    float sg = 1.0f / (1.0f + fast_expf(-g[i]));
    out[i] = g[i] * sg * u[i];
  }
})

SFT_DISPATCH_FN(swiglu_bwd,
                (float* dg, float* du, const float* dout, const float* g, const float* u, long b, long e),
                (dg, du, dout, g, u, b, e), {
                  for (long i = b; i < e; i++) {
                    float gi = g[i];
                    float sg = 1.0f / (1.0f + fast_expf(-gi));
                    dg[i] += dout[i] * u[i] * (sg * (1.0f + gi * (1.0f - sg)));
                    du[i] += dout[i] * gi * sg;
                  }
                })

namespace {
constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluC = 0.044715f;
/** tanh through exp (branch-free, vectorizable): tanh(y) = 1 - 2 / (exp(2y) + 1). */
SFT_INLINE float tanh_f(float y) { return 1.0f - 2.0f / (fast_expf(2.0f * y) + 1.0f); }
}  // namespace

SFT_DISPATCH_FN(gelu_fwd, (float* out, const float* x, long b, long e), (out, x, b, e), {
  for (long i = b; i < e; i++) {
    float xi = x[i];
    out[i] = 0.5f * xi * (1.0f + tanh_f(kGeluK * (xi + kGeluC * xi * xi * xi)));
  }
})

SFT_DISPATCH_FN(gelu_bwd, (float* dx, const float* dout, const float* x, long b, long e), (dx, dout, x, b, e), {
  for (long i = b; i < e; i++) {
    float xi = x[i];
    float t = tanh_f(kGeluK * (xi + kGeluC * xi * xi * xi));
    float dinner = kGeluK * (1.0f + 3.0f * kGeluC * xi * xi);
    dx[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * xi * (1.0f - t * t) * dinner);
  }
})

// ---------------------------------------------------------------- cross-entropy

SFT_DISPATCH_FN(ce_rows,
                (float* dlogits, float* losses, const float* logits, const int32_t* targets, long r0, long r1,
                 long V, float gradScale),
                (dlogits, losses, logits, targets, r0, r1, V, gradScale), {
                  for (long r = r0; r < r1; r++) {
                    const float* x = logits + r * V;
                    const int32_t t = targets[r];
                    if (t == -100) {
                      losses[r] = 0.0f;
                      if (dlogits) std::memset(dlogits + r * V, 0, sizeof(float) * V);
                      continue;
                    }
                    float pm[16];
                    for (int l = 0; l < 16; l++) pm[l] = -__builtin_inff();
                    long c = 0;
                    for (; c + 16 <= V; c += 16)
                      for (int l = 0; l < 16; l++) pm[l] = x[c + l] > pm[l] ? x[c + l] : pm[l];
                    float mx = -__builtin_inff();
                    for (int l = 0; l < 16; l++) mx = pm[l] > mx ? pm[l] : mx;
                    for (; c < V; c++) mx = x[c] > mx ? x[c] : mx;
                    const float xt = x[t];  // read before dlogits (which may alias x) is written
                    float ps[16] = {0};
                    float sum = 0;
                    if (dlogits) {
                      // exp once: keep exp(x - max) in dlogits, then normalize and scale in place.
                      float* d = dlogits + r * V;
                      for (c = 0; c < V; c++) d[c] = fast_expf(x[c] - mx);
                      for (c = 0; c + 16 <= V; c += 16)
                        for (int l = 0; l < 16; l++) ps[l] += d[c + l];
                      for (int l = 0; l < 16; l++) sum += ps[l];
                      for (; c < V; c++) sum += d[c];
                      const float k = gradScale / sum;
                      for (c = 0; c < V; c++) d[c] *= k;
                      d[t] -= gradScale;
                    } else {
                      for (c = 0; c + 16 <= V; c += 16)
                        for (int l = 0; l < 16; l++) ps[l] += fast_expf(x[c + l] - mx);
                      for (int l = 0; l < 16; l++) sum += ps[l];
                      for (; c < V; c++) sum += fast_expf(x[c] - mx);
                    }
                    losses[r] = mx + std::log(sum) - xt;
                  }
                })

// ---------------------------------------------------------------- optimizer and helpers

SFT_DISPATCH_FN(adamw_range,
                (float* p, const float* g, float* m, float* v, long b, long e, float lr, float b1, float b2,
                 float eps, float wd, float ibc1, float ibc2),
                (p, g, m, v, b, e, lr, b1, b2, eps, wd, ibc1, ibc2), {
                  for (long i = b; i < e; i++) {
                    float gi = g[i];
                    float mi = b1 * m[i] + (1.0f - b1) * gi;
                    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
                    m[i] = mi;
                    v[i] = vi;
                    float mhat = mi * ibc1, vhat = vi * ibc2;
                    p[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * p[i]);
                  }
                })

SFT_DISPATCH_FN(sumsq_range, (const float* x, long b, long e, double* out), (x, b, e, out), {
  double total = 0;
  for (long i = b; i < e; i += 4096) {
    long n = std::min<long>(4096, e - i);
    total += sum_squares_f(x + i, n);
  }
  *out = total;
})

SFT_DISPATCH_FN(colsum_range, (float* db, const float* dout, long rows, long N, long c0, long c1),
                (db, dout, rows, N, c0, c1), {
                  for (long r = 0; r < rows; r++) {
                    const float* g = dout + r * N;
                    for (long c = c0; c < c1; c++) db[c] += g[c];
                  }
                })

SFT_DISPATCH_FN(add_range, (float* out, const float* a, const float* b, long s, long e), (out, a, b, s, e), {
  for (long i = s; i < e; i++) out[i] = a[i] + b[i];
})
SFT_DISPATCH_FN(axpy_range, (float* y, const float* x, float alpha, long s, long e), (y, x, alpha, s, e), {
  for (long i = s; i < e; i++) y[i] += alpha * x[i];
})
SFT_DISPATCH_FN(scale_range, (float* x, float alpha, long s, long e), (x, alpha, s, e), {
  for (long i = s; i < e; i++) x[i] *= alpha;
})

SFT_DISPATCH_FN(embed_bwd_cols,
                (float* dtable, const float* dout, const int32_t* ids, long rows, long C, long c0, long c1),
                (dtable, dout, ids, rows, C, c0, c1), {
                  for (long r = 0; r < rows; r++) {
                    float* d = dtable + static_cast<long>(ids[r]) * C;
                    const float* g = dout + r * C;
                    for (long c = c0; c < c1; c++) d[c] += g[c];
                  }
                })

// ---------------------------------------------------------------- bindings

namespace {

Napi::Value Undef(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

/** Per-thread partial gradient rows for weights shared by all rows (dweight, dbias). */
struct Partials {
  std::vector<float> buf;
  float* part(int t, long C) { return buf.data() + t * C; }
  void reset(int parts, long C) { buf.assign(static_cast<size_t>(parts) * C, 0.0f); }
  void reduce_into(float* dst, int parts, long C) {
    for (int t = 0; t < parts; t++)
      for (long c = 0; c < C; c++) dst[c] += buf[t * C + c];
  }
};

/** Runs f(r0, r1, t) over row chunks; t indexes the chunk (for partial gradients). */
template <class F>
int split_rows(long rows, long C, F&& f) {
  const int nt = pool_threads();
  if (nt == 1 || rows * C < kParallelMinWork || rows < 2) {
    f(0L, rows, 0);
    return 1;
  }
  int parts = static_cast<int>(std::min<long>(nt, rows));
  parallel_for(parts, [&](int t) {
    long b, e;
    chunk_range(rows, parts, t, 1, &b, &e);
    if (b < e) f(b, e, t);
  });
  return parts;
}

int planned_parts(long rows, long C) {
  const int nt = pool_threads();
  if (nt == 1 || rows * C < kParallelMinWork || rows < 2) return 1;
  return static_cast<int>(std::min<long>(nt, rows));
}

Napi::Value RmsnormForward(const Napi::CallbackInfo& info) {
  Args a(info, "rmsnormForward");
  long rows = a.dim(4, "rows"), C = a.dim(5, "C");
  float eps = static_cast<float>(a.num(6, "eps"));
  float* out = a.f32(0, "out", rows * C);
  float* rstd = a.f32(1, "rstd", rows);
  const float* x = a.f32(2, "x", rows * C);
  const float* w = a.f32(3, "weight", C);
  if (!a.ok()) return Undef(info);
  split_rows(rows, C, [&](long b, long e, int) { rmsnorm_fwd_rows(out, rstd, x, w, b, e, C, eps); });
  return Undef(info);
}

Napi::Value RmsnormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "rmsnormBackward");
  long rows = a.dim(6, "rows"), C = a.dim(7, "C");
  float* dx = a.f32(0, "dx", rows * C);
  float* dw = a.f32(1, "dweight", C, true);
  const float* dout = a.f32(2, "dout", rows * C);
  const float* x = a.f32(3, "x", rows * C);
  const float* w = a.f32(4, "weight", C);
  const float* rstd = a.f32(5, "rstd", rows);
  if (!a.ok()) return Undef(info);
  int parts = planned_parts(rows, C);
  if (parts == 1 || !dw) {
    split_rows(rows, C, [&](long b, long e, int) { rmsnorm_bwd_rows(dx, dw, dout, x, w, rstd, b, e, C); });
    return Undef(info);
  }
  // A reference taken here: naming the thread_local inside the task would give each worker its own.
  static thread_local Partials partials_tl;
  Partials& partials = partials_tl;
  partials.reset(parts, C);
  split_rows(rows, C, [&](long b, long e, int t) {
    rmsnorm_bwd_rows(dx, partials.part(t, C), dout, x, w, rstd, b, e, C);
  });
  partials.reduce_into(dw, parts, C);
  return Undef(info);
}

Napi::Value LayernormForward(const Napi::CallbackInfo& info) {
  Args a(info, "layernormForward");
  long rows = a.dim(6, "rows"), C = a.dim(7, "C");
  float eps = static_cast<float>(a.num(8, "eps"));
  float* out = a.f32(0, "out", rows * C);
  float* mean = a.f32(1, "mean", rows);
  float* rstd = a.f32(2, "rstd", rows);
  const float* x = a.f32(3, "x", rows * C);
  const float* w = a.f32(4, "weight", C);
  const float* b = a.f32(5, "bias", C);
  if (!a.ok()) return Undef(info);
  split_rows(rows, C, [&](long r0, long r1, int) { layernorm_fwd_rows(out, mean, rstd, x, w, b, r0, r1, C, eps); });
  return Undef(info);
}

Napi::Value LayernormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layernormBackward");
  long rows = a.dim(8, "rows"), C = a.dim(9, "C");
  float* dx = a.f32(0, "dx", rows * C);
  float* dw = a.f32(1, "dweight", C, true);
  float* db = a.f32(2, "dbias", C, true);
  const float* dout = a.f32(3, "dout", rows * C);
  const float* x = a.f32(4, "x", rows * C);
  const float* w = a.f32(5, "weight", C);
  const float* mean = a.f32(6, "mean", rows);
  const float* rstd = a.f32(7, "rstd", rows);
  if (!a.ok()) return Undef(info);
  int parts = planned_parts(rows, C);
  if (parts == 1 || (!dw && !db)) {
    split_rows(rows, C,
               [&](long b, long e, int) { layernorm_bwd_rows(dx, dw, db, dout, x, w, mean, rstd, b, e, C); });
    return Undef(info);
  }
  static thread_local Partials pw_tl, pb_tl;  // referenced (not named) in the tasks, see RmsnormBackward
  Partials& pw = pw_tl;
  Partials& pb = pb_tl;
  pw.reset(parts, C);
  pb.reset(parts, C);
  split_rows(rows, C, [&](long b, long e, int t) {
    layernorm_bwd_rows(dx, dw ? pw.part(t, C) : nullptr, db ? pb.part(t, C) : nullptr, dout, x, w, mean, rstd, b,
                       e, C);
  });
  if (dw) pw.reduce_into(dw, parts, C);
  if (db) pb.reduce_into(db, parts, C);
  return Undef(info);
}

// rope(x, positions, rows, nHeads, headDim, cos, sin, interleaved, direction)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Args a(info, "rope");
  long rows = a.dim(2, "rows"), nHeads = a.dim(3, "nHeads"), headDim = a.dim(4, "headDim");
  bool interleaved = a.flag(7);
  float dir = a.num(8, "direction") < 0 ? -1.0f : 1.0f;
  float* x = a.f32(0, "x", rows * nHeads * headDim);
  const int32_t* pos = a.i32(1, "positions", rows);
  if (a.ok() && headDim % 2 != 0) a.fail_range("headDim must be even");
  if (!a.ok()) return Undef(info);
  // Table length: the largest position decides what must be present.
  long maxPos = -1;
  for (long r = 0; r < rows; r++) {
    if (pos[r] < 0) {
      a.fail_range("position " + std::to_string(pos[r]) + " at row " + std::to_string(r) + " is negative");
      return Undef(info);
    }
    maxPos = std::max<long>(maxPos, pos[r]);
  }
  const long half = headDim / 2;
  const float* cosT = a.f32(5, "cos", (maxPos + 1) * half);
  const float* sinT = a.f32(6, "sin", (maxPos + 1) * half);
  if (!a.ok()) return Undef(info);
  split_rows(rows, nHeads * headDim, [&](long b, long e, int) {
    rope_rows(x, pos, b, e, nHeads, headDim, cosT, sinT, interleaved, dir);
  });
  return Undef(info);
}

Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  Args a(info, "swigluForward");
  long n = a.dim(3, "n");
  float* out = a.f32(0, "out", n);
  const float* g = a.f32(1, "gate", n);
  const float* u = a.f32(2, "up", n);
  if (!a.ok()) return Undef(info);
  parallel_chunks(n, 8, 64, [&](long b, long e) { swiglu_fwd(out, g, u, b, e); });
  return Undef(info);
}

Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "swigluBackward");
  long n = a.dim(5, "n");
  float* dg = a.f32(0, "dgate", n);
  float* du = a.f32(1, "dup", n);
  const float* dout = a.f32(2, "dout", n);
  const float* g = a.f32(3, "gate", n);
  const float* u = a.f32(4, "up", n);
  if (!a.ok()) return Undef(info);
  parallel_chunks(n, 8, 64, [&](long b, long e) { swiglu_bwd(dg, du, dout, g, u, b, e); });
  return Undef(info);
}

Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Args a(info, "geluForward");
  long n = a.dim(2, "n");
  float* out = a.f32(0, "out", n);
  const float* x = a.f32(1, "x", n);
  if (!a.ok()) return Undef(info);
  parallel_chunks(n, 8, 64, [&](long b, long e) { gelu_fwd(out, x, b, e); });
  return Undef(info);
}

Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "geluBackward");
  long n = a.dim(3, "n");
  float* dx = a.f32(0, "dx", n);
  const float* dout = a.f32(1, "dout", n);
  const float* x = a.f32(2, "x", n);
  if (!a.ok()) return Undef(info);
  parallel_chunks(n, 8, 64, [&](long b, long e) { gelu_bwd(dx, dout, x, b, e); });
  return Undef(info);
}

// crossEntropy(dlogits|null, losses, logits, targets, rows, V, gradScale) -> sum of losses
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyForwardBackward");
  long rows = a.dim(4, "rows"), V = a.dim(5, "V");
  float gradScale = static_cast<float>(a.num(6, "gradScale"));
  float* dlogits = a.f32(0, "dlogits", rows * V, true);
  float* losses = a.f32(1, "losses", rows);
  const float* logits = a.f32(2, "logits", rows * V);
  const int32_t* targets = a.i32(3, "targets", rows);
  if (!a.ok()) return Undef(info);
  for (long r = 0; r < rows; r++) {
    int32_t t = targets[r];
    if (t != -100 && (t < 0 || t >= V)) {
      a.fail_range("target " + std::to_string(t) + " at row " + std::to_string(r) + " outside [0, " +
                   std::to_string(V) + ")");
      return Undef(info);
    }
  }
  split_rows(rows, V * 4, [&](long b, long e, int) { ce_rows(dlogits, losses, logits, targets, b, e, V, gradScale); });
  double total = 0;
  for (long r = 0; r < rows; r++) total += losses[r];
  return Napi::Number::New(info.Env(), total);
}

// adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step)
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Args a(info, "adamw");
  long n = a.dim(4, "n");
  double lr = a.num(5, "lr"), b1 = a.num(6, "beta1"), b2 = a.num(7, "beta2"), eps = a.num(8, "eps");
  double wd = a.num(9, "weightDecay"), step = a.num(10, "step");
  float* p = a.f32(0, "param", n);
  const float* g = a.f32(1, "grad", n);
  float* m = a.f32(2, "m", n);
  float* v = a.f32(3, "v", n);
  if (a.ok() && !(step >= 1)) a.fail_range("step must be >= 1");
  if (!a.ok()) return Undef(info);
  const float ibc1 = static_cast<float>(1.0 / (1.0 - std::pow(b1, step)));
  const float ibc2 = static_cast<float>(1.0 / (1.0 - std::pow(b2, step)));
  parallel_chunks(n, 4, 64, [&](long s, long e) {
    adamw_range(p, g, m, v, s, e, static_cast<float>(lr), static_cast<float>(b1), static_cast<float>(b2),
                static_cast<float>(eps), static_cast<float>(wd), ibc1, ibc2);
  });
  return Undef(info);
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args a(info, "sumSquares");
  long n = a.dim(1, "n");
  const float* x = a.f32(0, "x", n);
  if (!a.ok()) return Undef(info);
  double parts[256] = {0};
  const int nt = std::min(pool_threads(), 256);
  if (nt == 1 || n < kParallelMinWork * 4) {
    sumsq_range(x, 0, n, &parts[0]);
    return Napi::Number::New(info.Env(), parts[0]);
  }
  parallel_for(nt, [&](int t) {
    long b, e;
    chunk_range(n, nt, t, 64, &b, &e);
    if (b < e) sumsq_range(x, b, e, &parts[t]);
  });
  double total = 0;
  for (int t = 0; t < nt; t++) total += parts[t];
  return Napi::Number::New(info.Env(), total);
}

Napi::Value BiasBackward(const Napi::CallbackInfo& info) {
  Args a(info, "biasBackward");
  long rows = a.dim(2, "rows"), N = a.dim(3, "N");
  float* db = a.f32(0, "dbias", N);
  const float* dout = a.f32(1, "dout", rows * N);
  if (!a.ok()) return Undef(info);
  parallel_chunks(N, rows, 16, [&](long c0, long c1) { colsum_range(db, dout, rows, N, c0, c1); });
  return Undef(info);
}

bool check_ids(Args& a, const int32_t* ids, long rows, long C, size_t tableLen) {
  const long vocab = C > 0 ? static_cast<long>(tableLen / C) : 0;
  for (long r = 0; r < rows; r++) {
    if (ids[r] < 0 || ids[r] >= vocab) {
      a.fail_range("id " + std::to_string(ids[r]) + " at row " + std::to_string(r) + " outside the table (" +
                   std::to_string(vocab) + " rows)");
      return false;
    }
  }
  return true;
}

size_t typed_length(const Napi::CallbackInfo& info, int i) {
  Napi::Value v = info[i];
  return v.IsTypedArray() ? v.As<Napi::TypedArray>().ElementLength() : 0;
}

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingForward");
  long rows = a.dim(3, "rows"), C = a.dim(4, "C");
  float* out = a.f32(0, "out", rows * C);
  const float* table = a.f32(1, "table", 0);
  const int32_t* ids = a.i32(2, "ids", rows);
  if (!a.ok() || !check_ids(a, ids, rows, C, typed_length(info, 1))) return Undef(info);
  for (long r = 0; r < rows; r++)
    std::memcpy(out + r * C, table + static_cast<long>(ids[r]) * C, sizeof(float) * C);
  return Undef(info);
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward");
  long rows = a.dim(3, "rows"), C = a.dim(4, "C");
  float* dtable = a.f32(0, "dtable", 0);
  const float* dout = a.f32(1, "dout", rows * C);
  const int32_t* ids = a.i32(2, "ids", rows);
  if (!a.ok() || !check_ids(a, ids, rows, C, typed_length(info, 0))) return Undef(info);
  // Threads own column ranges, so repeated ids never race.
  parallel_chunks(C, rows, 16, [&](long c0, long c1) { embed_bwd_cols(dtable, dout, ids, rows, C, c0, c1); });
  return Undef(info);
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  Args a(info, "add");
  long n = a.dim(3, "n");
  float* out = a.f32(0, "out", n);
  const float* x = a.f32(1, "a", n);
  const float* y = a.f32(2, "b", n);
  if (!a.ok()) return Undef(info);
  parallel_chunks(n, 1, 64, [&](long s, long e) { add_range(out, x, y, s, e); });
  return Undef(info);
}

Napi::Value Axpy(const Napi::CallbackInfo& info) {
  Args a(info, "axpy");
  float alpha = static_cast<float>(a.num(2, "alpha"));
  long n = a.dim(3, "n");
  float* y = a.f32(0, "y", n);
  const float* x = a.f32(1, "x", n);
  if (!a.ok()) return Undef(info);
  parallel_chunks(n, 1, 64, [&](long s, long e) { axpy_range(y, x, alpha, s, e); });
  return Undef(info);
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale");
  float alpha = static_cast<float>(a.num(1, "alpha"));
  long n = a.dim(2, "n");
  float* x = a.f32(0, "x", n);
  if (!a.ok()) return Undef(info);
  parallel_chunks(n, 1, 64, [&](long s, long e) { scale_range(x, alpha, s, e); });
  return Undef(info);
}

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("rmsnormForward", Napi::Function::New(env, RmsnormForward));
  exports.Set("rmsnormBackward", Napi::Function::New(env, RmsnormBackward));
  exports.Set("layernormForward", Napi::Function::New(env, LayernormForward));
  exports.Set("layernormBackward", Napi::Function::New(env, LayernormBackward));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("swigluForward", Napi::Function::New(env, SwigluForward));
  exports.Set("swigluBackward", Napi::Function::New(env, SwigluBackward));
  exports.Set("geluForward", Napi::Function::New(env, GeluForward));
  exports.Set("geluBackward", Napi::Function::New(env, GeluBackward));
  exports.Set("crossEntropy", Napi::Function::New(env, CrossEntropy));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
  exports.Set("biasBackward", Napi::Function::New(env, BiasBackward));
  exports.Set("embeddingForward", Napi::Function::New(env, EmbeddingForward));
  exports.Set("embeddingBackward", Napi::Function::New(env, EmbeddingBackward));
  exports.Set("add", Napi::Function::New(env, Add));
  exports.Set("axpy", Napi::Function::New(env, Axpy));
  exports.Set("scale", Napi::Function::New(env, Scale));
  register_attention(env, exports);
}

}  // namespace sft
