import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceKernels } from "../../src/engine/kernels/index.js";
import { loraScaling, peftAdapterConfig, peftKey, resolveLora } from "../../src/engine/lora.js";
import { createModel } from "../../src/engine/model.js";
import { isSftError } from "../../src/errors.js";
import { TINY, tinyBatch } from "./models/tiny.js";

test("resolveLora fills PEFT defaults and rejects bad options with the field named", () => {
  const r = resolveLora({ r: 4 }, TINY.llama);
  assert.deepEqual(r.targets, ["q_proj", "v_proj"]);
  assert.equal(r.alpha, 8);
  assert.equal(r.scaling, 2);
  assert.equal(loraScaling(16, 8, true), 2);
  assert.deepEqual(resolveLora({ r: 2 }, TINY.gpt2).targets, ["c_attn"]);
  const bad = (opts: Parameters<typeof resolveLora>[0], field: string) =>
    assert.throws(
      () => resolveLora(opts, TINY.llama),
      (e) => isSftError(e) && e.where.field === field,
    );
  bad({ r: 0 }, "lora.r");
  bad({ r: 2.5 }, "lora.r");
  bad({ r: 2, alpha: -1 }, "lora.alpha");
  bad({ r: 2, dropout: 1 }, "lora.dropout");
  bad({ r: 2, targets: ["c_attn"] }, "lora.targets");
  bad({ r: 2, targets: [] }, "lora.targets");
});

test("PEFT names and adapter_config", () => {
  assert.equal(
    peftKey("model.layers.0.self_attn.q_proj", "A"),
    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
  );
  const model = createModel(TINY.gpt2, null, {
    lora: { r: 2, targets: ["c_attn", "c_proj"] },
    kernels: referenceKernels,
  });
  const names = [...model.loraStateDict().keys()];
  assert.ok(names.includes("base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight"));
  assert.ok(names.includes("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"));
  const cfg = peftAdapterConfig(model.lora!, "gpt2-tiny");
  assert.equal(cfg.r, 2);
  assert.deepEqual(cfg.target_modules, ["c_attn", "c_proj"]);
});

test("default init: A uniform within ±1/sqrt(in), B zero (the adapter starts as a no-op)", () => {
  const config = TINY.llama;
  const base = createModel(config, null, { seed: 1, kernels: referenceKernels });
  const lora = createModel(config, base.stateDict(), {
    seed: 1,
    lora: { r: 3, targets: ["q_proj", "down_proj"] },
    kernels: referenceKernels,
  });
  for (const [name, t] of lora.loraStateDict()) {
    if (name.includes("lora_B"))
      assert.ok(
        t.data.every((x) => x === 0),
        name,
      );
    else {
      const bound = 1 / Math.sqrt(t.shape[1]);
      assert.ok(
        t.data.every((x) => Math.abs(x) <= bound),
        name,
      );
      assert.ok(
        t.data.some((x) => Math.abs(x) > bound / 2),
        `${name} looks degenerate`,
      );
    }
  }
  const batch = tinyBatch(config.vocabSize);
  assert.equal(lora.forward(batch).loss, base.forward(batch).loss);
});

test("merged weights reproduce the LoRA model; adapters round-trip through loraStateDict", () => {
  for (const label of ["qwen2-bias", "gpt2"]) {
    const config = TINY[label];
    const targets =
      config.architecture === "gpt2" ? ["c_attn", "c_proj", "c_fc"] : ["q_proj", "o_proj", "up_proj"];
    const opts = { seed: 4, kernels: referenceKernels, dtype: "float64" as const };
    const lora = createModel(config, null, { ...opts, lora: { r: 2, alpha: 5, targets, init: "random" } });
    const batch = tinyBatch(config.vocabSize);
    const want = lora.logits(batch);
    const merged = createModel(config, lora.mergedStateDict(), opts);
    const got = merged.logits(batch);
    for (let i = 0; i < want.length; i++)
      assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${label} merged logits`);
    const again = createModel(config, lora.stateDict(), {
      ...opts,
      seed: 99,
      lora: { r: 2, alpha: 5, targets },
    });
    assert.notDeepEqual(again.logits(batch), want);
    again.loadAdapter(lora.loraStateDict());
    // state dicts are float32 copies of this float64 model: equal to float32 precision
    const back = again.logits(batch);
    for (let i = 0; i < want.length; i++)
      assert.ok(Math.abs(back[i] - want[i]) < 1e-5, `${label} reloaded logits`);
  }
});

test("loadAdapter names the missing tensor and a wrong rank", () => {
  const config = TINY.llama;
  const a = createModel(config, null, { lora: { r: 2, targets: ["q_proj"] }, kernels: referenceKernels });
  const sd = a.loraStateDict();
  const b = createModel(config, null, { lora: { r: 3, targets: ["q_proj"] }, kernels: referenceKernels });
  assert.throws(
    () => b.loadAdapter(sd, "x.safetensors"),
    /lora_A\.weight" has shape \[2, 8\], expected \[3, 8\]/,
  );
  sd.delete("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight");
  assert.throws(
    () => a.loadAdapter(sd),
    /"base_model\.model\.model\.layers\.1\.self_attn\.q_proj\.lora_B\.weight" is missing/,
  );
});

for (const label of ["qwen3-qknorm", "gpt2"])
  test(`frozen base weights in bf16: half the memory, loss and LoRA gradients close to float32: ${label}`, () => {
    const config = TINY[label];
    const lora = { r: 2, targets: ["all-linear"], init: "random" as const };
    const f32 = createModel(config, null, { seed: 3, lora });
    const bf = createModel(config, f32.stateDict(), { seed: 3, lora, frozenBf16: true });
    assert.ok(bf.store.frozenBf16.length > 0);
    assert.ok(bf.store.frozenData.length < f32.store.frozenData.length);
    const batch = tinyBatch(config.vocabSize);
    const a = f32.forwardBackward(batch).loss;
    const b = bf.forwardBackward(batch).loss;
    assert.ok(Math.abs(a - b) < 1e-2 * a, `${a} vs ${b}`);
    const pa = f32.trainableParameters();
    const pb = bf.trainableParameters();
    for (let i = 0; i < pa.length; i++) {
      let mag = 0;
      let diff = 0;
      for (let j = 0; j < pa[i].grad!.length; j++) {
        mag = Math.max(mag, Math.abs(pa[i].grad![j]));
        diff = Math.max(diff, Math.abs(pa[i].grad![j] - pb[i].grad![j]));
      }
      assert.ok(diff < 0.05 * mag, `${pa[i].name}: ${diff} vs ${mag}`);
    }
    // bf16 values are read back exactly as bf16 roundings of the originals
    const name =
      label === "gpt2" ? "transformer.h.0.mlp.c_proj.weight" : "model.layers.0.mlp.down_proj.weight";
    const w = bf.stateDict().get(name)!;
    const orig = f32.stateDict().get(name)!;
    for (let i = 0; i < w.data.length; i++)
      assert.ok(Math.abs(w.data[i] - orig.data[i]) <= Math.abs(orig.data[i]) / 128);
  });

test('"all-linear" and dotted module paths select targets as PEFT does', () => {
  assert.deepEqual(resolveLora({ r: 2, targets: ["all-linear"] }, TINY.gpt2).targets, [
    "c_attn",
    "c_proj",
    "c_fc",
  ]);
  assert.deepEqual(
    resolveLora({ r: 2, targets: ["self_attn.q_proj", "q_proj", "mlp.up_proj"] }, TINY.llama).targets,
    ["q_proj", "up_proj"],
  );
});
