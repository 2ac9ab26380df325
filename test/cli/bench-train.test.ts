import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
