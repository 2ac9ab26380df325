/**
 * `sft grads` end to end: the CLI's gradients match the PyTorch reference — the committed
 * fixtures for full fine-tuning, and a live run of tools/torch_reference.py on the
 * CLI's own LoRA parameters (`--lora-init random`) when Debian's torch is installed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { writePeftAdapter } from "../../src/engine/checkpoint/peft.js";
import { readSafetensorsFile } from "../../src/engine/checkpoint/safetensors.js";
import { relMaxDiff } from "../helpers/numeric.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURES = join(ROOT, "test/fixtures/torch");
const PYTHON = "/usr/bin/python3";

function sft(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/sft.js"), ...args], { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function torchAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
}

const tmp = mkdtempSync(join(tmpdir(), "sft-grads-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

for (const name of ["qwen3-qknorm", "gpt2", "mistral-window", "gemma3", "gemma2"]) {
  test(`sft grads (full fine-tuning) matches the torch fixture: ${name}`, () => {
    const dir = join(FIXTURES, name);
    const out = join(tmp, `${name}.safetensors`);
    const r = sft(["grads", "--model", dir, "--batch", join(dir, "batch.json"), "--out", out]);
    assert.equal(r.status, 0, r.stderr);
    const got = readSafetensorsFile(out).tensors;
    const want = readSafetensorsFile(join(dir, "expected.safetensors")).tensors;
    const weights = readSafetensorsFile(join(dir, "model.safetensors")).tensors;
    const loss = got.get("loss")!;
    assert.deepEqual(loss.shape, [1]);
    assert.equal(loss.dtype, "F32");
    const wantLoss = want.get("loss")!.data[0];
    assert.ok(Math.abs(loss.data[0] - wantLoss) <= 1e-5 * wantLoss);
    const gradNames = [...want.keys()].filter((k) => k.startsWith("grad."));
    assert.deepEqual([...got.keys()].filter((k) => k.startsWith("grad.")).sort(), gradNames.sort());
    for (const g of gradNames) {
      assert.ok(relMaxDiff(got.get(g)!.data, want.get(g)!.data) < 1e-4, g);
      const param = got.get(`param.${g.slice(5)}`)!;
      const w = weights.get(g.slice(5)) ?? weights.get(g.slice(5 + "transformer.".length));
      assert.ok(w, `weight of ${g}`);
      assert.deepEqual(param.data, w.data);
    }
  });
}

test("sft grads --lora-init random matches the torch reference run on the same LoRA parameters", (t) => {
  const dir = join(FIXTURES, "llama");
  const out = join(tmp, "lora.safetensors");
  const targets = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";
  const args = ["--lora-r", "3", "--lora-alpha", "6", "--lora-targets", targets, "--lora-init", "random"];
  const r = sft(["grads", "--model", dir, "--batch", join(dir, "batch.json"), "--out", out, ...args]);
  assert.equal(r.status, 0, r.stderr);
  const got = readSafetensorsFile(out).tensors;
  const grads = [...got.keys()].filter((k) => k.startsWith("grad."));
  assert.equal(grads.length, 2 * 7 * 2);
  for (const g of grads) {
    assert.match(
      g,
      /^grad\.base_model\.model\.model\.layers\.\d\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/,
    );
    assert.ok(
      got.get(g)!.data.some((x) => x !== 0),
      `${g} is all zero`,
    );
  }
  if (!torchAvailable()) {
    t.skip(`${PYTHON} with torch is not installed: only the CLI side was checked`);
    return;
  }
  const ref = join(tmp, "lora-torch.safetensors");
  const py = spawnSync(
    PYTHON,
    [
      join(ROOT, "tools/torch_reference.py"),
      "grads",
      "--model",
      dir,
      "--batch",
      join(dir, "batch.json"),
      "--out",
      ref,
      "--adapter",
      out,
      ...args.slice(0, 6),
    ],
    { encoding: "utf8" },
  );
  assert.equal(py.status, 0, py.stderr);
  const want = readSafetensorsFile(ref).tensors;
  const wantLoss = want.get("loss")!.data[0];
  assert.ok(Math.abs(got.get("loss")!.data[0] - wantLoss) <= 1e-5 * wantLoss);
  for (const g of grads) assert.ok(relMaxDiff(got.get(g)!.data, want.get(g)!.data) < 1e-4, g);
});

test("sft grads --adapter DIR takes gradients of a saved PEFT adapter (torch fixture)", () => {
  const dir = join(FIXTURES, "llama-lora");
  const spec = JSON.parse(readFileSync(join(dir, "lora.json"), "utf8")) as {
    r: number;
    alpha: number;
    targets: string[];
  };
  const adapterDir = join(tmp, "adapter");
  writePeftAdapter(adapterDir, {
    config: {
      r: spec.r,
      loraAlpha: spec.alpha,
      loraDropout: 0,
      targetModules: spec.targets,
      baseModelNameOrPath: null,
      useRslora: false,
      fanInFanOut: false,
    },
    tensors: readSafetensorsFile(join(dir, "adapter_model.safetensors")).tensors,
  });
  const out = join(tmp, "adapter-grads.safetensors");
  const r = sft([
    "grads",
    "--model",
    dir,
    "--batch",
    join(dir, "batch.json"),
    "--out",
    out,
    "--adapter",
    adapterDir,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const got = readSafetensorsFile(out).tensors;
  const want = readSafetensorsFile(join(dir, "expected.safetensors")).tensors;
  const wantLoss = want.get("loss")!.data[0];
  assert.ok(Math.abs(got.get("loss")!.data[0] - wantLoss) <= 1e-5 * wantLoss);
  const grads = [...want.keys()].filter((k) => k.startsWith("grad."));
  assert.equal(grads.length, 2 * 7 * 2);
  for (const g of grads) assert.ok(relMaxDiff(got.get(g)!.data, want.get(g)!.data) < 1e-4, g);
});

test("sft grads reports a malformed batch with file, field and a hint", () => {
  const bad = join(tmp, "bad.json");
  writeFileSync(bad, JSON.stringify({ input_ids: [[1, 2, 3]], labels: [[1, 2]] }));
  const dir = join(FIXTURES, "llama");
  const r = sft(["grads", "--model", dir, "--batch", bad, "--out", join(tmp, "x.safetensors")]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.json: labels\[0\]: row 0 has 2 tokens|bad\.json: labels: labels are 1×2/);
  assert.ok(!existsSync(join(tmp, "x.safetensors")));
  const r2 = sft([
    "grads",
    "--model",
    dir,
    "--batch",
    join(dir, "batch.json"),
    "--out",
    join(tmp, "y"),
    "--lora-r",
    "0",
  ]);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /--lora-r must be a positive integer/);
});
