#!/usr/bin/env python3
"""Replays sftkit's optimizer steps with PyTorch's own torch.optim.AdamW, to check the
trainer's optimizer path (config -> learning-rate schedule -> clipping -> AdamW kernel)
against an independent implementation.

Input: a directory written by the trainer test, holding
  hyper.json             {"lr", "beta1", "beta2", "eps", "weight_decay", "scheduler",
                          "warmup_steps", "total_steps", "max_grad_norm", "steps"}
  init.safetensors       the trainable tensors before the first step
  grads-<k>.safetensors  the raw (unclipped) gradients of step k = 1..steps, as the
                         trainer's backward pass accumulated them

Parameter groups are decided here, not taken from sftkit: weight decay applies to
matrices and embeddings (tensors of two or more dimensions), never to norms or biases.
Each step sets .grad, clips with torch.nn.utils.clip_grad_norm_, steps AdamW and then a
LambdaLR with Hugging Face's schedule formulas.

Output: <dir>/torch.safetensors (the weights after the last step) and one JSON line on
stdout: {"lr": [...], "grad_norm": [...], "decay": [names], "no_decay": [names]}.

Usage: /usr/bin/python3 tools/adamw_replay.py DIR
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import read_safetensors, write_safetensors  # noqa: E402

torch.set_num_threads(1)


def lr_lambda(kind, warmup, total):
    """Hugging Face get_scheduler multipliers, as functions of the steps already taken."""

    def f(done):
        if kind == "constant":
            return 1.0
        if done < warmup:
            return done / max(1, warmup)
        if kind == "constant_with_warmup":
            return 1.0
        progress = (done - warmup) / max(1, total - warmup)
        if kind == "linear":
            return max(0.0, 1.0 - progress)
        if kind == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
        raise SystemExit(f"unknown scheduler {kind}")

    return f


def decays(name, t):
    return t.dim() >= 2 and not name.endswith(".bias") and "norm" not in name


def main():
    d = sys.argv[1]
    h = json.load(open(os.path.join(d, "hyper.json")))
    init = read_safetensors(os.path.join(d, "init.safetensors"))
    params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
    decay = [k for k, v in params.items() if decays(k, v)]
    no_decay = [k for k, v in params.items() if not decays(k, v)]
    groups = [{"params": [params[k] for k in decay], "weight_decay": h["weight_decay"]}]
    if no_decay:
        groups.append({"params": [params[k] for k in no_decay], "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(h["scheduler"], h["warmup_steps"], h["total_steps"])
    )
    lrs, norms = [], []
    for k in range(1, h["steps"] + 1):
        grads = read_safetensors(os.path.join(d, f"grads-{k}.safetensors"))
        if sorted(grads) != sorted(params):
            raise SystemExit(f"step {k}: gradient names differ from the initial tensors")
        for name, p in params.items():
            p.grad = grads[name].clone()
        all_params = list(params.values())
        if h["max_grad_norm"] > 0:
            norm = torch.nn.utils.clip_grad_norm_(all_params, h["max_grad_norm"])
        else:
            norm = torch.norm(torch.stack([p.grad.norm(2) for p in all_params]), 2)
        norms.append(float(norm))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    write_safetensors(os.path.join(d, "torch.safetensors"), {k: p.data for k, p in params.items()})
    print(json.dumps({"lr": lrs, "grad_norm": norms, "decay": decay, "no_decay": no_decay}))


if __name__ == "__main__":
    main()
