// A stand-alone check of the GEMM kernels against a double-precision reference, without
// Node: built for another architecture with a cross compiler and run under an emulator
// (test/native/gemm-cross.test.ts), it tests the kernel paths of CPUs the test machine does
// not have. Prints the SIMD level in use and one line per failed case; exit status 1 on any.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../src/common.h"
#include "../src/gemm.h"

namespace {

struct Case {
  long M, N, K;
};

int failures = 0;

float bf16_round(float x, uint16_t* bits) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  *bits = static_cast<uint16_t>(u >> 16);
  return sft::bf16_to_float(*bits);
}

// C = op(A)·op(B) (+ C0 when accumulating) (+ bias), in double; `mag` gets Σ|a·b| for the tolerance.
void reference(bool tA, bool tB, const Case& c, const std::vector<float>& A, const std::vector<float>& B,
               const std::vector<float>& C0, bool acc, const float* bias, std::vector<double>& out,
               std::vector<double>& mag) {
  for (long i = 0; i < c.M; i++)
    for (long j = 0; j < c.N; j++) {
      double s = 0, m = 0;
      for (long k = 0; k < c.K; k++) {
        double a = tA ? A[k * c.M + i] : A[i * c.K + k];
        double b = tB ? B[j * c.K + k] : B[k * c.N + j];
        s += a * b;
        m += std::fabs(a * b);
      }
      if (bias) s += bias[j];
      if (acc) s += C0[i * c.N + j];
      out[i * c.N + j] = s;
      mag[i * c.N + j] = m + 1.0;
    }
}

void check(const char* what, const Case& c, bool tA, bool tB, bool acc, bool withBias, const std::vector<float>& C,
           const std::vector<double>& ref, const std::vector<double>& mag) {
  for (long i = 0; i < c.M * c.N; i++) {
    if (!(std::fabs(C[i] - ref[i]) <= 2e-6 * mag[i] * std::sqrt(static_cast<double>(c.K) + 1))) {
      std::printf("FAIL %s M=%ld N=%ld K=%ld transA=%d transB=%d accumulate=%d bias=%d at %ld: %g vs %g\n", what, c.M,
                  c.N, c.K, tA, tB, acc, withBias, i, C[i], ref[i]);
      failures++;
      return;
    }
  }
}

}  // namespace

int main() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  // odd sizes around every tile edge (MR 4/6/8/12, NR 12/16/32), the few-row path (M <= 4),
  // a K beyond one KC block, and products large enough for the threaded path
  const Case cases[] = {{1, 1, 1},   {3, 17, 5},    {4, 33, 70},   {5, 12, 9},     {8, 12, 16},  {9, 13, 31},
                        {17, 25, 3}, {24, 36, 300}, {37, 29, 61},  {63, 95, 129},  {100, 7, 513}, {131, 157, 67},
                        {150, 260, 90}};
  std::printf("simd %s\n", sft::simd_level());
  int checked = 0;
  for (const Case& c : cases)
    for (int v = 0; v < 8; v++) {
      const bool tA = v & 1, tB = v & 2, acc = v & 4;
      const bool withBias = (c.M + v) % 2 == 0;
      std::vector<float> A(c.M * c.K), B(c.K * c.N), C0(c.M * c.N), bias(c.N);
      for (auto& x : A) x = u(rng);
      for (auto& x : B) x = u(rng);
      for (auto& x : C0) x = u(rng);
      for (auto& x : bias) x = u(rng);
      std::vector<double> ref(c.M * c.N), mag(c.M * c.N);
      reference(tA, tB, c, A, B, C0, acc, withBias ? bias.data() : nullptr, ref, mag);
      std::vector<float> C = C0;
      sft::sgemm(tA, tB, c.M, c.N, c.K, A.data(), B.data(), C.data(), acc, withBias ? bias.data() : nullptr);
      check("sgemm", c, tA, tB, acc, withBias, C, ref, mag);
      // bf16 B: the reference takes the rounded values
      std::vector<uint16_t> Bh(B.size());
      std::vector<float> Br(B.size());
      for (size_t i = 0; i < B.size(); i++) Br[i] = bf16_round(B[i], &Bh[i]);
      reference(tA, tB, c, A, Br, C0, acc, withBias ? bias.data() : nullptr, ref, mag);
      C = C0;
      sft::sgemm_bf16b(tA, tB, c.M, c.N, c.K, A.data(), Bh.data(), C.data(), acc, withBias ? bias.data() : nullptr);
      check("sgemm_bf16b", c, tA, tB, acc, withBias, C, ref, mag);
      checked += 2;
    }
  // the strided single-thread entry (attention's per-head products)
  for (const Case& c : cases) {
    std::vector<float> A(c.M * c.K), B(c.K * c.N), C0(c.M * c.N);
    for (auto& x : A) x = u(rng);
    for (auto& x : B) x = u(rng);
    std::vector<double> ref(c.M * c.N), mag(c.M * c.N);
    reference(false, true, c, A, B, C0, false, nullptr, ref, mag);
    std::vector<float> C(c.M * c.N, 0.0f);
    sft::sgemm_strided_serial(c.M, c.N, c.K, A.data(), c.K, 1, B.data(), 1, c.K, C.data(), c.N, false);
    check("sgemm_strided_serial", c, false, true, false, false, C, ref, mag);
    checked++;
  }
  std::printf("%d products checked, %d failed\n", checked, failures);
  return failures ? 1 : 0;
}
