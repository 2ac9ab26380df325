"""Greedy-decodes stories260K from BOS with an independent PyTorch Llama forward and writes the
token ids (the fixture test/tokenize/fixtures/stories260K-greedy.json). The tokenizer tests then
check that the GGUF vocabulary decodes these model-chosen ids into the story text, and that
encoding that text gives the same ids back.

Run: /usr/bin/python3 tools/stories-greedy-ids.py ../shared/models/stories260K/stories260K.f32.safetensors OUT.json
Weights use GGUF names and GGUF's Q/K row order, so RoPE rotates adjacent pairs (2i, 2i+1).
"""
import json
import struct
import sys

import torch

torch.set_num_threads(2)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(info["shape"])
    return out


def rmsnorm(x, w, eps=1e-5):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, theta=10000.0):
    # x: [T, H, D]; adjacent pairs (2i, 2i+1) rotate by pos * theta^(-2i/D)
    T, H, D = x.shape
    inv = theta ** (-torch.arange(0, D, 2, dtype=torch.float32) / D)
    ang = pos[:, None].float() * inv[None, :]
    cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def forward(w, ids, n_layers=5, n_heads=8, n_kv=4):
    x = w["token_embd.weight"][ids]
    T, dim = x.shape
    hd = dim // n_heads
    pos = torch.arange(T)
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(n_layers):
        p = f"blk.{l}."
        h = rmsnorm(x, w[p + "attn_norm.weight"])
        q = (h @ w[p + "attn_q.weight"].T).view(T, n_heads, hd)
        k = (h @ w[p + "attn_k.weight"].T).view(T, n_kv, hd)
        v = (h @ w[p + "attn_v.weight"].T).view(T, n_kv, hd)
        q, k = rope(q, pos), rope(k, pos)
        rep = n_heads // n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = torch.einsum("thd,shd->hts", q, k) / hd**0.5 + mask
        o = torch.einsum("hts,shd->thd", att.softmax(-1), v).reshape(T, dim)
        x = x + o @ w[p + "attn_output.weight"].T
        h = rmsnorm(x, w[p + "ffn_norm.weight"])
        g = torch.nn.functional.silu(h @ w[p + "ffn_gate.weight"].T) * (h @ w[p + "ffn_up.weight"].T)
        x = x + g @ w[p + "ffn_down.weight"].T
    x = rmsnorm(x, w["output_norm.weight"])
    out_w = w.get("output.weight", w["token_embd.weight"])
    return x @ out_w.T


def main():
    w = read_safetensors(sys.argv[1])
    ids = [1]
    with torch.no_grad():
        for _ in range(60):
            logits = forward(w, torch.tensor(ids))
            ids.append(int(logits[-1].argmax()))
    with open(sys.argv[2], "w") as f:
        json.dump({"model": "stories260K", "decoding": "greedy from BOS", "ids": ids}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
