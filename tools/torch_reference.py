#!/usr/bin/env python3
"""Independent plain-PyTorch implementation of sftkit's model architectures, used to
prove the TypeScript engine right (parity fixtures) and as the speed baseline.

It re-implements, with ordinary torch ops and autograd, the Hugging Face semantics of
the Llama family (Llama 2/3, Mistral, Qwen2 q/k/v bias, Qwen3 q/k RMSNorm, SmolLM;
grouped-query attention, "rotate half" RoPE with default/linear/llama3 scaling, tied or
untied embeddings) and GPT-2 (LayerNorm, learned positions, Conv1D weights [in, out],
tanh GELU), Mistral's sliding window, and Gemma 2 / Gemma 3 text ((1 + w) RMSNorm, embeddings
scaled by sqrt(hidden), four norms per layer, q/k norm, GeGLU, query_pre_attn_scalar,
sliding and global layers with their own RoPE base, attention and final-logit soft-capping),
plus LoRA as PEFT applies it. It needs only torch (Debian python3-torch 1.13).

Modes (run with /usr/bin/python3):
  grads     --model DIR|config.json --weights W.safetensors --batch B.json --out O.safetensors
            [--adapter A.safetensors --lora-r R --lora-alpha A --lora-targets a,b [--rslora]]
            [--dtype float64|float32]
            writes loss [1], logits [B,T,V], grad.<name> and param.<name> per trainable tensor.
            --adapter may be an `sft grads` output: its param.*lora_* tensors are used.
  fixtures  --out DIR [--only a,b]   writes the committed parity fixtures (tiny random models +
            expected outputs); --only: just the named ones
  bench     --model config.json --batch-size B --seq-len T --steps N [--warmup W] [--lora-r R]
            times AdamW training steps on random tokens; prints one JSON line.
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import torch

torch.set_num_threads(2)

# --------------------------------------------------------------------------------------
# safetensors (a JSON header and raw little-endian bytes; no extra package needed)

_DT = {
    "F32": torch.float32,
    "F64": torch.float64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I32": torch.int32,
    "I64": torch.int64,
}
_DT_NAME = {v: k for k, v in _DT.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = bytearray(data[a:b])
        dt = _DT[e["dtype"]]
        t = torch.frombuffer(buf, dtype=dt) if len(buf) else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header = {}
    blobs = []
    off = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _DT_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------
# config.json


class Cfg:
    pass


def parse_gemma_config(j):
    """Gemma 2 / Gemma 3 text (and the text_config of a gemma3 vision checkpoint)."""
    c = Cfg()
    if j["model_type"] == "gemma3":
        outer = j
        j = dict(j["text_config"])
        j.setdefault("tie_word_embeddings", outer.get("tie_word_embeddings", True))
        j["model_type"] = "gemma3_text"
    c.model_type = j["model_type"]
    c.arch = "gemma"
    c.vocab = j["vocab_size"]
    c.hidden = j["hidden_size"]
    c.layers = j["num_hidden_layers"]
    c.heads = j["num_attention_heads"]
    c.kv_heads = j.get("num_key_value_heads") or c.heads
    c.head_dim = j.get("head_dim") or 256
    c.inter = j["intermediate_size"]
    c.max_pos = j.get("max_position_embeddings", 32768)
    c.eps = j.get("rms_norm_eps", 1e-6)
    gemma3 = c.model_type == "gemma3_text"
    c.theta = j.get("rope_theta", 1e6 if gemma3 else 10000.0)
    c.scaling = j.get("rope_scaling")
    # sliding layers of Gemma 3 rotate with their own base and no scaling
    c.local_theta = j.get("rope_local_base_freq", 10000.0) if gemma3 else c.theta
    c.tied = j.get("tie_word_embeddings", True)
    c.qkv_bias = c.o_bias = j.get("attention_bias", False)
    c.mlp_bias = False
    c.qk_norm = gemma3
    c.window = j.get("sliding_window")
    if "layer_types" in j:
        c.sliding = [t == "sliding_attention" for t in j["layer_types"]]
    elif gemma3:
        n = j.get("sliding_window_pattern", 6)
        c.sliding = [(i + 1) % n != 0 for i in range(c.layers)]
    else:
        c.sliding = [i % 2 == 0 for i in range(c.layers)]
    c.attn_scale = j.get("query_pre_attn_scalar", c.head_dim) ** -0.5
    c.attn_cap = j.get("attn_logit_softcapping")
    c.final_cap = j.get("final_logit_softcapping")
    return c


def parse_config(j):
    if j["model_type"] in ("gemma2", "gemma3_text", "gemma3"):
        return parse_gemma_config(j)
    c = Cfg()
    c.model_type = j["model_type"]
    c.vocab = j["vocab_size"]
    if c.model_type == "gpt2":
        c.arch = "gpt2"
        c.hidden = j["n_embd"]
        c.layers = j["n_layer"]
        c.heads = j["n_head"]
        c.kv_heads = c.heads
        c.head_dim = c.hidden // c.heads
        c.inter = j.get("n_inner") or 4 * c.hidden
        c.max_pos = j["n_positions"]
        c.eps = j.get("layer_norm_epsilon", 1e-5)
        c.tied = j.get("tie_word_embeddings", True)
        return c
    c.arch = "llama"
    c.hidden = j["hidden_size"]
    c.layers = j["num_hidden_layers"]
    c.heads = j["num_attention_heads"]
    c.kv_heads = j.get("num_key_value_heads") or c.heads
    c.head_dim = j.get("head_dim") or c.hidden // c.heads
    c.inter = j["intermediate_size"]
    c.max_pos = j.get("max_position_embeddings", 2048)
    c.eps = j.get("rms_norm_eps", 1e-6)
    c.theta = j.get("rope_theta", 10000.0)
    c.scaling = j.get("rope_scaling")
    c.tied = j.get("tie_word_embeddings", False)
    qwen2 = c.model_type == "qwen2"
    c.qkv_bias = True if qwen2 else j.get("attention_bias", False)
    c.o_bias = False if qwen2 else j.get("attention_bias", False)
    c.mlp_bias = j.get("mlp_bias", False)
    c.qk_norm = c.model_type == "qwen3"
    # Mistral's sliding window: a query sees itself and the window - 1 keys before it.
    c.window = j.get("sliding_window") if c.model_type == "mistral" else None
    return c


def param_shapes(c):
    """HF tensor names and shapes, in a fixed order."""
    s = {}
    C, I, V = c.hidden, c.inter, c.vocab
    if c.arch == "gpt2":
        s["transformer.wte.weight"] = (V, C)
        s["transformer.wpe.weight"] = (c.max_pos, C)
        for l in range(c.layers):
            p = f"transformer.h.{l}"
            s[f"{p}.ln_1.weight"] = (C,)
            s[f"{p}.ln_1.bias"] = (C,)
            s[f"{p}.attn.c_attn.weight"] = (C, 3 * C)
            s[f"{p}.attn.c_attn.bias"] = (3 * C,)
            s[f"{p}.attn.c_proj.weight"] = (C, C)
            s[f"{p}.attn.c_proj.bias"] = (C,)
            s[f"{p}.ln_2.weight"] = (C,)
            s[f"{p}.ln_2.bias"] = (C,)
            s[f"{p}.mlp.c_fc.weight"] = (C, I)
            s[f"{p}.mlp.c_fc.bias"] = (I,)
            s[f"{p}.mlp.c_proj.weight"] = (I, C)
            s[f"{p}.mlp.c_proj.bias"] = (C,)
        s["transformer.ln_f.weight"] = (C,)
        s["transformer.ln_f.bias"] = (C,)
    else:
        QD, KD = c.heads * c.head_dim, c.kv_heads * c.head_dim
        s["model.embed_tokens.weight"] = (V, C)
        for l in range(c.layers):
            p = f"model.layers.{l}"
            s[f"{p}.input_layernorm.weight"] = (C,)
            for n, o, i, b in (("q_proj", QD, C, c.qkv_bias), ("k_proj", KD, C, c.qkv_bias),
                               ("v_proj", KD, C, c.qkv_bias), ("o_proj", C, QD, c.o_bias)):
                s[f"{p}.self_attn.{n}.weight"] = (o, i)
                if b:
                    s[f"{p}.self_attn.{n}.bias"] = (o,)
            if c.qk_norm:
                s[f"{p}.self_attn.q_norm.weight"] = (c.head_dim,)
                s[f"{p}.self_attn.k_norm.weight"] = (c.head_dim,)
            s[f"{p}.post_attention_layernorm.weight"] = (C,)
            if c.arch == "gemma":
                s[f"{p}.pre_feedforward_layernorm.weight"] = (C,)
                s[f"{p}.post_feedforward_layernorm.weight"] = (C,)
            for n, o, i in (("gate_proj", I, C), ("up_proj", I, C), ("down_proj", C, I)):
                s[f"{p}.mlp.{n}.weight"] = (o, i)
                if c.mlp_bias:
                    s[f"{p}.mlp.{n}.bias"] = (o,)
        s["model.norm.weight"] = (C,)
    if not c.tied:
        s["lm_head.weight"] = (V, C)
    return s


def lora_modules(c, targets):
    """(module path, in, out) of every linear whose last name is in targets."""
    out = []
    C, I = c.hidden, c.inter
    for l in range(c.layers):
        if c.arch == "gpt2":
            p = f"transformer.h.{l}"
            mods = [("attn.c_attn", C, 3 * C), ("attn.c_proj", C, C), ("mlp.c_fc", C, I), ("mlp.c_proj", I, C)]
        else:
            p = f"model.layers.{l}"
            QD, KD = c.heads * c.head_dim, c.kv_heads * c.head_dim
            mods = [("self_attn.q_proj", C, QD), ("self_attn.k_proj", C, KD), ("self_attn.v_proj", C, KD),
                    ("self_attn.o_proj", QD, C), ("mlp.gate_proj", C, I), ("mlp.up_proj", C, I),
                    ("mlp.down_proj", I, C)]
        for m, i, o in mods:
            if m.split(".")[-1] in targets:
                out.append((f"{p}.{m}", i, o))
    return out


def peft(path, which):
    return f"base_model.model.{path}.lora_{which}.weight"


# --------------------------------------------------------------------------------------
# the model, written out with plain torch ops


class Reference:
    def __init__(self, c, weights, lora=None, dtype=torch.float64):
        """weights: HF name -> tensor. lora: dict(r, alpha, targets, rslora, tensors) or None."""
        self.c = c
        self.dtype = dtype
        self.p = {}
        for name, shape in param_shapes(c).items():
            t = weights.get(name)
            if t is None:
                raise SystemExit(f"missing tensor {name}")
            if tuple(t.shape) != tuple(shape):
                raise SystemExit(f"tensor {name} has shape {tuple(t.shape)}, expected {shape}")
            self.p[name] = t.to(dtype).clone().requires_grad_(lora is None)
        self.lora = {}
        if lora:
            r = lora["r"]
            self.scaling = lora["alpha"] / (math.sqrt(r) if lora.get("rslora") else r)
            for path, i, o in lora_modules(c, lora["targets"]):
                a = lora["tensors"][peft(path, "A")].to(dtype).clone().requires_grad_(True)
                b = lora["tensors"][peft(path, "B")].to(dtype).clone().requires_grad_(True)
                self.lora[path] = (a, b)

    def trainable(self):
        if self.lora:
            out = {}
            for path, (a, b) in self.lora.items():
                out[peft(path, "A")] = a
                out[peft(path, "B")] = b
            return out
        return dict(self.p)

    def linear(self, x, path, conv1d=False):
        w = self.p[path + ".weight"]
        y = x @ w if conv1d else x @ w.t()
        b = self.p.get(path + ".bias")
        if b is not None:
            y = y + b
        if path in self.lora:
            a, bb = self.lora[path]
            y = y + self.scaling * ((x @ a.t()) @ bb.t())
        return y

    def attention_mask(self, T, segments, window=None):
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        if window:
            i = torch.arange(T).unsqueeze(1)
            j = torch.arange(T).unsqueeze(0)
            causal = causal & (i - j < window)
        m = causal.unsqueeze(0)
        if segments is not None:
            same = segments.unsqueeze(2) == segments.unsqueeze(1)
            m = m & same
        return m.unsqueeze(1)  # [B or 1, 1, T, T]

    def attend(self, q, k, v, mask, scale=None, cap=None):
        # q [B,H,T,D], k/v [B,KVH,T,D]
        rep = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
        if cap:
            s = cap * torch.tanh(s / cap)
        s = s.masked_fill(~mask, float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    def rope_tables(self, positions, theta=None, scaling="config"):
        c = self.c
        D = c.head_dim
        inv = 1.0 / ((theta or c.theta) ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
        sc = c.scaling if scaling == "config" else scaling
        kind = (sc or {}).get("rope_type", (sc or {}).get("type")) if sc else None
        if kind == "linear":
            inv = inv / sc["factor"]
        elif kind == "llama3":
            factor, low, high = sc["factor"], sc.get("low_freq_factor", 1.0), sc.get("high_freq_factor", 4.0)
            old = sc.get("original_max_position_embeddings", 8192)
            wavelen = 2 * math.pi / inv
            scaled = torch.where(wavelen > old / low, inv / factor, inv)
            smooth = (old / wavelen - low) / (high - low)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = (wavelen >= old / high) & (wavelen <= old / low)
            inv = torch.where(medium, smoothed, scaled)
        elif kind not in (None, "default", "dynamic"):
            raise SystemExit(f"rope_scaling {kind} not supported")
        ang = positions.to(torch.float64).unsqueeze(-1) * inv  # [B,T,D/2]
        emb = torch.cat([ang, ang], dim=-1)
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    @staticmethod
    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat([-x[..., h:], x[..., :h]], dim=-1)

    def rmsnorm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c.eps) * w

    def gemma_norm(self, x, w):
        """Gemma's RMSNorm scales by (1 + w)."""
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c.eps) * (1.0 + w)

    def gemma_hidden_states(self, ids, positions, segments):
        c = self.c
        p = self.p
        B, T = ids.shape
        full_mask = self.attention_mask(T, segments)
        window_mask = self.attention_mask(T, segments, c.window)
        g_cos, g_sin = self.rope_tables(positions)
        l_cos, l_sin = self.rope_tables(positions, c.local_theta, None if c.qk_norm else "config")
        H, KVH, D = c.heads, c.kv_heads, c.head_dim
        x = p["model.embed_tokens.weight"][ids] * math.sqrt(c.hidden)
        for l in range(c.layers):
            pre = f"model.layers.{l}"
            sliding = c.sliding[l] and c.window
            cos, sin = (l_cos, l_sin) if sliding else (g_cos, g_sin)
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
            h = self.gemma_norm(x, p[f"{pre}.input_layernorm.weight"])
            q = self.linear(h, f"{pre}.self_attn.q_proj").view(B, T, H, D)
            k = self.linear(h, f"{pre}.self_attn.k_proj").view(B, T, KVH, D)
            v = self.linear(h, f"{pre}.self_attn.v_proj").view(B, T, KVH, D)
            if c.qk_norm:
                q = self.gemma_norm(q, p[f"{pre}.self_attn.q_norm.weight"])
                k = self.gemma_norm(k, p[f"{pre}.self_attn.k_norm.weight"])
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            a = self.attend(q, k, v, window_mask if sliding else full_mask, c.attn_scale, c.attn_cap)
            a = self.linear(a.transpose(1, 2).reshape(B, T, H * D), f"{pre}.self_attn.o_proj")
            x = x + self.gemma_norm(a, p[f"{pre}.post_attention_layernorm.weight"])
            h = self.gemma_norm(x, p[f"{pre}.pre_feedforward_layernorm.weight"])
            g = self.linear(h, f"{pre}.mlp.gate_proj")
            g = 0.5 * g * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (g + 0.044715 * g.pow(3))))
            m = self.linear(g * self.linear(h, f"{pre}.mlp.up_proj"), f"{pre}.mlp.down_proj")
            x = x + self.gemma_norm(m, p[f"{pre}.post_feedforward_layernorm.weight"])
        return self.gemma_norm(x, p["model.norm.weight"])

    def hidden_states(self, ids, positions, segments):
        c = self.c
        if c.arch == "gemma":
            return self.gemma_hidden_states(ids, positions, segments)
        B, T = ids.shape
        mask = self.attention_mask(T, segments, getattr(c, "window", None))
        if c.arch == "gpt2":
            p = self.p
            x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][positions]
            C, H = c.hidden, c.heads
            for l in range(c.layers):
                pre = f"transformer.h.{l}"
                h = torch.nn.functional.layer_norm(x, (C,), p[f"{pre}.ln_1.weight"], p[f"{pre}.ln_1.bias"], c.eps)
                qkv = self.linear(h, f"{pre}.attn.c_attn", conv1d=True)
                q, k, v = qkv.split(C, dim=-1)
                q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
                a = self.attend(q, k, v, mask).transpose(1, 2).reshape(B, T, C)
                x = x + self.linear(a, f"{pre}.attn.c_proj", conv1d=True)
                h = torch.nn.functional.layer_norm(x, (C,), p[f"{pre}.ln_2.weight"], p[f"{pre}.ln_2.bias"], c.eps)
                f = self.linear(h, f"{pre}.mlp.c_fc", conv1d=True)
                f = 0.5 * f * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (f + 0.044715 * f.pow(3))))
                x = x + self.linear(f, f"{pre}.mlp.c_proj", conv1d=True)
            return torch.nn.functional.layer_norm(x, (C,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], c.eps)
        p = self.p
        x = p["model.embed_tokens.weight"][ids]
        cos, sin = self.rope_tables(positions)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # [B,1,T,D]
        H, KVH, D = c.heads, c.kv_heads, c.head_dim
        for l in range(c.layers):
            pre = f"model.layers.{l}"
            h = self.rmsnorm(x, p[f"{pre}.input_layernorm.weight"])
            q = self.linear(h, f"{pre}.self_attn.q_proj").view(B, T, H, D)
            k = self.linear(h, f"{pre}.self_attn.k_proj").view(B, T, KVH, D)
            v = self.linear(h, f"{pre}.self_attn.v_proj").view(B, T, KVH, D)
            if c.qk_norm:
                q = self.rmsnorm(q, p[f"{pre}.self_attn.q_norm.weight"])
                k = self.rmsnorm(k, p[f"{pre}.self_attn.k_norm.weight"])
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            a = self.attend(q, k, v, mask).transpose(1, 2).reshape(B, T, H * D)
            x = x + self.linear(a, f"{pre}.self_attn.o_proj")
            h = self.rmsnorm(x, p[f"{pre}.post_attention_layernorm.weight"])
            g = self.linear(h, f"{pre}.mlp.gate_proj")
            u = self.linear(h, f"{pre}.mlp.up_proj")
            x = x + self.linear(torch.nn.functional.silu(g) * u, f"{pre}.mlp.down_proj")
        return self.rmsnorm(x, p["model.norm.weight"])

    def lm_head(self):
        if self.c.tied:
            return self.p["transformer.wte.weight" if self.c.arch == "gpt2" else "model.embed_tokens.weight"]
        return self.p["lm_head.weight"]

    def logits(self, ids, positions, segments):
        z = self.hidden_states(ids, positions, segments) @ self.lm_head().t()
        cap = getattr(self.c, "final_cap", None)
        return cap * torch.tanh(z / cap) if cap else z


def shifted_targets(labels, segments):
    """Position t predicts labels[t+1]; the last position and segment boundaries predict nothing."""
    tgt = torch.full_like(labels, -100)
    tgt[:, :-1] = labels[:, 1:]
    if segments is not None:
        cross = segments[:, 1:] != segments[:, :-1]
        tgt[:, :-1][cross] = -100
    return tgt


def default_positions(B, T, segments):
    pos = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        p = 0
        for t in range(T):
            if segments is not None and t > 0 and segments[b, t] != segments[b, t - 1]:
                p = 0
            pos[b, t] = p
            p += 1
    return pos


def run_grads(c, weights, batch, lora, dtype):
    model = Reference(c, weights, lora, dtype)
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    labels = torch.tensor(batch["labels"], dtype=torch.long)
    segments = torch.tensor(batch["segments"], dtype=torch.long) if "segments" in batch else None
    B, T = ids.shape
    positions = (torch.tensor(batch["positions"], dtype=torch.long) if "positions" in batch
                 else default_positions(B, T, segments))
    logits = model.logits(ids, positions, segments)
    tgt = shifted_targets(labels, segments)
    loss = torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), tgt.reshape(-1), ignore_index=-100)
    loss.backward()
    out = {"loss": loss.detach().reshape(1).float(), "logits": logits.detach().float()}
    for name, t in model.trainable().items():
        out["grad." + name] = t.grad.detach().float()
        out["param." + name] = t.detach().float()
    return out


def load_model_arg(path):
    cfg_path = path if path.endswith(".json") else os.path.join(path, "config.json")
    with open(cfg_path) as f:
        return parse_config(json.load(f))


# --------------------------------------------------------------------------------------
# fixtures


def tiny_configs():
    llama = {
        "model_type": "llama", "vocab_size": 48, "hidden_size": 16, "intermediate_size": 24,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
        "tie_word_embeddings": False, "hidden_act": "silu",
    }
    smollm = dict(llama, num_key_value_heads=1, rope_theta=10000.0,
                  rope_scaling={"rope_type": "linear", "factor": 2.0}, tie_word_embeddings=True)
    qwen2 = dict(llama, model_type="qwen2", rope_theta=1000000.0, rope_scaling=None, tie_word_embeddings=True)
    qwen3 = dict(llama, model_type="qwen3", head_dim=8, rope_scaling=None, rms_norm_eps=1e-6)
    # window 3 < the fixture's 8 tokens
    mistral = dict(llama, model_type="mistral", rope_theta=10000.0, rope_scaling=None, sliding_window=3)
    gpt2 = {
        "model_type": "gpt2", "vocab_size": 48, "n_embd": 16, "n_layer": 2, "n_head": 4,
        "n_positions": 32, "n_inner": 40, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
        "tie_word_embeddings": True,
    }
    gemma3 = {
        "model_type": "gemma3_text", "vocab_size": 48, "hidden_size": 16, "intermediate_size": 24,
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "rope_local_base_freq": 10000.0, "rope_scaling": {"rope_type": "linear", "factor": 4.0},
        "query_pre_attn_scalar": 6, "sliding_window": 3, "sliding_window_pattern": 2,
        "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": True,
        "attn_logit_softcapping": None, "final_logit_softcapping": None,
    }
    gemma2 = dict(gemma3, model_type="gemma2", rope_theta=10000.0, rope_scaling=None, head_dim=4,
                  query_pre_attn_scalar=4, attn_logit_softcapping=2.0, final_logit_softcapping=3.0,
                  layer_types=["sliding_attention", "full_attention", "sliding_attention"])
    for k in ("rope_local_base_freq", "sliding_window_pattern"):
        del gemma2[k]
    return {
        "llama": (llama, None, False),
        "smollm-tied": (smollm, None, False),
        "qwen2-bias-packed": (qwen2, None, True),
        "qwen3-qknorm": (qwen3, None, False),
        "gpt2": (gpt2, None, False),
        "gpt2-packed-untied": (dict(gpt2, tie_word_embeddings=False), None, True),
        "llama-lora": (llama, {"r": 4, "alpha": 8, "targets": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                              "gate_proj", "up_proj", "down_proj"]}, False),
        "qwen3-lora-rslora": (qwen3, {"r": 2, "alpha": 4, "rslora": True, "targets": ["q_proj", "v_proj", "down_proj"]}, False),
        "gpt2-lora": (gpt2, {"r": 4, "alpha": 16, "targets": ["c_attn", "c_proj", "c_fc"]}, False),
        "mistral-window": (mistral, None, False),
        "mistral-window-lora": (mistral, {"r": 4, "alpha": 8, "targets": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                                         "gate_proj", "up_proj", "down_proj"]}, True),
        "gemma3": (gemma3, None, False),
        "gemma3-lora": (gemma3, {"r": 4, "alpha": 8, "targets": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                               "gate_proj", "up_proj", "down_proj"]}, True),
        "gemma2": (gemma2, None, False),
        "gemma2-lora": (gemma2, {"r": 2, "alpha": 4, "targets": ["q_proj", "v_proj", "o_proj", "down_proj"]}, True),
    }


def make_fixtures(out_dir, only=None):
    B, T = 2, 8
    for i, (name, (cfg, lora_spec, packed)) in enumerate(tiny_configs().items()):
        if only and name not in only:
            continue
        g = torch.Generator().manual_seed(1000 + i)
        c = parse_config(cfg)
        weights = {}
        for n, shape in param_shapes(c).items():
            if len(shape) == 1 and n.endswith(".weight"):
                weights[n] = 1.0 + 0.1 * torch.randn(shape, generator=g)
            elif n.endswith(".bias"):
                weights[n] = 0.1 * torch.randn(shape, generator=g)
            else:
                weights[n] = 0.2 * torch.randn(shape, generator=g)
        ids = torch.randint(0, c.vocab, (B, T), generator=g)
        labels = ids.clone()
        labels[0, :3] = -100  # a prompt that is not trained
        labels[1, 5] = -100
        batch = {"input_ids": ids.tolist(), "labels": labels.tolist()}
        if packed:
            batch["segments"] = [[0] * T, [0] * 3 + [1] * (T - 3)]
        lora = None
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        if lora_spec:
            tensors = {}
            for path, fin, fout in lora_modules(c, lora_spec["targets"]):
                tensors[peft(path, "A")] = (torch.rand(lora_spec["r"], fin, generator=g) * 2 - 1) / math.sqrt(fin)
                tensors[peft(path, "B")] = (torch.rand(fout, lora_spec["r"], generator=g) * 2 - 1) / math.sqrt(lora_spec["r"])
            lora = dict(lora_spec, tensors=tensors)
            write_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors)
            with open(os.path.join(d, "lora.json"), "w") as f:
                json.dump(lora_spec, f, indent=1)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        write_safetensors(os.path.join(d, "model.safetensors"), weights)
        with open(os.path.join(d, "batch.json"), "w") as f:
            json.dump(batch, f)
        res = run_grads(c, weights, batch, lora, torch.float64)
        expected = {k: v for k, v in res.items() if not k.startswith("param.")}
        write_safetensors(os.path.join(d, "expected.safetensors"), expected)
        print(f"{name}: loss {res['loss'].item():.6f}")


# --------------------------------------------------------------------------------------
# bench


def bench(args):
    c = load_model_arg(args.model)
    g = torch.Generator().manual_seed(0)
    weights = {}
    for n, shape in param_shapes(c).items():
        if len(shape) == 1 and n.endswith(".weight"):
            weights[n] = torch.ones(shape)
        elif n.endswith(".bias"):
            weights[n] = torch.zeros(shape)
        else:
            weights[n] = 0.02 * torch.randn(shape, generator=g)
    lora = None
    if args.lora_r:
        targets = (["c_attn"] if c.arch == "gpt2" else ["q_proj", "v_proj"]) if not args.lora_targets \
            else args.lora_targets.split(",")
        tensors = {}
        for path, fin, fout in lora_modules(c, targets):
            tensors[peft(path, "A")] = (torch.rand(args.lora_r, fin, generator=g) * 2 - 1) / math.sqrt(fin)
            tensors[peft(path, "B")] = torch.zeros(fout, args.lora_r)
        lora = {"r": args.lora_r, "alpha": 2 * args.lora_r, "targets": targets, "tensors": tensors}
    model = Reference(c, weights, lora, torch.float32)
    del weights
    params = list(model.trainable().values())
    opt = torch.optim.AdamW(params, lr=1e-4)
    B, T = args.batch_size, args.seq_len
    positions = torch.arange(T).unsqueeze(0).expand(B, T)
    times = []
    loss_value = 0.0
    for step in range(args.warmup + args.steps):
        ids = torch.randint(0, c.vocab, (B, T), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model.logits(ids, positions, None)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, c.vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        loss_value = loss.item()
        dt = time.perf_counter() - t0
        if step >= args.warmup:
            times.append(dt)
    times.sort()
    med = times[len(times) // 2]
    n_all = sum(p.numel() for p in model.p.values()) + sum(a.numel() + b.numel() for a, b in model.lora.values())
    print(json.dumps({
        "impl": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "tokens_per_s": B * T / med, "step_ms": med * 1000,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "params": n_all, "trainable_params": sum(p.numel() for p in params), "loss": loss_value,
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["grads", "fixtures", "bench"])
    ap.add_argument("--model")
    ap.add_argument("--weights")
    ap.add_argument("--batch")
    ap.add_argument("--out")
    ap.add_argument("--adapter")
    ap.add_argument("--lora-r", type=int, default=0)
    ap.add_argument("--lora-alpha", type=float, default=8.0)
    ap.add_argument("--lora-targets", default="")
    ap.add_argument("--rslora", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    if args.mode == "fixtures":
        make_fixtures(args.out, [n for n in args.only.split(",") if n])
        return
    if args.mode == "bench":
        bench(args)
        return
    c = load_model_arg(args.model)
    weights_path = args.weights or os.path.join(args.model, "model.safetensors")
    weights = read_safetensors(weights_path)
    if c.arch == "gpt2":  # original GPT-2 files name tensors without the "transformer." prefix
        weights = {(k if k.startswith("transformer.") or k.startswith("lm_head") else "transformer." + k): v
                   for k, v in weights.items()}
    with open(args.batch) as f:
        batch = json.load(f)
    lora = None
    if args.lora_r:
        raw = read_safetensors(args.adapter)
        tensors = {k[len("param."):] if k.startswith("param.") else k: v for k, v in raw.items()}
        lora = {"r": args.lora_r, "alpha": args.lora_alpha, "rslora": args.rslora,
                "targets": args.lora_targets.split(","), "tensors": tensors}
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    write_safetensors(args.out, run_grads(c, weights, batch, lora, dtype))


if __name__ == "__main__":
    sys.exit(main())
