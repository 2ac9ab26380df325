"""Independent check of sftkit's GGUF → Hugging Face conversion on the real stories260K model.

Plain PyTorch (Debian python3-torch 1.13), no sftkit code and no transformers:
  1. parses the GGUF itself (header, metadata, F32 tensors) and the SentencePiece vocabulary in it;
  2. runs a Llama forward (RMSNorm, GQA attention, SwiGLU) on the raw GGUF tensors with
     llama.cpp's interleaved RoPE (pairs 2i, 2i+1);
  3. runs the same forward on the HF-layout weights sftkit wrote (config.json +
     model.safetensors) with HF's "rotate half" RoPE (pairs i, i+d/2);
  4. greedy-decodes from BOS with both and checks each reproduces the expected story opening,
     and that the two logits agree.

Usage: /usr/bin/python3 tools/check_stories260k.py path/to/stories260K.gguf path/to/hf_dir [n_tokens, default 30]
Exit status 0 when every check passes.
"""
import json
import struct
import sys

import numpy as np
import torch

torch.set_num_threads(2)
EXPECTED = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park"


def read_gguf(path):
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos : pos + n].decode("utf-8")
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            it = take("I")
            n = take("Q")
            return [value(it) for _ in range(n)]
        return take(scalar[t])

    assert take("I") == 0x46554747, "not GGUF"
    version = take("I")
    assert version in (2, 3)
    n_tensors = take("Q")
    n_kv = take("Q")
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("I")
        dims = [take("Q") for _ in range(nd)]
        ttype = take("I")
        off = take("Q")
        infos.append((name, dims, ttype, off))
    align = meta.get("general.alignment", 32)
    start = (pos + align - 1) // align * align
    tensors = {}
    for name, dims, ttype, off in infos:
        assert ttype == 0, f"{name}: only F32 GGUF tensors are handled by this check"
        n = int(np.prod(dims))
        arr = np.frombuffer(data, dtype="<f4", count=n, offset=start + off)
        tensors[name] = torch.from_numpy(arr.copy()).reshape(list(reversed(dims)))
    return meta, tensors


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", name
        b, end = e["data_offsets"]
        arr = np.frombuffer(data, dtype="<f4", count=(end - b) // 4, offset=8 + n + b)
        out[name] = torch.from_numpy(arr.copy()).reshape(e["shape"])
    return out


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(T, d, theta):
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)  # [T, d/2]
    return ang.cos().float(), ang.sin().float()


def rope_rotate_half(x, cos, sin):
    # x [H, T, d]; pairs (i, i + d/2)
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def rope_interleaved(x, cos, sin):
    # pairs (2i, 2i+1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x2 * cos + x1 * sin
    return out


def forward(ids, W, cfg, rope):
    """Logits [T, V] for token ids [T]. W uses HF names."""
    T = len(ids)
    H, KVH, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    cos, sin = rope_tables(T, d, cfg["theta"])
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], cfg["eps"])
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, H, d).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, KVH, d).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, KVH, d).transpose(0, 1)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k = k.repeat_interleave(H // KVH, dim=0)
        v = v.repeat_interleave(H // KVH, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / d**0.5 + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * d)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], cfg["eps"])
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], cfg["eps"])
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    return x @ head.T


def greedy(W, cfg, rope, bos, n):
    ids = [bos]
    for _ in range(n):
        ids.append(int(forward(ids, W, cfg, rope)[-1].argmax()))
    return ids


def decode(ids, tokens):
    out = bytearray()
    for i in ids:
        t = tokens[i]
        if t.startswith("<0x") and t.endswith(">") and len(t) == 6:
            out.append(int(t[3:5], 16))
        elif t in ("<s>", "</s>", "<unk>"):
            continue
        else:
            out += t.replace("\u2581", " ").encode("utf-8")
    return out.decode("utf-8", errors="replace").lstrip(" ")


def main():
    gguf_path, hf_dir = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    meta, gt = read_gguf(gguf_path)
    tokens = meta["tokenizer.ggml.tokens"]
    bos = meta["tokenizer.ggml.bos_token_id"]
    cfg = {
        "layers": meta["llama.block_count"],
        "heads": meta["llama.attention.head_count"],
        "kv_heads": meta["llama.attention.head_count_kv"],
        "head_dim": meta["llama.embedding_length"] // meta["llama.attention.head_count"],
        "eps": meta["llama.attention.layer_norm_rms_epsilon"],
        "theta": meta.get("llama.rope.freq_base", 10000.0),
    }
    # Raw GGUF tensors under HF names, rows untouched (llama.cpp layout).
    names = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    per_layer = {
        "attn_norm": "input_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    raw = {}
    for k, t in gt.items():
        if k in names:
            raw[names[k]] = t
        else:
            _, l, part, _w = k.split(".")
            raw[f"model.layers.{l}.{per_layer[part]}.weight"] = t

    hf_cfg = json.load(open(f"{hf_dir}/config.json"))
    hf = read_safetensors(f"{hf_dir}/model.safetensors")
    assert hf_cfg["num_attention_heads"] == cfg["heads"] and hf_cfg["num_key_value_heads"] == cfg["kv_heads"]
    hf_theta = dict(cfg, theta=hf_cfg.get("rope_theta", 10000.0), eps=hf_cfg["rms_norm_eps"])

    ok = True
    for label, W, c, rope in [
        ("GGUF tensors, interleaved RoPE", raw, cfg, rope_interleaved),
        ("sftkit HF weights, rotate-half RoPE", hf, hf_theta, rope_rotate_half),
    ]:
        ids = greedy(W, c, rope, bos, n)
        text = decode(ids, tokens)
        good = text.startswith(EXPECTED) if n >= 30 else EXPECTED.startswith(text)
        ok &= good
        print(f"{'OK ' if good else 'BAD'} {label}: {text!r} ids={ids}")
    probe = [bos] + list(range(300, 340))
    a = forward(probe, raw, cfg, rope_interleaved)
    b = forward(probe, hf, hf_theta, rope_rotate_half)
    diff = (a - b).abs().max().item()
    print(f"max |logit difference| over {len(probe)} positions: {diff:.3g}")
    ok &= diff < 1e-4
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
