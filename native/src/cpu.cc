// Run-time CPU feature detection; SFTKIT_SIMD=scalar|avx2 caps the level (for tests and
// for comparing code paths on one machine). Levels: 0 scalar, 1 AVX2+FMA, 2 AVX-512F on x86;
// on 64-bit Arm NEON is always there (level kNeon), and only SFTKIT_SIMD=scalar turns it off.
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace sft {
namespace {

constexpr int kNeon = 3;

int env_cap() {
  const char* s = std::getenv("SFTKIT_SIMD");
  if (!s) return 2;
  if (std::strcmp(s, "scalar") == 0) return 0;
  if (std::strcmp(s, "avx2") == 0) return 1;
  return 2;
}

int detect() {
  int level = 0;
#if SFT_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = 1;
  if (level == 1 && __builtin_cpu_supports("avx512f")) level = 2;
#endif
  int cap = env_cap();
#if SFT_ARM64
  return cap == 0 ? 0 : kNeon;
#endif
  return level < cap ? level : cap;
}

int level() {
  static const int l = detect();
  return l;
}

}  // namespace

bool cpu_has_avx2() { return level() == 1 || level() == 2; }
bool cpu_has_avx512() { return level() == 2; }
bool cpu_has_neon() { return level() == kNeon; }
const char* simd_level() {
  switch (level()) {
    case 2:
      return "avx512";
    case 1:
      return "avx2";
    case kNeon:
      return "neon";
    default:
      return "scalar";
  }
}

}  // namespace sft
