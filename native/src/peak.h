// The machine's measured fp32 FMA peak: what GEMM efficiency is judged against.
#pragma once

namespace sft {

/**
 * GFLOP/s of independent fused multiply-add chains on every pool thread at once, at the SIMD
 * level in use (AVX-512, AVX2 or the baseline ISA); best of `rounds` runs of ~`seconds` each.
 */
double peak_gflops(double seconds, int rounds);

}  // namespace sft
