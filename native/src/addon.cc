// N-API entry points of sftkit's native kernels. Each function takes typed arrays (used in
// place), checks their lengths against the shapes, and runs the kernel synchronously.
#include <napi.h>

#include "args.h"
#include "blas.h"
#include "common.h"
#include "gemm.h"
#include "ops.h"
#include "peak.h"
#include "threadpool.h"

using sft::Args;

namespace {

Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), "sftkit-native/0.2.0"); }

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("simd", sft::simd_level());
  o.Set("threads", sft::pool_threads());
  const char* lib = sft::blas_library();
  o.Set("blas", lib ? Napi::Value(Napi::String::New(info.Env(), lib)) : info.Env().Null());
  o.Set("blasMode", sft::blas_mode());
  const char* why = sft::blas_missing_reason();
  o.Set("blasMissing", why ? Napi::Value(Napi::String::New(info.Env(), why)) : info.Env().Null());
  return o;
}

// peakGflops(seconds, rounds): measured FMA peak of all pool threads at the SIMD level in use.
Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  double seconds = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0.1;
  int rounds = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 3;
  seconds = seconds > 0 && seconds < 10 ? seconds : 0.1;
  return Napi::Number::New(info.Env(), sft::peak_gflops(seconds, rounds));
}

// matmul(out, a, b, M, N, K, transA, transB, accumulate, bias|null)
template <bool kBf16>
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Args a(info, kBf16 ? "matmulBf16" : "matmul");
  long M = a.dim(3, "M"), N = a.dim(4, "N"), K = a.dim(5, "K");
  bool tA = a.flag(6), tB = a.flag(7), acc = a.flag(8);
  float* out = a.f32(0, "out", M * N);
  const float* A = a.f32(1, "a", M * K);
  const float* bias = a.f32(9, "bias", N, true);
  if constexpr (kBf16) {
    const uint16_t* B = a.u16(2, "b", K * N);
    if (!a.ok()) return info.Env().Undefined();
    sft::sgemm_bf16b(tA, tB, M, N, K, A, B, out, acc, bias);
  } else {
    const float* B = a.f32(2, "b", K * N);
    if (!a.ok()) return info.Env().Undefined();
    sft::sgemm(tA, tB, M, N, K, A, B, out, acc, bias);
  }
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("matmul", Napi::Function::New(env, Matmul<false>));
  exports.Set("peakGflops", Napi::Function::New(env, PeakGflops));
  exports.Set("matmulBf16", Napi::Function::New(env, Matmul<true>));
  sft::register_ops(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(sftkit_native, Init)
