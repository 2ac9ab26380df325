import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceKernels } from "../../../src/engine/kernels/index.js";
import type { FloatArray } from "../../../src/engine/kernels/types.js";
import { type Batch, createModel, type Model } from "../../../src/engine/model.js";
import { Rng } from "../../../src/util/rng.js";
import { TINY, tinyBatch } from "./tiny.js";

const EPS = 1e-6;

/** Central-difference check of every element of every trainable tensor against backward. */
function checkModelGradients(model: Model, batch: Batch, dropoutSeed = 7): void {
  model.zeroGrad();
  model.forwardBackward(batch, { dropoutSeed });
  const params = model.trainableParameters();
  // Snapshot first: every later forwardBackward call accumulates into the gradients.
  const analytics = params.map((p) => Float64Array.from(p.grad!));
  const lossAt = () => model.forwardBackward(batch, { dropoutSeed }).loss;
  assert.ok(params.length > 0);
  for (const [index, p] of params.entries()) {
    const analytic = analytics[index];
    const numeric = new Float64Array(p.data.length);
    for (let i = 0; i < p.data.length; i++) {
      const keep = p.data[i];
      p.data[i] = keep + EPS;
      const up = lossAt();
      p.data[i] = keep - EPS;
      const down = lossAt();
      p.data[i] = keep;
      numeric[i] = (up - down) / (2 * EPS);
    }
    assertClose(p.name, analytic, numeric);
  }
}

function assertClose(name: string, analytic: ArrayLike<number>, numeric: ArrayLike<number>): void {
  let maxMag = 0;
  let maxDiff = 0;
  for (let i = 0; i < analytic.length; i++) {
    maxMag = Math.max(maxMag, Math.abs(numeric[i]));
    maxDiff = Math.max(maxDiff, Math.abs(analytic[i] - numeric[i]));
  }
  assert.ok(maxMag > 1e-8, `${name}: gradient is identically zero, the check would prove nothing`);
  assert.ok(
    maxDiff <= 1e-6 * maxMag + 1e-9,
    `${name}: max |analytic - numeric| = ${maxDiff} (max |grad| ${maxMag})`,
  );
}

for (const [label, config] of Object.entries(TINY)) {
  test(`whole-model finite differences, full fine-tuning: ${label}`, () => {
    // Three-row logits chunks: the chunked cross-entropy head is exercised across chunks.
    const model = createModel(config, null, {
      dtype: "float64",
      seed: 3,
      logitsChunkElements: 3 * config.vocabSize,
    });
    // Larger-than-default weights make every path matter numerically.
    perturb(model, 0.3);
    checkModelGradients(model, tinyBatch(config.vocabSize));
  });
}

for (const label of ["llama", "qwen3-qknorm", "gpt2", "gemma3", "gemma2"]) {
  const config = TINY[label];
  test(`whole-model finite differences, LoRA (every target, dropout, rsLoRA): ${label}`, () => {
    const targets =
      config.architecture === "gpt2"
        ? ["c_attn", "c_proj", "c_fc"]
        : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    const model = createModel(config, null, {
      dtype: "float64",
      seed: 5,
      lora: { r: 2, alpha: 3, targets, dropout: 0.25, rsLora: true, init: "random" },
    });
    perturb(model, 0.3);
    for (const p of model.parameters()) {
      if (!p.name.includes(".lora_"))
        assert.equal(p.grad, null, `${p.name} is frozen and must have no gradient`);
    }
    // every linear of every block is wrapped (GPT-2's c_proj names two of them)
    assert.equal(
      model.trainableParameters().length,
      2 * (config.architecture === "gpt2" ? 4 : 7) * config.numLayers,
    );
    checkModelGradients(model, tinyBatch(config.vocabSize));
  });
}

/** Per-block check: f(x) = sum(block(x) * R); d f / d x and d f / d params against differences. */
for (const [label, config] of Object.entries(TINY)) {
  test(`per-layer finite differences (block input and parameters): ${label}`, () => {
    const model = createModel(config, null, {
      dtype: "float64",
      seed: 11,
      lora: {
        r: 2,
        alpha: 4,
        targets: config.architecture === "gpt2" ? ["c_attn", "c_fc"] : ["q_proj", "down_proj"],
        init: "random",
        dropout: 0.2,
      },
    });
    perturb(model, 0.3);
    const batch = tinyBatch(config.vocabSize);
    const n = batch.B * batch.T * config.hiddenSize;
    const rng = new Rng(99);
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const R = Float64Array.from({ length: n }, () => rng.normal());
    const out = new Float64Array(n);
    const f = (): number => {
      model.blockForwardForTest(batch, 1, x, out, 4);
      let s = 0;
      for (let i = 0; i < n; i++) s += out[i] * R[i];
      return s;
    };
    model.zeroGrad();
    f();
    const dres = Float64Array.from(R);
    model.blockBackwardForTest(batch, 1, x, dres, 4);
    const numeric = numericGrad(x, f);
    assertClose(`${label} block d input`, dres, numeric);
    for (const p of model
      .trainableParameters()
      .filter((q) => q.name.includes("layers.1.") || q.name.includes("h.1."))) {
      const analytic = Float64Array.from(p.grad!);
      assertClose(`${label} ${p.name}`, analytic, numericGrad(p.data, f));
    }
  });
}

function numericGrad(v: FloatArray, f: () => number): Float64Array {
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const keep = v[i];
    v[i] = keep + EPS;
    const up = f();
    v[i] = keep - EPS;
    const down = f();
    v[i] = keep;
    g[i] = (up - down) / (2 * EPS);
  }
  return g;
}

function perturb(model: Model, scale: number): void {
  const rng = new Rng(1234);
  for (const p of model.parameters()) {
    for (let i = 0; i < p.data.length; i++)
      p.data[i] += scale * rng.normal() * (p.shape.length === 1 ? 0.5 : 1);
  }
}

test("gradient checkpointing gives the same loss and gradients", () => {
  for (const label of ["qwen3-qknorm", "gpt2"]) {
    const config = TINY[label];
    const lora = {
      r: 2,
      alpha: 4,
      targets: config.architecture === "gpt2" ? ["c_attn"] : ["q_proj", "up_proj"],
      dropout: 0.3,
      init: "random" as const,
    };
    const a = createModel(config, null, { dtype: "float64", seed: 2, lora });
    const b = createModel(config, null, { dtype: "float64", seed: 2, lora, gradientCheckpointing: true });
    const batch = tinyBatch(config.vocabSize);
    const la = a.forwardBackward(batch, { dropoutSeed: 3 });
    const lb = b.forwardBackward(batch, { dropoutSeed: 3 });
    assert.equal(la.loss, lb.loss);
    const pa = a.trainableParameters();
    const pb = b.trainableParameters();
    for (let i = 0; i < pa.length; i++) assert.deepEqual(pa[i].grad, pb[i].grad, pa[i].name);
  }
});

test("micro-batches with a shared loss denominator accumulate to the big-batch gradient", () => {
  const config = TINY.llama;
  const big = createModel(config, null, { dtype: "float64", seed: 4 });
  const small = createModel(config, null, { dtype: "float64", seed: 4 });
  const batch = tinyBatch(config.vocabSize, false);
  const whole = big.forwardBackward(batch);
  const T = batch.T;
  const rows = [0, 1].map((b) => ({
    B: 1,
    T,
    inputIds: batch.inputIds.slice(b * T, b * T + T),
    labels: batch.labels!.slice(b * T, b * T + T),
  }));
  let sum = 0;
  for (const r of rows) sum += small.forwardBackward(r, { lossDenominator: whole.trainedTokens }).loss;
  assert.ok(Math.abs(sum - whole.loss) < 1e-12);
  const pa = big.trainableParameters();
  const pb = small.trainableParameters();
  for (let i = 0; i < pa.length; i++) {
    for (let j = 0; j < pa[i].grad!.length; j++) assert.ok(Math.abs(pa[i].grad![j] - pb[i].grad![j]) < 1e-12);
  }
});

test("packed rows: a segment's loss does not depend on the other segment's tokens", () => {
  const config = TINY["qwen2-bias"];
  const model = createModel(config, null, { dtype: "float64", seed: 8 });
  const a = tinyBatch(config.vocabSize);
  const b = tinyBatch(config.vocabSize);
  // change the first segment of row 1 (tokens 0..1 of row 1); only trained targets there change…
  b.inputIds[5] = (b.inputIds[5] + 1) % config.vocabSize;
  const la = model.logits(a);
  const lb = model.logits(b);
  const V = config.vocabSize;
  // …so logits of the second segment (row 1, positions 2..4) are identical
  for (let i = 7 * V; i < 10 * V; i++) assert.equal(la[i], lb[i]);
  assert.notEqual(la[5 * V], lb[5 * V]);
});

test("decodeStep with a KV cache reproduces full-sequence logits (LoRA model, no dropout at inference)", () => {
  for (const label of ["qwen3-qknorm", "gpt2", "mistral-window", "gemma3", "gemma2"]) {
    const config = TINY[label];
    const lora = { r: 2, targets: ["all-linear"], init: "random" as const, dropout: 0.1 };
    const model = createModel(config, null, { dtype: "float64", seed: 6, kernels: referenceKernels, lora });
    const ids = Int32Array.from([1, 4, 2, 8, 3, 5, 9, 0]);
    const full = model.logits({ B: 2, T: 4, inputIds: ids });
    const cache = model.createKVCache(2, 8);
    const V = config.vocabSize;
    const prompt = Int32Array.from([1, 4, 3, 5]); // two rows, first two tokens each
    let last = model.decodeStep(cache, prompt);
    for (let t = 2; t < 4; t++) {
      for (let b = 0; b < 2; b++) {
        for (let v = 0; v < V; v++) {
          assert.ok(Math.abs(last[b * V + v] - full[(b * 4 + t - 1) * V + v]) < 1e-6, `${label} t=${t}`);
        }
      }
      last = model.decodeStep(cache, Int32Array.from([ids[t], ids[4 + t]]));
    }
    for (let b = 0; b < 2; b++) {
      for (let v = 0; v < V; v++) assert.ok(Math.abs(last[b * V + v] - full[(b * 4 + 3) * V + v]) < 1e-6);
    }
  }
});

test("NEFTune noise: changes the loss, gradients stay exact for the noisy function", () => {
  const config = TINY.gpt2;
  const model = createModel(config, null, { dtype: "float64", seed: 12 });
  perturb(model, 0.3);
  const batch = tinyBatch(config.vocabSize);
  const neftune = { alpha: 5, seed: 3 };
  const clean = model.forward(batch).loss;
  const noisy = model.forwardBackward(batch, { neftune }).loss;
  assert.notEqual(noisy, clean);
  assert.equal(model.forwardBackward(batch, { neftune }).loss, noisy);
  model.zeroGrad();
  model.forwardBackward(batch, { neftune });
  const p = model.trainableParameters().find((q) => q.name === "transformer.h.0.attn.c_attn.weight")!;
  const analytic = Float64Array.from(p.grad!);
  const f = () => model.forwardBackward(batch, { neftune }).loss;
  assertClose("neftune c_attn", analytic, numericGrad(p.data, f));
});

test("dropoutSeed null turns LoRA dropout off (loss equals evaluation loss)", () => {
  const config = TINY.llama;
  const model = createModel(config, null, {
    dtype: "float64",
    seed: 1,
    lora: { r: 2, dropout: 0.5, init: "random", targets: ["q_proj", "v_proj"] },
  });
  const batch = tinyBatch(config.vocabSize);
  const evalLoss = model.forward(batch).loss;
  assert.equal(model.forwardBackward(batch, { dropoutSeed: null }).loss, evalLoss);
  assert.notEqual(model.forwardBackward(batch, { dropoutSeed: 1 }).loss, evalLoss);
});
