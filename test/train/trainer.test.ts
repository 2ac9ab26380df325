/**
 * The trainer's optimizer path against PyTorch: a real run of `train()` (config → schedule →
 * clipping → AdamW kernel) with every optimizer option away from its default, its raw
 * gradients dumped per step through the `onGradients` hook, then replayed by
 * tools/adamw_replay.py with torch.optim.AdamW, clip_grad_norm_ and LambdaLR. The replay
 * decides its own parameter groups (decay on matrices and embeddings, not on norms and
 * biases), so a swapped beta, a wrong epsilon, decay on the wrong tensors, a missed warmup
 * or clip all show up as weights that differ after 3 steps.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readSafetensorsFile, writeSafetensors } from "../../src/engine/checkpoint/safetensors.js";
import type { Model } from "../../src/engine/model.js";
import type { ParamStore } from "../../src/engine/params.js";
import type { Tensor } from "../../src/engine/tensor.js";
import { train } from "../../src/train/index.js";
import { repoRoot, STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

const PYTHON = "/usr/bin/python3";
const hasTorch = existsSync(PYTHON) && spawnSync(PYTHON, ["-c", "import torch"]).status === 0;
const skip = hasTorch ? false : "Debian python3-torch is not installed (apt-get install -y python3-torch)";

const tmp = mkdtempSync(join(tmpdir(), "sft-adamw-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

/** The trainable tensors of the store, copied, by name. */
function snapshot(store: ParamStore, which: "data" | "grad"): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const p of store.trainable())
    out.set(p.name, { shape: [...p.shape], data: Float32Array.from(which === "data" ? p.data : p.grad!) });
  return out;
}

const OPTIMIZER = {
  learning_rate: 1e-2,
  adam_beta1: 0.8,
  adam_beta2: 0.95,
  adam_epsilon: 1e-6,
  weight_decay: 0.2,
  warmup_steps: 1,
  lr_scheduler_type: "cosine" as const,
  max_grad_norm: 0.5,
};
const STEPS = 3;

interface Replay {
  lr: number[];
  grad_norm: number[];
  decay: string[];
  no_decay: string[];
}

/** Trains STEPS steps with the trainer, dumping its gradients; replays them in PyTorch. */
async function trainAndReplay(name: string, finetuning: Record<string, unknown>) {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const data = writeInstructionSet(dir, "train.json", 12);
  const dump = join(dir, "dump");
  mkdirSync(dump);
  const r = await train(
    {
      model: STORIES_GGUF,
      data,
      output_dir: join(dir, "run"),
      max_steps: STEPS,
      per_device_train_batch_size: 4,
      logging_steps: 1,
      save_steps: 0,
      tensorboard: false,
      ...OPTIMIZER,
      ...finetuning,
    },
    {
      quiet: true,
      onGradients: (step, store) => {
        if (step === 1) writeSafetensors(join(dump, "init.safetensors"), snapshot(store, "data"));
        writeSafetensors(join(dump, `grads-${step}.safetensors`), snapshot(store, "grad"));
      },
    },
  );
  writeFileSync(
    join(dump, "hyper.json"),
    JSON.stringify({
      lr: OPTIMIZER.learning_rate,
      beta1: OPTIMIZER.adam_beta1,
      beta2: OPTIMIZER.adam_beta2,
      eps: OPTIMIZER.adam_epsilon,
      weight_decay: OPTIMIZER.weight_decay,
      scheduler: OPTIMIZER.lr_scheduler_type,
      warmup_steps: OPTIMIZER.warmup_steps,
      total_steps: STEPS,
      max_grad_norm: OPTIMIZER.max_grad_norm,
      steps: STEPS,
    }),
  );
  const py = spawnSync(PYTHON, [join(repoRoot, "tools/adamw_replay.py"), dump], { encoding: "utf8" });
  assert.equal(py.status, 0, py.stderr);
  const replay = JSON.parse(py.stdout) as Replay;
  const want = readSafetensorsFile(join(dump, "torch.safetensors")).tensors;
  const model = r.model as Model;
  const init = readSafetensorsFile(join(dump, "init.safetensors")).tensors;
  return { r, model, replay, want, init };
}

/** max |got - want| over every trainable tensor, and how far the weights moved at most. */
function compare(model: Model, want: Map<string, Tensor>, init: Map<string, Tensor>) {
  let diff = 0;
  let moved = 0;
  let worst = "";
  for (const p of model.store.trainable()) {
    const w = want.get(p.name);
    assert.ok(w, `torch replay has no ${p.name}`);
    const i0 = init.get(p.name)!;
    for (let i = 0; i < p.data.length; i++) {
      const d = Math.abs(p.data[i] - w.data[i]);
      if (d > diff) {
        diff = d;
        worst = p.name;
      }
      moved = Math.max(moved, Math.abs(w.data[i] - i0.data[i]));
    }
  }
  return { diff, moved, worst };
}

function checkLogs(r: Awaited<ReturnType<typeof train>>, replay: Replay) {
  const logs = r.logHistory.filter((e) => e.loss !== undefined);
  assert.equal(logs.length, STEPS);
  for (let s = 0; s < STEPS; s++) {
    assert.ok(Math.abs(logs[s].learning_rate! - replay.lr[s]) <= 1e-12, `learning rate of step ${s + 1}`);
    assert.ok(
      Math.abs(logs[s].grad_norm! - replay.grad_norm[s]) <= 1e-5 * replay.grad_norm[s],
      `gradient norm of step ${s + 1}: ${logs[s].grad_norm} vs torch ${replay.grad_norm[s]}`,
    );
  }
  // the clip and the schedule are exercised, not bypassed
  assert.ok(
    replay.grad_norm.every((n) => n > OPTIMIZER.max_grad_norm),
    `norms ${replay.grad_norm}`,
  );
  assert.deepEqual(replay.lr, [0, OPTIMIZER.learning_rate, OPTIMIZER.learning_rate / 2]);
}

test("full fine-tuning: 3 trainer steps equal torch.optim.AdamW on the same gradients", {
  skip,
}, async () => {
  const { r, model, replay, want, init } = await trainAndReplay("full", { finetuning_type: "full" });
  checkLogs(r, replay);
  // both groups are populated: norms are not decayed, matrices and embeddings are
  assert.ok(
    replay.no_decay.some((n) => n.endsWith("norm.weight")),
    replay.no_decay.join(","),
  );
  assert.ok(replay.decay.includes("model.embed_tokens.weight"), replay.decay.join(","));
  const { diff, moved, worst } = compare(model, want, init);
  assert.ok(moved > 1e-3, `the weights moved by ${moved} only`);
  assert.ok(diff <= 1e-5, `weights differ from torch by ${diff} (${worst})`);
});

test("LoRA: 3 trainer steps equal torch.optim.AdamW on the same gradients", { skip }, async () => {
  const { r, model, replay, want, init } = await trainAndReplay("lora", {
    finetuning_type: "lora",
    lora: { r: 4, alpha: 8, dropout: 0.1, target_modules: ["q_proj", "v_proj", "down_proj"] },
  });
  checkLogs(r, replay);
  assert.ok(replay.decay.length > 0 && replay.decay.every((n) => /lora_[AB]/.test(n)));
  const { diff, moved, worst } = compare(model, want, init);
  assert.ok(moved > 1e-3, `the weights moved by ${moved} only`);
  assert.ok(diff <= 1e-5, `weights differ from torch by ${diff} (${worst})`);
});
