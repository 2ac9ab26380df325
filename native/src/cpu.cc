// Run-time CPU feature detection; SFTKIT_SIMD=scalar|avx2 caps the level (for tests and
// for comparing code paths on one machine).
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace sft {
namespace {

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
  return level < cap ? level : cap;
}

int level() {
  static const int l = detect();
  return l;
}

}  // namespace

bool cpu_has_avx2() { return level() >= 1; }
bool cpu_has_avx512() { return level() >= 2; }
const char* simd_level() {
  switch (level()) {
    case 2:
      return "avx512";
    case 1:
      return "avx2";
    default:
      return "scalar";
  }
}

}  // namespace sft
