// Causal softmax attention without a T×T score buffer: queries are processed in blocks of
// BQ rows against key tiles of BK keys with an online (running max / running sum) softmax,
// so memory per thread is O(BQ·BK + BQ·D). Backward recomputes the probabilities from the
// saved log-sum-exp. Grouped-query attention reads kv head h / (H / KVH); segments mask
// keys of other packed sequences. The products inside a tile run on the GEMM micro-kernels
// (single-threaded; tasks are spread over the pool), the softmax parts are vectorized loops.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "args.h"
#include "common.h"
#include "gemm.h"
#include "ops.h"
#include "threadpool.h"

namespace sft {
namespace {

constexpr long BQ = 64;
constexpr long BK = 64;

struct AttnShape {
  long B, Tq, Tk, H, KVH, D;
  float scale;
  const int32_t* seg;  // [B*Tk] or null
  long window;         // a query at p sees keys j with p - j < window; <= 0: no window
  float softcap;       // scores become softcap * tanh(score / softcap); <= 0: none
};

/** First key position a query at position p sees (the sliding window's lower edge). */
SFT_INLINE long first_key(const AttnShape& S, long p) {
  return S.window > 0 && p - S.window + 1 > 0 ? p - S.window + 1 : 0;
}

thread_local Scratch tl_attn;

/** Masks and scales one row of raw scores q·k in place (invisible keys -> -inf); returns the row max. */
SFT_INLINE float mask_row(float* s, long jn, float scale, long kb, long p, const int32_t* segb, int32_t mySeg,
                         long lo, float softcap) {
  // Causal: keys kb + jj with jj < nv are at or before the query's position; the sliding
  // window hides keys before position lo (jj < nlo).
  const long nv = std::min(jn, p - kb + 1);
  const long nlo = std::min(jn, std::max(0L, lo - kb));
  for (long jj = 0; jj < nv; jj++) s[jj] *= scale;
  if (softcap > 0.0f) {
    const float inv = 1.0f / softcap;
    for (long jj = 0; jj < nv; jj++) s[jj] = softcap * std::tanh(s[jj] * inv);
  }
  for (long jj = 0; jj < nlo; jj++) s[jj] = -__builtin_inff();
  for (long jj = nv > 0 ? nv : 0; jj < jn; jj++) s[jj] = -__builtin_inff();
  if (segb) {
    const int32_t* sk = segb + kb;
    for (long jj = 0; jj < nv; jj++) s[jj] = sk[jj] == mySeg ? s[jj] : -__builtin_inff();
  }
  // 16 independent lanes: a serial float max would keep the compiler from vectorizing.
  float lane[16];
  for (int x = 0; x < 16; x++) lane[x] = -__builtin_inff();
  long jj = 0;
  for (; jj + 16 <= jn; jj += 16)
    for (int x = 0; x < 16; x++) lane[x] = s[jj + x] > lane[x] ? s[jj + x] : lane[x];
  float mx = -__builtin_inff();
  for (int x = 0; x < 16; x++) mx = lane[x] > mx ? lane[x] : mx;
  for (; jj < jn; jj++) mx = s[jj] > mx ? s[jj] : mx;
  return mx;
}

/** s[j] = exp(s[j] - shift) over the row; returns the sum (vectorized exp, lane-wise sum). */
SFT_INLINE float exp_row(float* s, long jn, float shift) {
  for (long jj = 0; jj < jn; jj++) s[jj] = fast_expf(s[jj] - shift);
  float lane[16] = {0};
  long jj = 0;
  for (; jj + 16 <= jn; jj += 16)
    for (int x = 0; x < 16; x++) lane[x] += s[jj + x];
  float sum = 0.0f;
  for (int x = 0; x < 16; x++) sum += lane[x];
  for (; jj < jn; jj++) sum += s[jj];
  return sum;
}

}  // namespace

// Forward of one block of query rows [i0, i1) of head h in sequence b. Per key tile:
// S = Q·Kᵀ (GEMM), mask + online softmax update, O = O·corr + P·V (GEMM, accumulating).
SFT_DISPATCH_FN(attn_fwd_block,
                (float* out, float* lse, const float* q, const float* k, const float* v, const AttnShape& S, long b,
                 long h, long i0, long i1, float* scratch),
                (out, lse, q, k, v, S, b, h, i0, i1, scratch), {
                  const long D = S.D;
                  const long kvh = h / (S.H / S.KVH);
                  const long qs = S.H * D, ks = S.KVH * D;  // row strides
                  float* sc = scratch;         // BQ*BK scores / probabilities
                  float* acc = sc + BQ * BK;   // BQ*D unnormalized output
                  float* m = acc + BQ * D;     // BQ running max
                  float* l = m + BQ;           // BQ running sum
                  const long rows = i1 - i0;
                  for (long r = 0; r < rows; r++) {
                    m[r] = -__builtin_inff();
                    l[r] = 0.0f;
                  }
                  for (long x = 0; x < rows * D; x++) acc[x] = 0.0f;
                  const int32_t* segb = S.seg ? S.seg + b * S.Tk : nullptr;
                  const float* qb = q + ((b * S.Tq + i0) * S.H + h) * D;
                  const long pLast = S.Tk - S.Tq + (i1 - 1);
                  // Key tiles wholly before the first query's window hold no visible key.
                  const long kStart = first_key(S, S.Tk - S.Tq + i0) / BK * BK;
                  for (long kb = kStart; kb <= pLast; kb += BK) {
                    const long jn = std::min(BK, pLast + 1 - kb);
                    const float* kt = k + ((b * S.Tk + kb) * S.KVH + kvh) * D;
                    const float* vt = v + ((b * S.Tk + kb) * S.KVH + kvh) * D;
                    sgemm_strided_serial(rows, jn, D, qb, qs, 1, kt, 1, ks, sc, BK, false);
                    for (long r = 0; r < rows; r++) {
                      const long p = S.Tk - S.Tq + i0 + r;
                      float* srow = sc + r * BK;
                      const float mt = mask_row(srow, jn, S.scale, kb, p, segb, segb ? segb[p] : 0,
                                                first_key(S, p), S.softcap);
                      if (mt == -__builtin_inff()) {
                        for (long jj = 0; jj < jn; jj++) srow[jj] = 0.0f;
                        continue;
                      }
                      const float mNew = mt > m[r] ? mt : m[r];
                      const float corr = fast_expf(m[r] - mNew);  // 0 on the first visible tile
                      const float psum = exp_row(srow, jn, mNew);
                      l[r] = l[r] * corr + psum;
                      m[r] = mNew;
                      float* o = acc + r * D;
                      for (long d = 0; d < D; d++) o[d] *= corr;
                    }
                    sgemm_strided_serial(rows, D, jn, sc, BK, 1, vt, ks, 1, acc, D, true);
                  }
                  for (long r = 0; r < rows; r++) {
                    const long i = i0 + r;
                    float* orow = out + ((b * S.Tq + i) * S.H + h) * D;
                    const float inv = 1.0f / l[r];
                    for (long d = 0; d < D; d++) orow[d] = acc[r * D + d] * inv;
                    lse[(b * S.H + h) * S.Tq + i] = m[r] + std::log(l[r]);
                  }
                })

// Backward for all heads of kv head `kvh` in sequence b (so every dk/dv write is this task's).
// Per (query block, key tile): P = exp(scale·Q·Kᵀ - lse), dP = dO·Vᵀ, dS = P∘(dP - δ)·scale,
// dQ += dS·K, dK += dSᵀ·Q, dV += Pᵀ·dO — five small GEMMs, all accumulating.
SFT_DISPATCH_FN(attn_bwd_group,
                (float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k, const float* v,
                 const float* out, const float* lse, const AttnShape& S, long b, long kvh, float* scratch),
                (dq, dk, dv, dout, q, k, v, out, lse, S, b, kvh, scratch), {
                  const long D = S.D;
                  const long group = S.H / S.KVH;
                  const long qs = S.H * D, ks = S.KVH * D;
                  float* pr = scratch;         // BQ*BK probabilities
                  float* ds = pr + BQ * BK;    // BQ*BK dP, then dS
                  float* delta = ds + BQ * BK;  // BQ
                  const int32_t* segb = S.seg ? S.seg + b * S.Tk : nullptr;
                  for (long h = kvh * group; h < (kvh + 1) * group; h++) {
                    for (long i0 = 0; i0 < S.Tq; i0 += BQ) {
                      const long i1 = std::min(S.Tq, i0 + BQ);
                      const long rows = i1 - i0;
                      const long off0 = ((b * S.Tq + i0) * S.H + h) * D;
                      for (long r = 0; r < rows; r++) {
                        const float* g = dout + off0 + r * qs;
                        const float* o = out + off0 + r * qs;
                        float part[16] = {0};
                        long d = 0;
                        for (; d + 16 <= D; d += 16)
                          for (int x = 0; x < 16; x++) part[x] += g[d + x] * o[d + x];
                        float sum = 0.0f;
                        for (int x = 0; x < 16; x++) sum += part[x];
                        for (; d < D; d++) sum += g[d] * o[d];
                        delta[r] = sum;
                      }
                      const float* lrow = lse + (b * S.H + h) * S.Tq + i0;
                      const long pLast = S.Tk - S.Tq + (i1 - 1);
                      const long kStart = first_key(S, S.Tk - S.Tq + i0) / BK * BK;
                      for (long kb = kStart; kb <= pLast; kb += BK) {
                        const long jn = std::min(BK, pLast + 1 - kb);
                        const long kvoff = ((b * S.Tk + kb) * S.KVH + kvh) * D;
                        sgemm_strided_serial(rows, jn, D, q + off0, qs, 1, k + kvoff, 1, ks, pr, BK, false);
                        sgemm_strided_serial(rows, jn, D, dout + off0, qs, 1, v + kvoff, 1, ks, ds, BK, false);
                        for (long r = 0; r < rows; r++) {
                          const long p = S.Tk - S.Tq + i0 + r;
                          float* prow = pr + r * BK;
                          float* drow = ds + r * BK;
                          const float mt = mask_row(prow, jn, S.scale, kb, p, segb, segb ? segb[p] : 0,
                                                    first_key(S, p), S.softcap);
                          if (mt == -__builtin_inff()) {
                            for (long jj = 0; jj < jn; jj++) prow[jj] = drow[jj] = 0.0f;
                            continue;
                          }
                          // Locals, not S.scale: a store through drow could alias S, which would
                          // keep the compiler from vectorizing this loop.
                          const float lr = lrow[r], dr = delta[r], scale = S.scale, cap = S.softcap;
                          if (cap > 0.0f) {
                            // d softcap·tanh(x/softcap) / dx = 1 - (capped / softcap)²; masked keys give 0.
                            const float inv = 1.0f / cap;
                            for (long jj = 0; jj < jn; jj++) {
                              const float sc = prow[jj];
                              const float t = sc * inv;
                              drow[jj] = sc == -__builtin_inff() ? 0.0f : (drow[jj] - dr) * scale * (1.0f - t * t);
                            }
                            for (long jj = 0; jj < jn; jj++) prow[jj] = fast_expf(prow[jj] - lr);
                            for (long jj = 0; jj < jn; jj++) drow[jj] *= prow[jj];
                          } else {
                            for (long jj = 0; jj < jn; jj++) prow[jj] = fast_expf(prow[jj] - lr);
                            for (long jj = 0; jj < jn; jj++) drow[jj] = prow[jj] * (drow[jj] - dr) * scale;
                          }
                        }
                        sgemm_strided_serial(rows, D, jn, ds, BK, 1, k + kvoff, ks, 1, dq + off0, qs, true);
                        sgemm_strided_serial(jn, D, rows, ds, 1, BK, q + off0, qs, 1, dk + kvoff, ks, true);
                        sgemm_strided_serial(jn, D, rows, pr, 1, BK, dout + off0, qs, 1, dv + kvoff, ks, true);
                      }
                    }
                  }
                })

namespace {

bool read_shape(Args& a, const Napi::CallbackInfo& info, int idx, AttnShape* S) {
  Napi::Value v = info[idx];
  if (!v.IsObject()) {
    a.fail_range("shape must be an object {B, Tq, Tk, H, KVH, D, scale, segments?, window?, softcap?}");
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  auto num = [&](const char* key) -> double {
    Napi::Value x = o.Get(key);
    return x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1.0;
  };
  S->B = static_cast<long>(num("B"));
  S->Tq = static_cast<long>(num("Tq"));
  S->Tk = static_cast<long>(num("Tk"));
  S->H = static_cast<long>(num("H"));
  S->KVH = static_cast<long>(num("KVH"));
  S->D = static_cast<long>(num("D"));
  S->scale = static_cast<float>(num("scale"));
  if (S->B < 0 || S->Tq < 0 || S->Tk < 0 || S->H < 1 || S->KVH < 1 || S->D < 1) {
    a.fail_range("shape fields B, Tq, Tk must be >= 0 and H, KVH, D >= 1");
    return false;
  }
  if (S->Tq > S->Tk) {
    a.fail_range("Tq (" + std::to_string(S->Tq) + ") > Tk (" + std::to_string(S->Tk) + ")");
    return false;
  }
  if (S->H % S->KVH != 0) {
    a.fail_range("H (" + std::to_string(S->H) + ") not a multiple of KVH (" + std::to_string(S->KVH) + ")");
    return false;
  }
  // Optional fields (absent: no sliding window, no soft-capping).
  const double window = num("window");
  S->window = window > 0 ? static_cast<long>(window) : 0;
  const double softcap = num("softcap");
  S->softcap = softcap > 0 ? static_cast<float>(softcap) : 0.0f;
  S->seg = nullptr;
  Napi::Value seg = o.Get("segments");
  if (!seg.IsUndefined() && !seg.IsNull()) {
    if (!seg.IsTypedArray() || seg.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      a.fail_range("segments must be an Int32Array");
      return false;
    }
    auto arr = seg.As<Napi::Int32Array>();
    if (arr.ElementLength() < static_cast<size_t>(S->B * S->Tk)) {
      a.fail_range("segments has " + std::to_string(arr.ElementLength()) + " entries, needs B*Tk = " +
                   std::to_string(S->B * S->Tk));
      return false;
    }
    S->seg = arr.Data();
  }
  return true;
}

// attentionForward(out, lse, q, k, v, shape)
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionForward");
  AttnShape S{};
  if (!read_shape(a, info, 5, &S)) return info.Env().Undefined();
  const size_t qn = S.B * S.Tq * S.H * S.D, kn = S.B * S.Tk * S.KVH * S.D;
  float* out = a.f32(0, "out", qn);
  float* lse = a.f32(1, "lse", S.B * S.H * S.Tq);
  const float* q = a.f32(2, "q", qn);
  const float* k = a.f32(3, "k", kn);
  const float* v = a.f32(4, "v", kn);
  if (!a.ok()) return info.Env().Undefined();
  const long nqb = (S.Tq + BQ - 1) / BQ;
  const long tasks = S.B * S.H * nqb;
  const size_t scratchN = BQ * BK + BQ * S.D + 2 * BQ;
  auto task = [&](int t) {
    // Later query blocks see more keys: hand them out first for better balance.
    const long qb = nqb - 1 - t % nqb;
    const long bh = t / nqb;
    const long b = bh / S.H, h = bh % S.H;
    const long i0 = qb * BQ, i1 = std::min(S.Tq, i0 + BQ);
    attn_fwd_block(out, lse, q, k, v, S, b, h, i0, i1, tl_attn.get(scratchN));
  };
  const double work = static_cast<double>(S.B) * S.H * S.Tq * S.Tk * S.D;
  if (work < (1 << 16)) {
    for (long t = 0; t < tasks; t++) task(static_cast<int>(t));
  } else {
    parallel_for(static_cast<int>(tasks), task);
  }
  return info.Env().Undefined();
}

// attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, shape)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionBackward");
  AttnShape S{};
  if (!read_shape(a, info, 9, &S)) return info.Env().Undefined();
  const size_t qn = S.B * S.Tq * S.H * S.D, kn = S.B * S.Tk * S.KVH * S.D;
  float* dq = a.f32(0, "dq", qn);
  float* dk = a.f32(1, "dk", kn);
  float* dv = a.f32(2, "dv", kn);
  const float* dout = a.f32(3, "dout", qn);
  const float* q = a.f32(4, "q", qn);
  const float* k = a.f32(5, "k", kn);
  const float* v = a.f32(6, "v", kn);
  const float* out = a.f32(7, "out", qn);
  const float* lse = a.f32(8, "lse", S.B * S.H * S.Tq);
  if (!a.ok()) return info.Env().Undefined();
  // One task per (sequence, kv head): every write to dk/dv/dq of a task is its own.
  const long tasks = S.B * S.KVH;
  const size_t scratchN = 2 * BQ * BK + BQ;
  auto task = [&](int t) {
    const long b = t / S.KVH, kvh = t % S.KVH;
    attn_bwd_group(dq, dk, dv, dout, q, k, v, out, lse, S, b, kvh, tl_attn.get(scratchN));
  };
  const double work = static_cast<double>(S.B) * S.H * S.Tq * S.Tk * S.D;
  if (work < (1 << 16)) {
    for (long t = 0; t < tasks; t++) task(static_cast<int>(t));
  } else {
    parallel_for(static_cast<int>(tasks), task);
  }
  return info.Env().Undefined();
}

}  // namespace

void register_attention(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionForward", Napi::Function::New(env, AttentionForward));
  exports.Set("attentionBackward", Napi::Function::New(env, AttentionBackward));
}

}  // namespace sft
