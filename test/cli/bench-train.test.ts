import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("sft bench train prints one JSON line with the contract's fields (full and LoRA)", () => {
  for (const extra of [[], ["--lora-r", "2"]]) {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, "bin/sft.js"),
        "bench",
        "train",
        "--model",
        join(ROOT, "test/fixtures/torch/llama/config.json"),
        "--batch-size",
        "2",
        "--seq-len",
        "8",
        "--steps",
        "3",
        ...extra,
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]) as Record<string, number>;
    for (const key of ["tokens_per_s", "step_ms", "peak_rss_mb", "params", "trainable_params"]) {
      assert.equal(typeof j[key], "number", key);
      assert.ok(j[key] > 0, key);
    }
    assert.equal(j.tokens_per_s.toFixed(3), ((2 * 8) / (j.step_ms / 1000)).toFixed(3));
    if (extra.length) assert.ok(j.trainable_params < j.params / 4);
    else assert.equal(j.trainable_params, j.params);
    assert.ok(Number.isFinite(j.loss));
  }
});

test("sft bench train rejects a bad flag with its name", () => {
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, "bin/sft.js"),
      "bench",
      "train",
      "--model",
      "x.json",
      "--batch-size",
      "0",
      "--seq-len",
      "8",
      "--steps",
      "1",
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--batch-size must be an integer >= 1/);
});

test("sft bench train --profile adds a per-op table whose GEMM FLOPs match the model's shape", () => {
  const cfgPath = join(ROOT, "test/fixtures/torch/llama/config.json");
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, "bin/sft.js"),
      "bench",
      "train",
      "--model",
      cfgPath,
      "--batch-size",
      "2",
      "--seq-len",
      "8",
      "--steps",
      "2",
      "--profile",
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, "stdout stays one JSON line");
  const j = JSON.parse(lines[0]);
  const p = j.profile;
  const ops = new Set(p.rows.map((x: { op: string }) => x.op));
  for (const op of [
    "GEMM linear forward",
    "GEMM linear input grad",
    "GEMM linear weight grad",
    "GEMM LM head forward",
    "attention forward",
    "attention backward",
    "norms",
    "cross-entropy",
    "optimizer",
  ])
    assert.ok(ops.has(op), `profile lacks ${op}: ${[...ops].join(", ")}`);
  // Forward GEMM FLOPs per step: 2 · tokens · (every linear's weights + the LM head's).
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
  const h = cfg.hidden_size;
  const kv = (cfg.num_key_value_heads * h) / cfg.num_attention_heads;
  const perLayer = h * h * 2 + 2 * h * kv + 3 * h * cfg.intermediate_size;
  const tokens = 2 * 8;
  const fwd = p.rows.find((x: { op: string }) => x.op === "GEMM linear forward");
  const lm = p.rows.find((x: { op: string }) => x.op === "GEMM LM head forward");
  assert.ok(
    Math.abs(fwd.gflop / 2 - (2 * tokens * perLayer * cfg.num_hidden_layers) / 1e9) < 1e-12,
    `${fwd.gflop}`,
  );
  // The LM head runs on the positions that have a next-token target: T - 1 per sequence.
  assert.ok(Math.abs(lm.gflop / 2 - (2 * 2 * 7 * h * cfg.vocab_size) / 1e9) < 1e-12, `${lm.gflop}`);
  const inKernels = p.rows.reduce((a: number, x: { ms_per_step: number }) => a + x.ms_per_step, 0);
  assert.ok(Math.abs(inKernels + p.other_ms_per_step - p.step_ms_mean) < 1e-6);
  assert.ok(p.peak_gflops > 0 && p.peak_share > 0 && p.peak_share < 1.5, JSON.stringify(p.peak_share));
  assert.match(r.stderr, /^op +calls\/step +ms\/step/m);
  assert.match(r.stderr, /GFLOP\/s = \d+% of peak/);
});
