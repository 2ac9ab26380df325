// Row-wise and elementwise kernels (norms, RoPE, activations, cross-entropy, AdamW, …)
// and attention, with their N-API bindings.
#pragma once
#include <napi.h>

namespace sft {

/** Adds the op bindings (everything except matmul) to the addon's exports. */
void register_ops(Napi::Env env, Napi::Object exports);
void register_attention(Napi::Env env, Napi::Object exports);

}  // namespace sft
