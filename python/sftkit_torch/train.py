"""The PyTorch recipe behind `sft train --engine torch`.

sftkit has already tokenized, masked and packed the data, planned every optimizer step
(which micro-batches, which learning rate) and written the starting weights; this script
only runs the plan: transformers for the model, peft for LoRA (the adapter is PEFT's own),
torch.distributed for the ranks. Every rank memory-maps the same batch file; the
micro-batches of one optimizer step are dealt round-robin to the ranks and their gradients
summed with an all-reduce, so N ranks compute exactly the step one process computes.

It writes the run directory as the native trainer does: trainer_state.json (HF
log_history), metrics.jsonl, runs/ (TensorBoard, when installed), checkpoint-<step>/
(atomically: written under a temporary name, then renamed) and adapter/ or model/.

Usage (sftkit starts it): python train.py PLAN_DIR [--resume]; under torchrun for N ranks.
"""
import datetime
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

TOKENIZER_FILES = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "generation_config.json",
]


def fail(message):
    """One line on stderr (sftkit shows it with the rank) and a non-zero exit."""
    rank = int(os.environ.get("RANK", "0"))
    sys.stderr.write(f"sftkit-torch rank {rank}: {message}\n")
    sys.stderr.flush()
    sys.exit(3)


class Run:
    def __init__(self, plan_dir, resume):
        with open(os.path.join(plan_dir, "plan.json")) as f:
            self.plan = json.load(f)
        self.plan_dir = plan_dir
        self.run_dir = self.plan["run_dir"]
        self.resume = resume
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = self.pick_device(self.plan["device"])
        if self.world > 1:
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=self.plan["timeout_s"]))
        self.tokens = np.memmap(os.path.join(plan_dir, "batches.bin"), dtype="<i4", mode="r")
        torch.manual_seed(self.plan["seed"])
        self.model = self.open_model()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        decay = [p for p in self.params if p.dim() >= 2]
        no_decay = [p for p in self.params if p.dim() < 2]
        c = self.plan["optimizer"]
        # sftkit's convention: decoupled weight decay on matrices and embeddings only
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": c["weight_decay"]},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=c["learning_rate"],
            betas=(c["beta1"], c["beta2"]),
            eps=c["eps"],
            foreach=False,
        )
        self.tb = None

    def pick_device(self, wanted):
        if wanted == "cuda":
            if not torch.cuda.is_available():
                fail("--device cuda was asked but torch sees no CUDA device")
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        if wanted == "mps":
            if not torch.backends.mps.is_available():
                fail("--device mps was asked but torch sees no Apple MPS device")
            return torch.device("mps")
        return torch.device("cpu")

    def open_model(self):
        from transformers import AutoModelForCausalLM

        p = self.plan
        # eager attention on the CPU (the masks and sums sftkit's engine computes); SDPA elsewhere
        attention = "eager" if self.device.type == "cpu" else "sdpa"
        model = AutoModelForCausalLM.from_pretrained(p["base_dir"], dtype=torch.float32, attn_implementation=attention)
        if p["finetuning_type"] == "lora":
            from peft import PeftModel

            # sftkit's own initial adapter (its init from the run's seed), trained from here
            model = PeftModel.from_pretrained(model, p["init_adapter_dir"], is_trainable=True)
        else:
            for q in model.parameters():
                q.requires_grad_(True)
        if p["gradient_checkpointing"]:
            model.gradient_checkpointing_enable()
        return model.to(self.device)

    # ---- data ----

    def batch(self, b):
        """A micro-batch of the plan as tensors on the device."""
        n = b["B"] * b["T"]
        shape = (b["B"], b["T"])
        at = b["offset"]

        def take():
            nonlocal at
            t = torch.from_numpy(np.array(self.tokens[at : at + n], dtype=np.int64)).view(shape)
            at += n
            return t.to(self.device)

        out = {"input_ids": take(), "labels": take()}
        if b["packed"]:
            positions = take()
            segments = take()
            # attention stays inside each packed sample: causal and same segment
            same = segments[:, :, None] == segments[:, None, :]
            causal = torch.ones(b["T"], b["T"], dtype=torch.bool, device=self.device).tril()
            allowed = (same & causal)[:, None, :, :]
            mask = torch.zeros(allowed.shape, dtype=torch.float32, device=self.device)
            out["attention_mask"] = mask.masked_fill(~allowed, torch.finfo(torch.float32).min)
            out["position_ids"] = positions
        return out

    def loss_sum(self, b):
        """Sum of the token losses of a micro-batch (labels aligned with inputs; shifted here)."""
        t = self.batch(b)
        kwargs = {"input_ids": t["input_ids"]}
        if "attention_mask" in t:
            kwargs["attention_mask"] = t["attention_mask"]
            kwargs["position_ids"] = t["position_ids"]
        logits = self.model(**kwargs).logits
        labels = t["labels"][:, 1:].reshape(-1)
        return F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels, ignore_index=-100, reduction="sum"
        )

    def all_sum(self, values):
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            dist.all_reduce(t)
        return t.tolist()

    # ---- the steps ----

    def train_step(self, step):
        s = self.plan["steps"][step - 1]
        batches = self.plan["train_batches"]
        denominator = max(1, s["trained"])
        self.optimizer.zero_grad(set_to_none=False)
        local = 0.0
        for k, i in enumerate(s["micro"]):
            if k % self.world != self.rank:
                continue
            loss = self.loss_sum(batches[i])
            (loss / denominator).backward()
            local += loss.item()
        if self.world > 1:
            # each rank holds the gradient of its share of the window; their sum is the step's
            flat = torch.cat([p.grad.reshape(-1) for p in self.params])
            dist.all_reduce(flat)
            at = 0
            for p in self.params:
                n = p.numel()
                p.grad.copy_(flat[at : at + n].view_as(p.grad))
                at += n
        loss_sum = self.all_sum([local])[0]
        loss = loss_sum / denominator
        if not math.isfinite(loss):
            fail(f"training stopped at step {step}: the loss is {loss} (not finite)")
        max_norm = self.plan["max_grad_norm"]
        norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm if max_norm > 0 else float("inf")).item()
        if not math.isfinite(norm):
            fail(f"training stopped at step {step}: the gradient norm is {norm} (not finite)")
        for g in self.optimizer.param_groups:
            g["lr"] = s["lr"]
        self.optimizer.step()
        return loss_sum, loss, norm, s

    def evaluate(self):
        sums = {}
        mine = [b for k, b in enumerate(self.plan["eval_batches"]) if k % self.world == self.rank]
        self.model.eval()
        with torch.no_grad():
            for b in mine:
                acc = sums.setdefault(b["task"], [0.0, 0.0])
                acc[0] += self.loss_sum(b).item()
                acc[1] += b["trained"]
        self.model.train()
        tasks = self.plan["eval_tasks"]
        flat = self.all_sum([x for t in tasks for x in sums.get(t, [0.0, 0.0])])
        per_task = {t: (flat[2 * k], flat[2 * k + 1]) for k, t in enumerate(tasks)}
        total = sum(v[0] for v in per_task.values()) / max(1, sum(v[1] for v in per_task.values()))
        entry = {"step": self.state["global_step"], "epoch": round4(self.state["epoch"]), "eval_loss": total}
        if len(tasks) > 1:
            for t, (l, n) in per_task.items():
                entry[f"eval_{t}_loss"] = l / max(1, n)
        self.log(entry)
        self.say(f"eval at step {self.state['global_step']}: eval_loss {total:.4f}")
        return total

    # ---- the run ----

    def fresh_state(self):
        p = self.plan
        return {
            "global_step": 0,
            "epoch": 0,
            "max_steps": p["total_steps"],
            "num_train_epochs": p["num_train_epochs"],
            "logging_steps": p["logging_steps"],
            "eval_steps": p["eval_steps"],
            "save_steps": p["save_steps"],
            "train_batch_size": p["train_batch_size"],
            "best_metric": None,
            "best_model_checkpoint": None,
            "log_history": [],
            "sft": {
                "epoch": 0,
                "microBatch": 0,
                "rng": {},
                "evalsWithoutImprovement": 0,
                "trainedTokens": 0,
                "realTokens": 0,
                "paddedTokens": 0,
                "elapsedSeconds": 0,
                "engine": "torch",
            },
        }

    def run(self):
        p = self.plan
        self.state = self.fresh_state()
        if self.resume:
            self.load_latest_checkpoint()
        if self.rank == 0 and p["tensorboard"]:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(os.path.join(self.run_dir, "runs"))
            except ImportError:
                self.say("warning: tensorboard is not installed in this Python: no runs/ event files")
        has_eval = len(p["eval_batches"]) > 0
        total = p["total_steps"]
        started = time.time()
        elapsed_before = self.state["sft"]["elapsedSeconds"]
        last_eval = -1
        last_saved = self.state["global_step"] if self.state["global_step"] > 0 else -1
        stopped_early = False
        if has_eval and p["eval_on_start"] and self.state["global_step"] == 0:
            self.evaluate()
            self.write_state()
        window = [0.0, 0, 0, time.time()]  # loss sum, trained tokens, real tokens, start
        while self.state["global_step"] < total:
            step = self.state["global_step"] + 1
            loss_sum, loss, norm, s = self.train_step(step)
            st = self.state
            st["global_step"] = step
            st["epoch"] = s["epoch"]
            st["sft"]["epoch"] = s["next"]["epoch"]
            st["sft"]["microBatch"] = s["next"]["microBatch"]
            st["sft"]["trainedTokens"] += s["trained"]
            st["sft"]["realTokens"] += s["real"]
            st["sft"]["paddedTokens"] += s["padded"]
            st["sft"]["elapsedSeconds"] = elapsed_before + time.time() - started
            window[0] += loss_sum
            window[1] += s["trained"]
            window[2] += s["real"]
            is_log = step % p["logging_steps"] == 0 or step == total or step == 1
            if is_log:
                seconds = time.time() - window[3]
                self.log(
                    {
                        "step": step,
                        "epoch": round4(st["epoch"]),
                        "loss": window[0] / max(1, window[1]),
                        "learning_rate": s["lr"],
                        "grad_norm": norm,
                        "tokens_per_second": window[2] / seconds if seconds > 0 else None,
                        "num_input_tokens_seen": st["sft"]["paddedTokens"],
                    }
                )
                self.say(f"step {step}/{total} loss {window[0] / max(1, window[1]):.4f} lr {s['lr']:.3g}")
                window = [0.0, 0, 0, window[3]]
            improved = False
            if has_eval and p["eval_steps"] > 0 and step % p["eval_steps"] == 0:
                improved = self.track_best(self.evaluate())
                last_eval = step
                stopped_early = self.early_stop()
            due = (p["save_steps"] > 0 and step % p["save_steps"] == 0) or (improved and p["load_best_model_at_end"])
            if due or stopped_early or step == total:
                self.save_checkpoint()
                last_saved = step
            elif is_log:
                self.write_state()
            if is_log:
                window[3] = time.time()
            if stopped_early:
                self.say(f"early stopping at step {step}: eval loss did not improve for {p['early_stopping_patience']} evaluations")
                break
        if has_eval and last_eval != self.state["global_step"]:
            self.evaluate()
            self.write_state()
        if last_saved != self.state["global_step"]:
            self.save_checkpoint()
        best = self.state["best_model_checkpoint"]
        if p["load_best_model_at_end"] and best and os.path.isdir(best):
            self.load_trainable(best)
            self.say(f"loaded the best checkpoint (eval_loss {self.state['best_metric']:.4f}): {best}")
        if self.rank == 0:
            self.save_result()
            self.write_state()
            if self.tb:
                self.tb.close()
        self.barrier()

    def track_best(self, eval_loss):
        st = self.state
        improved = st["best_metric"] is None or eval_loss < st["best_metric"] - self.plan["early_stopping_threshold"]
        if improved:
            st["best_metric"] = eval_loss
            st["best_model_checkpoint"] = os.path.join(self.run_dir, f"checkpoint-{st['global_step']}")
            st["sft"]["evalsWithoutImprovement"] = 0
        else:
            st["sft"]["evalsWithoutImprovement"] += 1
        return improved

    def early_stop(self):
        patience = self.plan["early_stopping_patience"]
        return patience is not None and self.state["sft"]["evalsWithoutImprovement"] >= patience

    # ---- files ----

    def log(self, entry):
        entry = {k: v for k, v in entry.items() if v is not None}
        self.state["log_history"].append(entry)
        if self.rank != 0:
            return
        line = dict(entry, time=datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"))
        with open(os.path.join(self.run_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(line) + "\n")
        if self.tb:
            tags = {"loss": "train/loss", "learning_rate": "train/learning_rate", "grad_norm": "train/grad_norm",
                    "tokens_per_second": "train/tokens_per_second", "eval_loss": "eval/loss"}
            for k, v in entry.items():
                if k in ("step", "epoch") or not isinstance(v, (int, float)):
                    continue
                tag = tags.get(k) or (f"eval/{k[5:]}" if k.startswith("eval_") else f"train/{k}")
                self.tb.add_scalar(tag, v, entry["step"])

    def say(self, line):
        if self.rank == 0 and not self.plan["quiet"]:
            print(line, flush=True)

    def write_state(self, directory=None):
        if self.rank != 0:
            return
        write_json_atomic(os.path.join(directory or self.run_dir, "trainer_state.json"), self.state)

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def save_checkpoint(self):
        step = self.state["global_step"]
        if self.rank == 0:
            final = os.path.join(self.run_dir, f"checkpoint-{step}")
            tmp = os.path.join(self.run_dir, f".checkpoint-{step}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            save_file({n: p.detach().cpu().contiguous() for n, p in self.named}, os.path.join(tmp, "trainable.safetensors"))
            torch.save(self.optimizer.state_dict(), os.path.join(tmp, "optimizer.pt"))
            if self.plan["finetuning_type"] == "lora":
                self.model.save_pretrained(tmp)
            self.write_state(tmp)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            self.prune(step)
            self.write_state()
            self.say(f"saved {final}")
        self.barrier()

    def prune(self, newest):
        limit = self.plan["save_total_limit"]
        if not limit or limit <= 0:
            return
        best = self.state["best_model_checkpoint"]
        steps = sorted(
            int(n.split("-")[1]) for n in os.listdir(self.run_dir) if n.startswith("checkpoint-") and n[11:].isdigit()
        )
        keep = set(steps[-limit:])
        for s in steps:
            d = os.path.join(self.run_dir, f"checkpoint-{s}")
            if s not in keep and d != best:
                shutil.rmtree(d, ignore_errors=True)

    def load_trainable(self, directory):
        saved = load_file(os.path.join(directory, "trainable.safetensors"))
        with torch.no_grad():
            for n, p in self.named:
                p.copy_(saved[n].to(self.device))

    def load_latest_checkpoint(self):
        steps = sorted(
            (int(n.split("-")[1]) for n in os.listdir(self.run_dir) if n.startswith("checkpoint-") and n[11:].isdigit()),
            reverse=True,
        )
        for s in steps:
            d = os.path.join(self.run_dir, f"checkpoint-{s}")
            if not os.path.exists(os.path.join(d, "trainer_state.json")):
                continue
            self.load_trainable(d)
            self.optimizer.load_state_dict(torch.load(os.path.join(d, "optimizer.pt"), map_location=self.device))
            with open(os.path.join(d, "trainer_state.json")) as f:
                self.state = json.load(f)
            self.state["max_steps"] = self.plan["total_steps"]
            self.truncate_metrics(s)
            self.say(f"resuming from {d} (step {s}/{self.plan['total_steps']})")
            return
        self.truncate_metrics(0)
        self.say("no complete checkpoint in the run directory: starting from step 0")

    def truncate_metrics(self, step):
        f = os.path.join(self.run_dir, "metrics.jsonl")
        if self.rank != 0 or not os.path.exists(f):
            return
        with open(f) as r:
            kept = [l for l in r if l.strip() and json.loads(l)["step"] <= step]
        with open(f, "w") as w:
            w.writelines(kept)

    def save_result(self):
        p = self.plan
        kind = "adapter" if p["finetuning_type"] == "lora" else "model"
        final = os.path.join(self.run_dir, kind)
        tmp = os.path.join(self.run_dir, f".{kind}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        if kind == "adapter":
            self.model.save_pretrained(tmp)
            # the base the adapter belongs to, as sftkit names it
            cfg_file = os.path.join(tmp, "adapter_config.json")
            with open(cfg_file) as f:
                cfg = json.load(f)
            cfg["base_model_name_or_path"] = p["base_model_name"]
            write_json_atomic(cfg_file, cfg)
        else:
            self.model.save_pretrained(tmp, safe_serialization=True)
        source = p["init_adapter_dir"] if kind == "adapter" else p["base_dir"]
        for name in TOKENIZER_FILES:
            if os.path.exists(os.path.join(source, name)):
                shutil.copyfile(os.path.join(source, name), os.path.join(tmp, name))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        self.say(f"saved {final}")


def round4(x):
    return round(x * 1e4) / 1e4


def write_json_atomic(path, obj):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    args = sys.argv[1:]
    if not args:
        fail("usage: train.py PLAN_DIR [--resume]")
    run = Run(args[0], "--resume" in args[1:])
    try:
        run.run()
    finally:
        if run.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
