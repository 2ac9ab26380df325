// Argument unpacking for the N-API entry points: typed arrays are used in place (no copy),
// and every length is checked against what the kernel will touch, so a wrong shape from
// JavaScript becomes a RangeError instead of memory corruption.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace sft {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn) : info_(info), fn_(fn) {}

  bool ok() const { return !failed_; }
  Napi::Env env() const { return info_.Env(); }

  /** A non-negative integer argument. */
  long dim(int i, const char* name) {
    if (failed_) return 0;
    Napi::Value v = info_[i];
    if (!v.IsNumber()) return fail_type(name, "a number"), 0;
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d > 9.0e15 || d != static_cast<double>(static_cast<long>(d)))
      return fail_range(std::string(name) + " must be a non-negative integer"), 0;
    return static_cast<long>(d);
  }
  double num(int i, const char* name) {
    if (failed_) return 0;
    Napi::Value v = info_[i];
    if (!v.IsNumber()) return fail_type(name, "a number"), 0;
    return v.As<Napi::Number>().DoubleValue();
  }
  bool flag(int i) {
    if (failed_) return false;
    return info_[i].ToBoolean().Value();
  }

  float* f32(int i, const char* name, size_t need, bool nullable = false) {
    return typed<float>(i, name, need, nullable, napi_float32_array, "a Float32Array");
  }
  const int32_t* i32(int i, const char* name, size_t need, bool nullable = false) {
    return typed<int32_t>(i, name, need, nullable, napi_int32_array, "an Int32Array");
  }
  const uint16_t* u16(int i, const char* name, size_t need) {
    return typed<uint16_t>(i, name, need, false, napi_uint16_array, "a Uint16Array");
  }

  void fail_range(const std::string& msg) {
    if (failed_) return;
    failed_ = true;
    Napi::RangeError::New(info_.Env(), std::string(fn_) + ": " + msg).ThrowAsJavaScriptException();
  }

 private:
  template <typename T>
  T* typed(int i, const char* name, size_t need, bool nullable, napi_typedarray_type type, const char* what) {
    if (failed_) return nullptr;
    napi_value v = info_[i];
    napi_env env = info_.Env();
    // One napi_get_typedarray_info call per argument: the per-call cost matters for small kernels.
    bool isTyped = false;
    napi_is_typedarray(env, v, &isTyped);
    if (!isTyped) {
      napi_valuetype vt = napi_undefined;
      napi_typeof(env, v, &vt);
      if ((vt == napi_null || vt == napi_undefined) && nullable) return nullptr;
      return fail_type(name, what), nullptr;
    }
    napi_typedarray_type actual;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, v, &actual, &length, &data, nullptr, nullptr) != napi_ok || actual != type)
      return fail_type(name, what), nullptr;
    if (length < need) {
      fail_range(std::string(name) + " has " + std::to_string(length) + " elements, needs " + std::to_string(need));
      return nullptr;
    }
    return static_cast<T*>(data);
  }
  void fail_type(const char* name, const char* what) {
    if (failed_) return;
    failed_ = true;
    Napi::TypeError::New(info_.Env(), std::string(fn_) + ": " + name + " must be " + what)
        .ThrowAsJavaScriptException();
  }

  const Napi::CallbackInfo& info_;
  const char* fn_;
  bool failed_ = false;
};

}  // namespace sft
