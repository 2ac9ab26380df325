// Causal softmax attention without a T×T score buffer: queries are processed in blocks of
// BQ rows against key tiles of BK keys with an online (running max / running sum) softmax,
// so memory per thread is O(BQ·BK + BQ·D). Backward recomputes the probabilities from the
// saved log-sum-exp. Grouped-query attention reads kv head h / (H / KVH); segments mask
// keys of other packed sequences. Inner loops are axpy-shaped (over keys or over D) so the
// compiler vectorizes them; K and V tiles are transposed once per tile for that purpose.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "args.h"
#include "common.h"
#include "ops.h"
#include "threadpool.h"

namespace sft {
namespace {

constexpr long BQ = 32;
constexpr long BK = 64;

struct AttnShape {
  long B, Tq, Tk, H, KVH, D;
  float scale;
  const int32_t* seg;  // [B*Tk] or null
};

thread_local Scratch tl_attn;

/** Scores of one query row against one key tile, masked entries -inf. Returns the row max. */
SFT_INLINE float tile_scores(float* s, const float* qrow, const float* kt, long jn, long D, float scale, long kb,
                             long p, const int32_t* segb, int32_t mySeg) {
  for (long jj = 0; jj < jn; jj++) s[jj] = 0.0f;
  for (long d = 0; d < D; d++) {
    const float qd = qrow[d] * scale;
    const float* kd = kt + d * BK;
    for (long jj = 0; jj < jn; jj++) s[jj] += qd * kd[jj];
  }
  float mx = -__builtin_inff();
  for (long jj = 0; jj < jn; jj++) {
    const long j = kb + jj;
    const bool visible = j <= p && (!segb || segb[j] == mySeg);
    s[jj] = visible ? s[jj] : -__builtin_inff();
    mx = s[jj] > mx ? s[jj] : mx;
  }
  return mx;
}

/** Transposes rows [kb, kb+jn) of a [Tk, KVH, D] tensor (head kvh of sequence b) into t[D][BK]. */
SFT_INLINE void transpose_tile(float* t, const float* src, long b, long kb, long jn, long kvh, const AttnShape& S) {
  for (long jj = 0; jj < jn; jj++) {
    const float* row = src + ((b * S.Tk + kb + jj) * S.KVH + kvh) * S.D;
    for (long d = 0; d < S.D; d++) t[d * BK + jj] = row[d];
  }
}

}  // namespace

SFT_DISPATCH_FN(attn_fwd_block,
                (float* out, float* lse, const float* q, const float* k, const float* v, const AttnShape& S, long b,
                 long h, long i0, long i1, float* scratch),
                (out, lse, q, k, v, S, b, h, i0, i1, scratch), {
                  const long D = S.D;
                  const long kvh = h / (S.H / S.KVH);
                  float* kt = scratch;              // D*BK
                  float* sc = kt + D * BK;          // BK
                  float* acc = sc + BK;             // BQ*D
                  float* m = acc + BQ * D;          // BQ
                  float* l = m + BQ;                // BQ
                  const long rows = i1 - i0;
                  for (long r = 0; r < rows; r++) {
                    m[r] = -__builtin_inff();
                    l[r] = 0.0f;
                  }
                  for (long x = 0; x < rows * D; x++) acc[x] = 0.0f;
                  const int32_t* segb = S.seg ? S.seg + b * S.Tk : nullptr;
                  const long pLast = S.Tk - S.Tq + (i1 - 1);
                  for (long kb = 0; kb <= pLast; kb += BK) {
                    const long jn = std::min(BK, pLast + 1 - kb);
                    transpose_tile(kt, k, b, kb, jn, kvh, S);
                    for (long r = 0; r < rows; r++) {
                      const long i = i0 + r;
                      const long p = S.Tk - S.Tq + i;
                      if (kb > p) continue;
                      const float* qrow = q + ((b * S.Tq + i) * S.H + h) * D;
                      const int32_t mySeg = segb ? segb[p] : 0;
                      const float mt = tile_scores(sc, qrow, kt, jn, D, S.scale, kb, p, segb, mySeg);
                      if (mt == -__builtin_inff()) continue;
                      const float mNew = mt > m[r] ? mt : m[r];
                      const float corr = fast_expf(m[r] - mNew);
                      float psum = 0.0f;
                      for (long jj = 0; jj < jn; jj++) {
                        sc[jj] = fast_expf(sc[jj] - mNew);
                        psum += sc[jj];
                      }
                      l[r] = l[r] * corr + psum;
                      m[r] = mNew;
                      float* o = acc + r * D;
                      for (long d = 0; d < D; d++) o[d] *= corr;
                      for (long jj = 0; jj < jn; jj++) {
                        const float pj = sc[jj];
                        if (pj == 0.0f) continue;
                        const float* vrow = v + ((b * S.Tk + kb + jj) * S.KVH + kvh) * D;
                        for (long d = 0; d < D; d++) o[d] += pj * vrow[d];
                      }
                    }
                  }
                  for (long r = 0; r < rows; r++) {
                    const long i = i0 + r;
                    float* orow = out + ((b * S.Tq + i) * S.H + h) * D;
                    const float inv = 1.0f / l[r];
                    for (long d = 0; d < D; d++) orow[d] = acc[r * D + d] * inv;
                    lse[(b * S.H + h) * S.Tq + i] = m[r] + std::log(l[r]);
                  }
                })

SFT_DISPATCH_FN(attn_bwd_group,
                (float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k, const float* v,
                 const float* out, const float* lse, const AttnShape& S, long b, long kvh, float* scratch),
                (dq, dk, dv, dout, q, k, v, out, lse, S, b, kvh, scratch), {
                  const long D = S.D;
                  const long group = S.H / S.KVH;
                  float* kt = scratch;          // D*BK
                  float* vt = kt + D * BK;      // D*BK
                  float* pr = vt + D * BK;      // BK
                  float* dp = pr + BK;          // BK
                  float* delta = dp + BK;       // BQ
                  const int32_t* segb = S.seg ? S.seg + b * S.Tk : nullptr;
                  for (long h = kvh * group; h < (kvh + 1) * group; h++) {
                    for (long i0 = 0; i0 < S.Tq; i0 += BQ) {
                      const long i1 = std::min(S.Tq, i0 + BQ);
                      for (long i = i0; i < i1; i++) {
                        const long off = ((b * S.Tq + i) * S.H + h) * D;
                        float part[16] = {0};
                        long d = 0;
                        for (; d + 16 <= D; d += 16)
                          for (int x = 0; x < 16; x++) part[x] += dout[off + d + x] * out[off + d + x];
                        float s = 0.0f;
                        for (int x = 0; x < 16; x++) s += part[x];
                        for (; d < D; d++) s += dout[off + d] * out[off + d];
                        delta[i - i0] = s;
                      }
                      const long pLast = S.Tk - S.Tq + (i1 - 1);
                      for (long kb = 0; kb <= pLast; kb += BK) {
                        const long jn = std::min(BK, pLast + 1 - kb);
                        transpose_tile(kt, k, b, kb, jn, kvh, S);
                        transpose_tile(vt, v, b, kb, jn, kvh, S);
                        for (long i = i0; i < i1; i++) {
                          const long p = S.Tk - S.Tq + i;
                          if (kb > p) continue;
                          const long off = ((b * S.Tq + i) * S.H + h) * D;
                          const float* qrow = q + off;
                          const float* grow = dout + off;
                          float* dqrow = dq + off;
                          const int32_t mySeg = segb ? segb[p] : 0;
                          const float mt = tile_scores(pr, qrow, kt, jn, D, S.scale, kb, p, segb, mySeg);
                          if (mt == -__builtin_inff()) continue;
                          const float l = lse[(b * S.H + h) * S.Tq + i];
                          for (long jj = 0; jj < jn; jj++) pr[jj] = fast_expf(pr[jj] - l);
                          for (long jj = 0; jj < jn; jj++) dp[jj] = 0.0f;
                          for (long d = 0; d < D; d++) {
                            const float gd = grow[d];
                            const float* vd = vt + d * BK;
                            for (long jj = 0; jj < jn; jj++) dp[jj] += gd * vd[jj];
                          }
                          const float di = delta[i - i0];
                          for (long jj = 0; jj < jn; jj++) {
                            const float pj = pr[jj];
                            if (pj == 0.0f) continue;
                            const float ds = pj * (dp[jj] - di) * S.scale;
                            const long kvoff = ((b * S.Tk + kb + jj) * S.KVH + kvh) * D;
                            const float* krow = k + kvoff;
                            float* dkrow = dk + kvoff;
                            float* dvrow = dv + kvoff;
                            for (long d = 0; d < D; d++) {
                              dqrow[d] += ds * krow[d];
                              dkrow[d] += ds * qrow[d];
                              dvrow[d] += pj * grow[d];
                            }
                          }
                        }
                      }
                    }
                  }
                })

namespace {

bool read_shape(Args& a, const Napi::CallbackInfo& info, int idx, AttnShape* S) {
  Napi::Value v = info[idx];
  if (!v.IsObject()) {
    a.fail_range("shape must be an object {B, Tq, Tk, H, KVH, D, scale, segments?}");
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
  const size_t scratchN = S.D * BK + BK + BQ * S.D + 2 * BQ;
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
  const size_t scratchN = 2 * S.D * BK + 2 * BK + BQ;
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
