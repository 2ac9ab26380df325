// Shared helpers of the native kernels: CPU feature dispatch, aligned scratch buffers,
// and the macro that compiles one loop body twice (AVX2/FMA and baseline) so that the
// compiler's auto-vectorizer produces an AVX2 version chosen at run time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__GNUC__) || defined(__clang__)
#define SFT_INLINE inline __attribute__((always_inline))
#else
#define SFT_INLINE inline
#endif

#if (defined(__x86_64__) || defined(_M_X64) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SFT_X86 1
#define SFT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SFT_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define SFT_X86 0
#define SFT_TARGET_AVX2
#define SFT_TARGET_AVX512
#endif

// 64-bit Arm (Apple Silicon, Graviton, Ampere): Advanced SIMD (NEON) is part of the base ISA.
#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define SFT_ARM64 1
#else
#define SFT_ARM64 0
#endif

namespace sft {

/** True when the CPU (and OS) support AVX2 and FMA; decided once. */
bool cpu_has_avx2();
/** True when AVX-512F is usable as well (and not disabled by SFTKIT_NO_AVX512=1). */
bool cpu_has_avx512();
/** True on 64-bit Arm unless SFTKIT_SIMD=scalar: the NEON micro-kernels are used. */
bool cpu_has_neon();
/** "avx512", "avx2", "neon" or "scalar" — what this process uses (SFTKIT_SIMD=scalar forces baseline). */
const char* simd_level();

/** A per-thread scratch buffer, 64-byte aligned, grown on demand and never shrunk. */
struct Scratch {
  float* data = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(data);
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      data = static_cast<float*>(std::aligned_alloc(64, bytes));
      cap = n;
    }
    return data;
  }
  ~Scratch() { std::free(data); }
};

/** bfloat16 bit pattern -> float (bf16 is the upper half of an IEEE float32). */
SFT_INLINE float bf16_to_float(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/**
 * exp(x) for float, branch-free so loops using it auto-vectorize: Cody-Waite range
 * reduction and a degree-6 polynomial (max rel. error ~2e-7 over the float range).
 * Returns exactly 0 for x < -87.3 (so -inf masks become 0) and +inf above 88.7.
 */
SFT_INLINE float fast_expf(float x) {
  const float hi = 88.7f;
  const float lo = -87.3f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  const float log2e = 1.44269504088896341f;
  // round to nearest via the 1.5*2^23 trick
  const float shifter = 12582912.0f;
  float t = xc * log2e + shifter;
  float n = t - shifter;
  int32_t ni;
  std::memcpy(&ni, &t, 4);
  ni -= 0x4B400000;  // integer value of n
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  // exp(r) on |r| <= ln2/2
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  float res = p * scale;
  res = x < lo ? 0.0f : res;
  res = x > hi ? __builtin_inff() : res;
  return res;
}

}  // namespace sft

/**
 * Defines `void NAME PARAMS` running the statement block given last, compiled for AVX2/FMA
 * when the CPU has it and for the baseline ISA otherwise (the auto-vectorizer does the rest).
 */
#define SFT_DISPATCH_FN(NAME, PARAMS, ARGS, ...)                 \
  namespace {                                                    \
  SFT_INLINE void NAME##_body PARAMS __VA_ARGS__                 \
  SFT_TARGET_AVX2 void NAME##_avx2 PARAMS { NAME##_body ARGS; }  \
  void NAME##_base PARAMS { NAME##_body ARGS; }                  \
  }                                                              \
  static void NAME PARAMS {                                      \
    if (::sft::cpu_has_avx2())                                   \
      NAME##_avx2 ARGS;                                          \
    else                                                         \
      NAME##_base ARGS;                                          \
  }
