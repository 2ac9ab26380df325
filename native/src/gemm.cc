// GEMM in the BLIS style: B is packed into KC×NR micro-panels (kept in L1 by the
// micro-kernel loop), A into MC×KC blocks of MR-row micro-panels (kept in L2), and a
// register-blocked micro-kernel computes an MR×NR tile of C with FMAs. Transposes are
// absorbed by the packing, so one micro-kernel serves all four variants. With several
// threads, each B panel is packed once (cooperatively) and shared; the threads then take
// (row block × column chunk) tasks, packing their own A blocks.
#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <type_traits>

#include "blas.h"
#include "common.h"
#include "threadpool.h"

#if SFT_X86
#include <immintrin.h>
#endif
#if SFT_ARM64
#include <arm_neon.h>
#endif

namespace sft {
namespace {

constexpr long KC = 256;
constexpr long MC = 144;   // a multiple of every MR used (4, 6, 8, 12)
constexpr long NC = 3072;  // multiple of every NR used (12, 16, 32)

/** A strided read-only matrix view: element (r, c) at p[r*rs + c*cs]. */
template <typename T>
struct View {
  const T* p;
  long rs, cs;
  SFT_INLINE float at(long r, long c) const;
};
template <>
SFT_INLINE float View<float>::at(long r, long c) const {
  return p[r * rs + c * cs];
}
template <>
SFT_INLINE float View<uint16_t>::at(long r, long c) const {
  return bf16_to_float(p[r * rs + c * cs]);
}

#if SFT_X86
/** dst[j*ldd + i] = src[i*lds + j] for an 8×8 block (AVX2 in-register transpose). */
SFT_TARGET_AVX2 void transpose8x8(const float* src, long lds, float* dst, long ldd) {
  __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds);
  __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
  __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
  __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

/**
 * out[k*ldo + r] = src[r*lds + k] for r < rows, k < cols: the transposing copy both packings
 * need when the source runs along k. 8×8 blocks go through registers when AVX2 is there.
 */
void transpose_copy(const float* src, long lds, long rows, long cols, float* out, long ldo) {
  long r0 = 0;
#if SFT_X86
  if (cpu_has_avx2()) {
    for (; r0 + 8 <= rows; r0 += 8) {
      long k0 = 0;
      for (; k0 + 8 <= cols; k0 += 8) transpose8x8(src + r0 * lds + k0, lds, out + k0 * ldo + r0, ldo);
      for (long r = r0; r < r0 + 8; r++)
        for (long k = k0; k < cols; k++) out[k * ldo + r] = src[r * lds + k];
    }
  }
#endif
  for (long r = r0; r < rows; r++)
    for (long k = 0; k < cols; k++) out[k * ldo + r] = src[r * lds + k];
}

/** Packs rows [0, mc) × cols [0, kc) of A into MR-row panels: panel[k*MR + r], zero-padded. */
template <int MR>
void pack_a(long mc, long kc, View<float> A, float* out) {
  for (long ir = 0; ir < mc; ir += MR) {
    long mr = std::min<long>(MR, mc - ir);
    float* dst = out + ir * kc;
    if (A.cs == 1) {
      // rows contiguous along k
      transpose_copy(A.p + ir * A.rs, A.rs, mr, kc, dst, MR);
    } else {
      // A stored transposed: for fixed k the MR values are (nearly) contiguous
      for (long k = 0; k < kc; k++)
        for (long r = 0; r < mr; r++) dst[k * MR + r] = A.p[(ir + r) * A.rs + k * A.cs];
    }
    for (long r = mr; r < MR; r++)
      for (long k = 0; k < kc; k++) dst[k * MR + r] = 0.0f;
  }
}

/** Packs rows (k) [0, kc) × cols [0, nc) of B into NR-column panels: panel[k*NR + c], zero-padded. */
template <int NR, typename TB>
void pack_b(long kc, long nc, View<TB> B, float* out) {
  for (long jr = 0; jr < nc; jr += NR) {
    long nr = std::min<long>(NR, nc - jr);
    float* dst = out + jr * kc;
    if (B.cs == 1) {
      for (long k = 0; k < kc; k++) {
        float* d = dst + k * NR;
        for (long c = 0; c < nr; c++) d[c] = B.at(k, jr + c);
        for (long c = nr; c < NR; c++) d[c] = 0.0f;
      }
    } else {
      // B stored [N, K]: each output column is a contiguous source row
      if constexpr (std::is_same<TB, float>::value) {
        if (B.rs == 1) {
          transpose_copy(B.p + jr * B.cs, B.cs, nr, kc, dst, NR);
        } else {
          for (long c = 0; c < nr; c++)
            for (long k = 0; k < kc; k++) dst[k * NR + c] = B.at(k, jr + c);
        }
      } else {
        for (long c = 0; c < nr; c++)
          for (long k = 0; k < kc; k++) dst[k * NR + c] = B.at(k, jr + c);
      }
      for (long c = nr; c < NR; c++)
        for (long k = 0; k < kc; k++) dst[k * NR + c] = 0.0f;
    }
  }
}

/** Writes an MR×NR result tile held in `acc` into C (first k-block: bias and store or add). */
template <int MR, int NR>
SFT_INLINE void store_tile(const float* acc, float* c, long ldc, int mr, int nr, bool add_c, const float* bias) {
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < nr; j++) {
      float v = acc[r * NR + j] + (bias ? bias[j] : 0.0f);
      c[r * ldc + j] = add_c ? c[r * ldc + j] + v : v;
    }
}

/** Portable micro-kernel (baseline ISA; the compiler vectorizes the j loop). */
template <int MR, int NR>
void ukr_generic(long kc, const float* a, const float* b, float* c, long ldc, int mr, int nr, bool add_c,
                 const float* bias) {
  float acc[MR * NR] = {0};
  for (long k = 0; k < kc; k++) {
    for (int r = 0; r < MR; r++) {
      float ar = a[k * MR + r];
      for (int j = 0; j < NR; j++) acc[r * NR + j] += ar * b[k * NR + j];
    }
  }
  store_tile<MR, NR>(acc, c, ldc, mr, nr, add_c, bias);
}

#if SFT_X86
/** AVX2/FMA 6×16 micro-kernel: 12 accumulators, 2 B loads and 6 broadcasts per k. */
SFT_TARGET_AVX2 void ukr_avx2_6x16(long kc, const float* a, const float* b, float* c, long ldc, int mr, int nr,
                                   bool add_c, const float* bias) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (long k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b);
    __m256 b1 = _mm256_load_ps(b + 8);
    __m256 ar;
    ar = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ar, b0, c00);
    c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ar, b0, c10);
    c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ar, b0, c20);
    c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ar, b0, c30);
    c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ar, b0, c40);
    c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ar, b0, c50);
    c51 = _mm256_fmadd_ps(ar, b1, c51);
    a += 6;
    b += 16;
  }
  __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  if (mr == 6 && nr == 16) {
    __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < 6; r++) {
      float* cr = c + r * ldc;
      __m256 v0 = _mm256_add_ps(acc[2 * r], bias0);
      __m256 v1 = _mm256_add_ps(acc[2 * r + 1], bias1);
      if (add_c) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
      }
      _mm256_storeu_ps(cr, v0);
      _mm256_storeu_ps(cr + 8, v1);
    }
    return;
  }
  alignas(32) float tile[6 * 16];
  for (int i = 0; i < 12; i++) _mm256_store_ps(tile + 8 * i, acc[i]);
  store_tile<6, 16>(tile, c, ldc, mr, nr, add_c, bias);
}

/** AVX-512 12×32 micro-kernel: 24 accumulators, 2 B loads and 12 broadcasts per k. */
SFT_TARGET_AVX512 void ukr_avx512_12x32(long kc, const float* a, const float* b, float* c, long ldc, int mr,
                                        int nr, bool add_c, const float* bias) {
  __m512 acc[24];
#pragma GCC unroll 24
  for (int i = 0; i < 24; i++) acc[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (long k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(b);
    __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) {
      __m512 ar = _mm512_set1_ps(a[r]);
      acc[2 * r] = _mm512_fmadd_ps(ar, b0, acc[2 * r]);
      acc[2 * r + 1] = _mm512_fmadd_ps(ar, b1, acc[2 * r + 1]);
    }
    a += 12;
    b += 32;
  }
  if (mr == 12 && nr == 32) {
    __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) {
      float* cr = c + r * ldc;
      __m512 v0 = _mm512_add_ps(acc[2 * r], bias0);
      __m512 v1 = _mm512_add_ps(acc[2 * r + 1], bias1);
      if (add_c) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr + 16));
      }
      _mm512_storeu_ps(cr, v0);
      _mm512_storeu_ps(cr + 16, v1);
    }
    return;
  }
  alignas(64) float tile[12 * 32];
  for (int i = 0; i < 24; i++) _mm512_store_ps(tile + 16 * i, acc[i]);
  store_tile<12, 32>(tile, c, ldc, mr, nr, add_c, bias);
}
#endif

#if SFT_ARM64
/**
 * NEON 8×12 micro-kernel: 24 quad accumulators (8 rows × 3 quads of 4 columns), 3 B loads
 * and 2 A loads per k; each FMA takes its A value by lane (fmla by element), so no
 * broadcasts are needed. 24 + 3 + 2 of the 32 vector registers.
 */
void ukr_neon_8x12(long kc, const float* a, const float* b, float* c, long ldc, int mr, int nr, bool add_c,
                   const float* bias) {
  float32x4_t acc[24];
#pragma GCC unroll 24
  for (int i = 0; i < 24; i++) acc[i] = vdupq_n_f32(0.0f);
#define SFT_NEON_ROW(r, av, lane)                                 \
  acc[3 * (r)] = vfmaq_laneq_f32(acc[3 * (r)], b0, av, lane);     \
  acc[3 * (r) + 1] = vfmaq_laneq_f32(acc[3 * (r) + 1], b1, av, lane); \
  acc[3 * (r) + 2] = vfmaq_laneq_f32(acc[3 * (r) + 2], b2, av, lane);
#pragma GCC unroll 2
  for (long k = 0; k < kc; k++) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    SFT_NEON_ROW(0, a0, 0)
    SFT_NEON_ROW(1, a0, 1)
    SFT_NEON_ROW(2, a0, 2)
    SFT_NEON_ROW(3, a0, 3)
    SFT_NEON_ROW(4, a1, 0)
    SFT_NEON_ROW(5, a1, 1)
    SFT_NEON_ROW(6, a1, 2)
    SFT_NEON_ROW(7, a1, 3)
    a += 8;
    b += 12;
  }
#undef SFT_NEON_ROW
  if (mr == 8 && nr == 12) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    const float32x4_t bias0 = bias ? vld1q_f32(bias) : zero;
    const float32x4_t bias1 = bias ? vld1q_f32(bias + 4) : zero;
    const float32x4_t bias2 = bias ? vld1q_f32(bias + 8) : zero;
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
      float* cr = c + r * ldc;
      float32x4_t v0 = vaddq_f32(acc[3 * r], bias0);
      float32x4_t v1 = vaddq_f32(acc[3 * r + 1], bias1);
      float32x4_t v2 = vaddq_f32(acc[3 * r + 2], bias2);
      if (add_c) {
        v0 = vaddq_f32(v0, vld1q_f32(cr));
        v1 = vaddq_f32(v1, vld1q_f32(cr + 4));
        v2 = vaddq_f32(v2, vld1q_f32(cr + 8));
      }
      vst1q_f32(cr, v0);
      vst1q_f32(cr + 4, v1);
      vst1q_f32(cr + 8, v2);
    }
    return;
  }
  alignas(16) float tile[8 * 12];
  for (int i = 0; i < 24; i++) vst1q_f32(tile + 4 * i, acc[i]);
  store_tile<8, 12>(tile, c, ldc, mr, nr, add_c, bias);
}
#endif

using Ukr = void (*)(long, const float*, const float*, float*, long, int, int, bool, const float*);

thread_local Scratch tl_pack_a;
thread_local Scratch tl_pack_b;

/** One thread's GEMM on a block of C. */
template <int MR, int NR, typename TB>
void gemm_serial(Ukr ukr, long M, long N, long K, View<float> A, View<TB> B, float* C, long ldc, bool accumulate,
                 const float* bias) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    for (long i = 0; i < M; i++)
      for (long j = 0; j < N; j++) {
        float v = bias ? bias[j] : 0.0f;
        C[i * ldc + j] = accumulate ? C[i * ldc + j] + v : v;
      }
    return;
  }
  const long ncMax = std::min(NC, ((N + NR - 1) / NR) * NR);
  const long kcMax = std::min(KC, K);
  const long mcMax = std::min(MC, ((M + MR - 1) / MR) * MR);
  float* bbuf = tl_pack_b.get(ncMax * kcMax);
  float* abuf = tl_pack_a.get(mcMax * kcMax);
  for (long jc = 0; jc < N; jc += NC) {
    const long nc = std::min(NC, N - jc);
    for (long pc = 0; pc < K; pc += KC) {
      const long kc = std::min(KC, K - pc);
      const bool first = pc == 0;
      pack_b<NR, TB>(kc, nc, View<TB>{B.p + pc * B.rs + jc * B.cs, B.rs, B.cs}, bbuf);
      for (long ic = 0; ic < M; ic += MC) {
        const long mc = std::min(MC, M - ic);
        pack_a<MR>(mc, kc, View<float>{A.p + ic * A.rs + pc * A.cs, A.rs, A.cs}, abuf);
        for (long jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<long>(NR, nc - jr));
          const float* bp = bbuf + jr * kc;
          const float* biasp = first && bias ? bias + jc + jr : nullptr;
          for (long ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<long>(MR, mc - ir));
            ukr(kc, abuf + ir * kc, bp, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, !first || accumulate, biasp);
          }
        }
      }
    }
  }
}

/**
 * Multithreaded GEMM that packs each KC×NC panel of B once, shared by all threads (packing
 * it per thread would cost as much as a good part of the arithmetic at these speeds).
 * Per panel: the threads pack B's micro-panels together, then compute (MC-row block ×
 * column chunk) tasks, each packing its own A block. The pool's job boundary is the barrier.
 */
std::mutex g_shared_mu;  // the shared B buffer serves one GEMM at a time
Scratch g_shared_b;

template <int MR, int NR, typename TB>
void gemm_parallel(Ukr ukr, long M, long N, long K, View<float> A, View<TB> B, float* C, long ldc, bool accumulate,
                   const float* bias, int nt) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  const long ncMax = std::min(NC, ((N + NR - 1) / NR) * NR);
  const long kcMax = std::min(KC, K);
  float* bbuf = g_shared_b.get(ncMax * kcMax);
  const long nIc = (M + MC - 1) / MC;
  for (long jc = 0; jc < N; jc += NC) {
    const long nc = std::min(NC, N - jc);
    const long nPanels = (nc + NR - 1) / NR;
    // Column chunks per A block so that there are at least ~2 tasks per thread.
    const long nJ = std::min<long>(nPanels, std::max<long>(1, (2L * nt + nIc - 1) / nIc));
    for (long pc = 0; pc < K; pc += KC) {
      const long kc = std::min(KC, K - pc);
      const bool first = pc == 0;
      const int packParts = static_cast<int>(std::min<long>(nt, nPanels));
      parallel_for(packParts, [&](int t) {
        long p0, p1;
        chunk_range(nPanels, packParts, t, 1, &p0, &p1);
        if (p0 >= p1) return;
        const long c0 = p0 * NR, c1 = std::min(nc, p1 * NR);
        pack_b<NR, TB>(kc, c1 - c0, View<TB>{B.p + pc * B.rs + (jc + c0) * B.cs, B.rs, B.cs}, bbuf + c0 * kc);
      });
      parallel_for(static_cast<int>(nIc * nJ), [&](int task) {
        const long ic = (task / nJ) * MC;
        const long jchunk = task % nJ;
        long p0, p1;
        chunk_range(nPanels, static_cast<int>(nJ), static_cast<int>(jchunk), 1, &p0, &p1);
        if (p0 >= p1) return;
        const long mc = std::min(MC, M - ic);
        float* abuf = tl_pack_a.get(std::min(MC, ((M + MR - 1) / MR) * MR) * kcMax);
        pack_a<MR>(mc, kc, View<float>{A.p + ic * A.rs + pc * A.cs, A.rs, A.cs}, abuf);
        for (long jr = p0 * NR; jr < std::min(nc, p1 * NR); jr += NR) {
          const int nr = static_cast<int>(std::min<long>(NR, nc - jr));
          const float* bp = bbuf + jr * kc;
          const float* biasp = first && bias ? bias + jc + jr : nullptr;
          for (long ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<long>(MR, mc - ir));
            ukr(kc, abuf + ir * kc, bp, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, !first || accumulate, biasp);
          }
        }
      });
    }
  }
}

/**
 * Few output rows (decode, M <= 4): packing B would cost as much as the product, so
 * compute directly: dot products when B is [N, K], row updates when B is [K, N].
 */
template <typename TB>
SFT_INLINE void gemm_small_m_body(long M, long N, long K, View<float> A, View<TB> B, float* C, long ldc,
                                  bool accumulate, const float* bias) {
  for (long i = 0; i < M; i++) {
    float* c = C + i * ldc;
    if (B.rs == 1) {
      // B(k, j) = p[j*K + k]: contiguous along k for each j
      for (long j = 0; j < N; j++) {
        const TB* bj = B.p + j * B.cs;
        float part[16] = {0};
        long k = 0;
        for (; k + 16 <= K; k += 16)
          for (int l = 0; l < 16; l++) part[l] += A.at(i, k + l) * View<TB>{bj, 1, 0}.at(k + l, 0);
        float s = 0.0f;
        for (int l = 0; l < 16; l++) s += part[l];
        for (; k < K; k++) s += A.at(i, k) * View<TB>{bj, 1, 0}.at(k, 0);
        float v = s + (bias ? bias[j] : 0.0f);
        c[j] = accumulate ? c[j] + v : v;
      }
    } else {
      if (!accumulate)
        for (long j = 0; j < N; j++) c[j] = 0.0f;
      if (bias)
        for (long j = 0; j < N; j++) c[j] += bias[j];
      for (long k = 0; k < K; k++) {
        const float aik = A.at(i, k);
        const TB* bk = B.p + k * B.rs;
        for (long j = 0; j < N; j++) c[j] += aik * View<TB>{bk, 0, 1}.at(0, j);
      }
    }
  }
}

template <typename TB>
SFT_TARGET_AVX2 void gemm_small_m_avx2(long M, long N, long K, View<float> A, View<TB> B, float* C, long ldc,
                                       bool accumulate, const float* bias) {
  gemm_small_m_body<TB>(M, N, K, A, B, C, ldc, accumulate, bias);
}
template <typename TB>
void gemm_small_m_base(long M, long N, long K, View<float> A, View<TB> B, float* C, long ldc, bool accumulate,
                       const float* bias) {
  gemm_small_m_body<TB>(M, N, K, A, B, C, ldc, accumulate, bias);
}

enum class Level { Scalar, Avx2, Avx512, Neon };

Level gemm_level() {
  static const Level level = cpu_has_avx512() ? Level::Avx512
                             : cpu_has_avx2() ? Level::Avx2
                             : cpu_has_neon() ? Level::Neon
                                              : Level::Scalar;
  return level;
}

template <typename TB>
void run_block(long M, long N, long K, View<float> A, View<TB> B, float* C, long ldc, bool accumulate,
               const float* bias) {
  if (M <= 4) {
    if (cpu_has_avx2())
      gemm_small_m_avx2<TB>(M, N, K, A, B, C, ldc, accumulate, bias);
    else
      gemm_small_m_base<TB>(M, N, K, A, B, C, ldc, accumulate, bias);
    return;
  }
  switch (gemm_level()) {
#if SFT_X86
    case Level::Avx512:
      gemm_serial<12, 32, TB>(ukr_avx512_12x32, M, N, K, A, B, C, ldc, accumulate, bias);
      return;
    case Level::Avx2:
      gemm_serial<6, 16, TB>(ukr_avx2_6x16, M, N, K, A, B, C, ldc, accumulate, bias);
      return;
#endif
#if SFT_ARM64
    case Level::Neon:
      gemm_serial<8, 12, TB>(ukr_neon_8x12, M, N, K, A, B, C, ldc, accumulate, bias);
      return;
#endif
    default:
      gemm_serial<4, 16, TB>(ukr_generic<4, 16>, M, N, K, A, B, C, ldc, accumulate, bias);
  }
}

/** Below this many multiply-adds a GEMM stays on the calling thread (pool hand-off costs ~µs). */
constexpr double kParallelMinMacs = 1 << 18;

template <typename TB>
void gemm_dispatch(bool transA, bool transB, long M, long N, long K, const float* Ap, const TB* Bp, float* C,
                   bool accumulate, const float* bias) {
  View<float> A{Ap, transA ? 1 : K, transA ? M : 1};
  View<TB> B{Bp, transB ? 1 : N, transB ? K : 1};
  const int nt = pool_threads();
  const double macs = static_cast<double>(M) * N * (K > 0 ? K : 1);
  if (nt == 1 || macs < kParallelMinMacs) {
    run_block<TB>(M, N, K, A, B, C, N, accumulate, bias);
    return;
  }
  if (M <= 4 || K == 0) {
    // Decode-sized products: split the columns (each thread streams its part of B).
    const int parts = static_cast<int>(std::min<long>(nt, (N + 63) / 64));
    parallel_for(parts, [&](int t) {
      long b, e;
      chunk_range(N, parts, t, 16, &b, &e);
      if (b < e)
        run_block<TB>(M, e - b, K, A, View<TB>{B.p + b * B.cs, B.rs, B.cs}, C + b, N, accumulate,
                      bias ? bias + b : nullptr);
    });
    return;
  }
  switch (gemm_level()) {
#if SFT_X86
    case Level::Avx512:
      gemm_parallel<12, 32, TB>(ukr_avx512_12x32, M, N, K, A, B, C, N, accumulate, bias, nt);
      return;
    case Level::Avx2:
      gemm_parallel<6, 16, TB>(ukr_avx2_6x16, M, N, K, A, B, C, N, accumulate, bias, nt);
      return;
#endif
#if SFT_ARM64
    case Level::Neon:
      gemm_parallel<8, 12, TB>(ukr_neon_8x12, M, N, K, A, B, C, N, accumulate, bias, nt);
      return;
#endif
    default:
      gemm_parallel<4, 16, TB>(ukr_generic<4, 16>, M, N, K, A, B, C, N, accumulate, bias, nt);
  }
}

}  // namespace

void sgemm(bool transA, bool transB, long M, long N, long K, const float* A, const float* B, float* C,
           bool accumulate, const float* bias) {
  if (blas_sgemm(transA, transB, M, N, K, A, B, C, accumulate, bias)) return;
  gemm_dispatch<float>(transA, transB, M, N, K, A, B, C, accumulate, bias);
}

void sgemm_strided_serial(long M, long N, long K, const float* A, long rsA, long csA, const float* B, long rsB,
                          long csB, float* C, long ldc, bool accumulate) {
  run_block<float>(M, N, K, View<float>{A, rsA, csA}, View<float>{B, rsB, csB}, C, ldc, accumulate, nullptr);
}

void sgemm_bf16b(bool transA, bool transB, long M, long N, long K, const float* A, const uint16_t* B, float* C,
                 bool accumulate, const float* bias) {
  gemm_dispatch<uint16_t>(transA, transB, M, N, K, A, B, C, accumulate, bias);
}

}  // namespace sft
