// Single-precision GEMM: C[M,N] (=|+=) op(A)[M,K] · op(B)[K,N] (+ bias[N]), row-major.
#pragma once
#include <cstdint>

namespace sft {

/**
 * transA: A is stored [K, M]; transB: B is stored [N, K]. ldc = N (dense C).
 * accumulate: C += result; bias (nullable): added once per output row.
 */
void sgemm(bool transA, bool transB, long M, long N, long K, const float* A, const float* B, float* C,
           bool accumulate, const float* bias);

/** The same with B given as bfloat16 bit patterns (frozen weights); converted while packing. */
void sgemm_bf16b(bool transA, bool transB, long M, long N, long K, const float* A, const uint16_t* B, float* C,
                 bool accumulate, const float* bias);

/**
 * Single-threaded GEMM on strided views, for use inside an already parallel task:
 * A(i,k) = A[i*rsA + k*csA], B(k,j) = B[k*rsB + j*csB], C(i,j) = C[i*ldc + j].
 */
void sgemm_strided_serial(long M, long N, long K, const float* A, long rsA, long csA, const float* B, long rsB,
                          long csB, float* C, long ldc, bool accumulate);

}  // namespace sft
