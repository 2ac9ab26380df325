// A peak kernel: enough independent FMA chains to cover the FMA latency on every port
// (12 chains: 4-cycle latency × 2–3 ports), no loads, so it runs at the core's FMA rate.
#include "peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>

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

constexpr int kChains = 12;

/** Runs `iters` iterations; returns the flops done (2 per lane per FMA). */
#if SFT_X86
SFT_TARGET_AVX512 double run_avx512(long iters, float seed) {
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < kChains; i++) acc[i] = _mm512_set1_ps(seed + i);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return 2.0 * 16 * kChains * static_cast<double>(iters);
}

SFT_TARGET_AVX2 double run_avx2(long iters, float seed) {
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < kChains; i++) acc[i] = _mm256_set1_ps(seed + i);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  volatile float sink = t[0];
  (void)sink;
  return 2.0 * 8 * kChains * static_cast<double>(iters);
}
#endif

#if SFT_ARM64
double run_neon(long iters, float seed) {
  float32x4_t acc[kChains];
  const float32x4_t a = vdupq_n_f32(0.999999f), b = vdupq_n_f32(1e-7f);
  for (int i = 0; i < kChains; i++) acc[i] = vdupq_n_f32(seed + i);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) acc[i] = vfmaq_f32(b, acc[i], a);
  }
  float32x4_t s = acc[0];
  for (int i = 1; i < kChains; i++) s = vaddq_f32(s, acc[i]);
  volatile float sink = vaddvq_f32(s);
  (void)sink;
  return 2.0 * 4 * kChains * static_cast<double>(iters);
}
#endif

/** Baseline ISA: 4-wide chains the compiler keeps in SSE registers (mul + add, no FMA). */
double run_base(long iters, float seed) {
  float acc[kChains][4];
  for (int i = 0; i < kChains; i++)
    for (int l = 0; l < 4; l++) acc[i][l] = seed + i + l;
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < kChains; i++)
      for (int l = 0; l < 4; l++) acc[i][l] = acc[i][l] * 0.999999f + 1e-7f;
  float s = 0;
  for (int i = 0; i < kChains; i++)
    for (int l = 0; l < 4; l++) s += acc[i][l];
  volatile float sink = s;
  (void)sink;
  return 2.0 * 4 * kChains * static_cast<double>(iters);
}

double run(long iters, float seed) {
#if SFT_X86
  if (cpu_has_avx512()) return run_avx512(iters, seed);
  if (cpu_has_avx2()) return run_avx2(iters, seed);
#endif
#if SFT_ARM64
  if (cpu_has_neon()) return run_neon(iters, seed);
#endif
  return run_base(iters, seed);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double peak_gflops(double seconds, int rounds) {
  const int nt = pool_threads();
  // Size one round from a short single-thread probe.
  long iters = 1 << 14;
  double t0 = now_s();
  run(iters, 1.0f);
  double dt = std::max(now_s() - t0, 1e-6);
  iters = std::max<long>(iters, static_cast<long>(iters * seconds / dt));
  double best = 0;
  for (int r = 0; r < std::max(1, rounds); r++) {
    std::atomic<long> flops_k{0};  // in units of 1e3 flops, summed over threads
    double start = now_s();
    parallel_for(nt, [&](int t) { flops_k.fetch_add(static_cast<long>(run(iters, 1.0f + t) / 1e3)); });
    double el = now_s() - start;
    best = std::max(best, static_cast<double>(flops_k.load()) * 1e3 / el / 1e9);
  }
  return best;
}

}  // namespace sft
