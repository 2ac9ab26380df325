// Run-time binding to a system BLAS's cblas_sgemm (see blas.h). The library is called
// single-threaded from each pool thread on a contiguous share of C: its own threads would
// compete with the pool's spinning workers for the same cores between calls.
#include "blas.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "threadpool.h"

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define SFT_HAVE_DLOPEN 1
#else
#define SFT_HAVE_DLOPEN 0
#endif

namespace sft {
namespace {

// CBLAS enum values (fixed by the CBLAS standard).
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                            float*, int);
using SetThreads = void (*)(int);

enum class Mode { Auto, Force, Off };

struct Blas {
  Mode mode = Mode::Auto;
  CblasSgemm sgemm = nullptr;
  std::string library;
  std::string missing;
};

#if SFT_HAVE_DLOPEN
/** Opens `path` and binds cblas_sgemm; pins the library to one thread. False when unusable. */
bool try_open(const char* path, Blas* b, std::string* why) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    *why = e ? e : path;
    return false;
  }
  auto f = reinterpret_cast<CblasSgemm>(dlsym(h, "cblas_sgemm"));
  if (!f) {
    *why = std::string(path) + " has no cblas_sgemm";
    dlclose(h);
    return false;
  }
  for (const char* name : {"openblas_set_num_threads", "bli_thread_set_num_threads", "MKL_Set_Num_Threads"}) {
    if (auto set = reinterpret_cast<SetThreads>(dlsym(h, name))) set(1);
  }
  b->sgemm = f;
  b->library = path;
  return true;
}
#endif

Blas load() {
  Blas b;
  const char* env = std::getenv("SFTKIT_BLAS");
  std::string v = env ? env : "";
  if (v == "off" || v == "0") {
    b.mode = Mode::Off;
    b.missing = "SFTKIT_BLAS=off";
    return b;
  }
#if !SFT_HAVE_DLOPEN
  b.mode = Mode::Off;
  b.missing = "no dlopen on this platform";
  return b;
#else
  // Its threads are never used (see above): do not let the library start one per core.
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  setenv("BLIS_NUM_THREADS", "1", 0);
  setenv("MKL_NUM_THREADS", "1", 0);
  if (!v.empty() && v != "auto" && v != "force" && v != "1") {
    b.mode = Mode::Force;
    std::string why;
    if (!try_open(v.c_str(), &b, &why)) {
      b.missing = "SFTKIT_BLAS=" + v + ": " + why;
      // Asked for by name: say so instead of silently running the built-in kernels.
      std::fprintf(stderr, "sftkit: WARNING: %s; using the built-in GEMM kernels\n", b.missing.c_str());
    }
    return b;
  }
  b.mode = (v == "force" || v == "1") ? Mode::Force : Mode::Auto;
  // Only libraries known to be optimized: a reference BLAS behind libblas.so.3 is slower
  // than the built-in kernels, so the generic name is taken only when it is OpenBLAS/BLIS.
  const char* candidates[] = {
#ifdef __APPLE__
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
#endif
      "libopenblas.so.0",
      "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
      "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
      "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
      "/usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0",
      "libopenblas.so",
      "libblis.so.4",
      "libblis.so",
      "libopenblas.dylib",
      "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
      "/usr/local/opt/openblas/lib/libopenblas.dylib",
  };
  std::string tried;
  for (const char* path : candidates) {
    std::string why;
    if (try_open(path, &b, &why)) return b;
    tried += tried.empty() ? "" : "; ";
    tried += why;
  }
  // The generic alternative, if it is an optimized library in disguise.
  if (void* h = dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL)) {
    bool known = dlsym(h, "openblas_get_config") || dlsym(h, "bli_info_get_version_str");
    dlclose(h);
    std::string why;
    if (known && try_open("libblas.so.3", &b, &why)) return b;
    tried += known ? "; " + why : "; libblas.so.3 is not OpenBLAS/BLIS";
  }
  b.missing = "no optimized BLAS found (" + tried + ")";
  if (b.mode == Mode::Force)
    std::fprintf(stderr, "sftkit: WARNING: SFTKIT_BLAS=force: %s; using the built-in GEMM kernels\n",
                 b.missing.c_str());
  return b;
#endif
}

const Blas& blas() {
  static const Blas b = load();
  return b;
}

/**
 * The measured rule of auto mode (tools/bench-gemm.ts, README "GEMM"): the library is used
 * for products of at least kMinMacs multiply-adds with more than kMinRows output rows; below
 * that the built-in kernels (no packing hand-off, no per-call setup) are as fast or faster.
 */
constexpr double kMinMacs = 1 << 22;
constexpr long kMinRows = 16;

bool wanted(long M, long N, long K) {
  const Blas& b = blas();
  if (!b.sgemm || b.mode == Mode::Off) return false;
  if (M > 0x7fffffffL || N > 0x7fffffffL || K > 0x7fffffffL) return false;
  if (b.mode == Mode::Force) return true;
  return M >= kMinRows && N >= kMinRows && static_cast<double>(M) * N * K >= kMinMacs;
}

/** One library call on rows [r0, r1) × cols [c0, c1) of C. */
void call(bool tA, bool tB, long M, long N, long K, const float* A, const float* B, float* C, bool accumulate,
          const float* bias, long r0, long r1, long c0, long c1) {
  const long m = r1 - r0, n = c1 - c0;
  if (m <= 0 || n <= 0) return;
  float* c = C + r0 * N + c0;
  float beta = accumulate ? 1.0f : 0.0f;
  if (bias) {
    for (long i = 0; i < m; i++)
      for (long j = 0; j < n; j++) c[i * N + j] = (accumulate ? c[i * N + j] : 0.0f) + bias[c0 + j];
    beta = 1.0f;
  }
  if (K == 0) {
    if (!accumulate && !bias)
      for (long i = 0; i < m; i++) std::memset(c + i * N, 0, n * sizeof(float));
    return;
  }
  // A stored [M,K] (lda K) or [K,M] (lda M); B stored [K,N] (ldb N) or [N,K] (ldb K).
  const float* a = tA ? A + r0 : A + r0 * K;
  const float* b = tB ? B + c0 * K : B + c0;
  blas().sgemm(kRowMajor, tA ? kTrans : kNoTrans, tB ? kTrans : kNoTrans, static_cast<int>(m), static_cast<int>(n),
               static_cast<int>(K), 1.0f, a, static_cast<int>(tA ? M : K), b, static_cast<int>(tB ? K : N), beta, c,
               static_cast<int>(N));
}

}  // namespace

const char* blas_library() { return blas().sgemm ? blas().library.c_str() : nullptr; }
const char* blas_missing_reason() { return blas().sgemm ? nullptr : blas().missing.c_str(); }
const char* blas_mode() {
  switch (blas().mode) {
    case Mode::Force:
      return "force";
    case Mode::Off:
      return "off";
    default:
      return "auto";
  }
}

bool blas_sgemm(bool transA, bool transB, long M, long N, long K, const float* A, const float* B, float* C,
                bool accumulate, const float* bias) {
  if (!wanted(M, N, K)) return false;
  const int nt = pool_threads();
  const double macs = static_cast<double>(M) * N * (K > 0 ? K : 1);
  const int parts = macs < (1 << 18) ? 1 : nt;
  // Split the longer side of C so each share stays a well-shaped product.
  const bool byRows = M >= N;
  const long len = byRows ? M : N;
  const int used = static_cast<int>(std::min<long>(parts, (len + 15) / 16));
  parallel_for(used, [&](int t) {
    long b, e;
    chunk_range(len, used, t, 16, &b, &e);
    if (byRows)
      call(transA, transB, M, N, K, A, B, C, accumulate, bias, b, e, 0, N);
    else
      call(transA, transB, M, N, K, A, B, C, accumulate, bias, 0, M, b, e);
  });
  return true;
}

}  // namespace sft
