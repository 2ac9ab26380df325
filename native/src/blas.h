// An optional system BLAS, loaded at run time with dlopen (never needed to build or install).
// SFTKIT_BLAS: unset/"auto" = use a known optimized library (OpenBLAS, BLIS, MKL) if one is
// found, for the shapes where it wins; "off" = never; "force" = for every float GEMM it can
// take; any other value = the path of a library exporting cblas_sgemm (then as "force").
#pragma once

namespace sft {

/** The loaded library's file name, or nullptr when none is in use. */
const char* blas_library();
/** Why no library is in use ("SFTKIT_BLAS=off", "none found: ..."); nullptr when one is. */
const char* blas_missing_reason();
/** "auto", "force" or "off": the policy in effect. */
const char* blas_mode();

/**
 * Computes the row-major product like sgemm() with the library when the policy selects it for
 * this shape (one call per pool thread on its share of C, the library single-threaded, so it
 * never competes with the pool for the cores). Returns false, doing nothing, otherwise.
 */
bool blas_sgemm(bool transA, bool transB, long M, long N, long K, const float* A, const float* B, float* C,
                bool accumulate, const float* bias);

}  // namespace sft
