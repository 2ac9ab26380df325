/**
 * LoRA adapters as GGUF: the file's metadata and tensors read back as written (llama.cpp's
 * names and layouts), mismatched adapters fail before writing, and llama.cpp (node-llama-cpp,
 * CPU) applying the adapter file to the exported base gives the merged export's greedy tokens.
 */

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runExport } from "../../../src/cli/export.js";
import { exportModel } from "../../../src/engine/checkpoint/export.js";
import { readGguf } from "../../../src/engine/checkpoint/gguf.js";
import { saveGgufAdapter } from "../../../src/engine/checkpoint/gguf-adapter.js";
import { saveGgufModel } from "../../../src/engine/checkpoint/gguf-model.js";
import { loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import {
  type LoraAdapter,
  mergeLora,
  peftTensorName,
  writePeftAdapter,
} from "../../../src/engine/checkpoint/peft.js";
import { initRandom } from "../../../src/engine/model.js";
import { permuteRopeRows } from "../../../src/engine/models/llama/gguf.js";
import { familyOf } from "../../../src/engine/models/registry.js";
import type { TensorMap } from "../../../src/engine/tensor.js";
import { FAMILY_CASES } from "../../helpers/families.js";
import { type Llama, startLlama } from "../../helpers/llama-cpp.js";

const repoRoot = new URL("../../..", import.meta.url).pathname;
const base = join(repoRoot, "assets/models/stories260K");
const dir = mkdtempSync(join(tmpdir(), "sft-gguf-adapter-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MODULES = [
  "self_attn.q_proj",
  "self_attn.k_proj",
  "self_attn.v_proj",
  "self_attn.o_proj",
  "mlp.down_proj",
];

/** A deterministic adapter over stories260K, large enough to change its greedy text; q_proj of layer 0 has its own rank and alpha. */
function makeAdapter(out: string): { adapterDir: string; adapter: LoraAdapter } {
  const ck = loadCheckpoint(base);
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31 - 0.5;
  };
  const tensors: TensorMap = new Map();
  for (let l = 0; l < ck.config.numLayers; l++) {
    for (const m of MODULES) {
      const path = `model.layers.${l}.${m}`;
      const W = ck.tensors.get(`${path}.weight`);
      assert.ok(W);
      const [outF, inF] = W.shape;
      const r = l === 0 && m === "self_attn.q_proj" ? 2 : 4;
      const A = Float32Array.from({ length: r * inF }, () => rand() * 0.5);
      const B = Float32Array.from({ length: outF * r }, () => rand() * 0.5);
      tensors.set(peftTensorName(path, "A"), { shape: [r, inF], data: A });
      tensors.set(peftTensorName(path, "B"), { shape: [outF, r], data: B });
    }
  }
  const adapter: LoraAdapter = {
    config: {
      r: 4,
      loraAlpha: 8,
      loraDropout: 0,
      targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"],
      baseModelNameOrPath: null,
      useRslora: false,
      fanInFanOut: false,
      rankPattern: { "model.layers.0.self_attn.q_proj": 2 },
      alphaPattern: { "model.layers.0.self_attn.q_proj": 3 },
    },
    tensors,
  };
  writePeftAdapter(out, adapter);
  return { adapterDir: out, adapter };
}

const { adapterDir, adapter } = makeAdapter(join(dir, "adapter"));

test("the GGUF adapter reads back with llama.cpp's metadata, names and layouts", () => {
  const file = join(dir, "a.gguf");
  assert.deepEqual(exportModel({ model: base, adapter: adapterDir, out: file, format: "gguf-adapter" }), [
    file,
  ]);
  const g = readGguf(file);
  assert.equal(g.metadata["general.architecture"], "llama");
  assert.equal(g.metadata["general.type"], "adapter");
  assert.equal(g.metadata["adapter.type"], "lora");
  assert.equal(g.metadata["adapter.lora.alpha"], 8);
  assert.equal(g.tensors.size, 5 * MODULES.length * 2);
  const get = (name: string) => {
    const t = g.tensors.get(name);
    assert.ok(t, `${name} in the file`);
    return t;
  };
  const peft = (path: string, w: "A" | "B") => adapter.tensors.get(peftTensorName(path, w))!;
  // v_proj: A and B as PEFT stores them ([r, in], [out, r]); scale alpha/r = 8/4 as llama.cpp computes it.
  const v = "model.layers.1.self_attn.v_proj";
  assert.deepEqual(get("blk.1.attn_v.weight.lora_a").shape, [4, 64]);
  assert.deepEqual(get("blk.1.attn_v.weight.lora_a").data, peft(v, "A").data);
  assert.deepEqual(get("blk.1.attn_v.weight.lora_b").shape, [32, 4]);
  assert.deepEqual(get("blk.1.attn_v.weight.lora_b").data, peft(v, "B").data);
  assert.deepEqual(get("blk.4.ffn_down.weight.lora_a").shape, [4, 172]);
  // k_proj: B's rows in llama.cpp's RoPE order, as the base's attn_k.weight rows are.
  const k = "model.layers.2.self_attn.k_proj";
  assert.deepEqual(get("blk.2.attn_k.weight.lora_b").data, permuteRopeRows(peft(k, "B"), 4, true).data);
  // Layer 0 q_proj: PEFT's scale 3/2 differs from the file's 8/2, so B carries the factor 3/8.
  const q = "model.layers.0.self_attn.q_proj";
  const want = permuteRopeRows(peft(q, "B"), 8, true).data.map((x) => x * (3 / 8));
  const got = get("blk.0.attn_q.weight.lora_b").data;
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-7 * Math.abs(want[i]), `lora_b[${i}]`);
});

test("F16 adapters; an adapter that does not fit the base fails before writing", () => {
  const f16 = join(dir, "a16.gguf");
  exportModel({ model: base, adapter: adapterDir, out: f16, format: "gguf-adapter", dtype: "F16" });
  assert.equal(readGguf(f16).header.tensors[0].type, "F16");
  assert.throws(
    () =>
      exportModel({
        model: base,
        adapter: adapterDir,
        out: join(dir, "q.gguf"),
        format: "gguf-adapter",
        dtype: "Q8_0",
      }),
    /--dtype Q8_0 is not available for gguf-adapter/,
  );
  assert.throws(
    () => exportModel({ model: base, out: join(dir, "x.gguf"), format: "gguf-adapter" }),
    /no adapter was given/,
  );
  const wide = join(dir, "wide");
  const bad = new Map(adapter.tensors);
  bad.set(peftTensorName("model.layers.0.self_attn.v_proj", "B"), {
    shape: [64, 4],
    data: new Float32Array(256),
  });
  writePeftAdapter(wide, { config: adapter.config, tensors: bad });
  const out = join(dir, "bad.gguf");
  assert.throws(
    () => exportModel({ model: base, adapter: wide, out, format: "gguf-adapter" }),
    /the adapter implies \[64, 64\] for model\.layers\.0\.self_attn\.v_proj\.weight, the base has \[32, 64\]/,
  );
  assert.equal(existsSync(out), false);
});

test("--ollama with --format gguf-adapter writes base, adapter and a Modelfile with ADAPTER", () => {
  const od = join(dir, "ollama-mine");
  const files = runExport({
    model: base,
    adapter: adapterDir,
    format: "gguf-adapter",
    ollama: od,
    dtype: "F32",
  });
  assert.deepEqual(files, [join(od, "model.gguf"), join(od, "adapter.gguf"), join(od, "Modelfile")]);
  const mf = readFileSync(join(od, "Modelfile"), "utf8");
  assert.match(mf, /^FROM \.\/model\.gguf$/m);
  assert.match(mf, /^ADAPTER \.\/adapter\.gguf$/m);
  assert.equal(readGguf(join(od, "adapter.gguf")).metadata["general.type"], "adapter");
  assert.equal(readGguf(join(od, "model.gguf")).metadata["general.type"], undefined);
});

test("every exported family: base + alpha/r · lora_b·lora_a equals the merged GGUF's weight", () => {
  for (const c of FAMILY_CASES) {
    const config = { ...c.config, vocabSize: 256, bosTokenId: null, eosTokenId: null, padTokenId: null };
    const fam = familyOf(config);
    const tensors = initRandom(config, 3);
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31 - 0.5;
    };
    const lora: TensorMap = new Map();
    for (const [name, W] of tensors) {
      const m = /^(.+\.([a-z_]+))\.weight$/.exec(name);
      if (!m || !fam.lora.targets.includes(m[2]) || W.shape.length !== 2) continue;
      const [inF, outF] = fam.lora.fanInFanOut ? W.shape : [W.shape[1], W.shape[0]];
      lora.set(peftTensorName(m[1], "A"), {
        shape: [4, inF],
        data: Float32Array.from({ length: 4 * inF }, rand),
      });
      lora.set(peftTensorName(m[1], "B"), {
        shape: [outF, 4],
        data: Float32Array.from({ length: outF * 4 }, rand),
      });
    }
    assert.ok(lora.size >= 8, `${c.name}: adapter over ${fam.lora.targets.join(", ")}`);
    const ad: LoraAdapter = {
      config: {
        ...adapter.config,
        rankPattern: undefined,
        alphaPattern: undefined,
        targetModules: [...fam.lora.targets],
      },
      tensors: lora,
    };
    const name = c.name.split(" ")[0];
    const files = ["base", "merged", "lora"].map((k) => join(dir, `${name}-${k}.gguf`));
    saveGgufModel(files[0], config, tensors, { type: "F32" });
    saveGgufModel(files[1], config, mergeLora(tensors, ad, config), { type: "F32" });
    saveGgufAdapter(files[2], config, ad);
    const [b, m, a] = files.map((f) => readGguf(f));
    assert.equal(a.metadata["general.architecture"], b.metadata["general.architecture"], c.name);
    assert.equal(a.tensors.size, lora.size, c.name);
    for (const [tName, A] of a.tensors) {
      if (!tName.endsWith(".lora_a")) continue;
      const wName = tName.slice(0, -".lora_a".length);
      const B = a.tensors.get(`${wName}.lora_b`);
      const W0 = b.tensors.get(wName);
      const W1 = m.tensors.get(wName);
      assert.ok(B && W0 && W1, `${c.name}: ${wName} in all three files`);
      const [outF, inF] = W0.shape;
      assert.deepEqual(
        [A.shape, B.shape],
        [
          [4, inF],
          [outF, 4],
        ],
        `${c.name}: ${wName} pair shapes`,
      );
      for (let o = 0; o < outF; o++) {
        for (let i = 0; i < inF; i++) {
          let d = 0;
          for (let k = 0; k < 4; k++) d += B.data[o * 4 + k] * A.data[k * inF + i];
          const want: number = W0.data[o * inF + i] + (8 / 4) * d;
          const got: number = W1.data[o * inF + i];
          if (Math.abs(got - want) > 1e-5)
            assert.fail(`${c.name}: ${wName}[${o}, ${i}] merged ${got}, base + adapter ${want}`);
        }
      }
    }
  }
});

const NEW_TOKENS = 16;

async function greedy(llama: Llama, file: string, lora?: string): Promise<number[]> {
  const model = await llama.loadModel({ modelPath: file });
  try {
    const prompt = model.tokenize("Once upon a time, there was a little", false);
    const context = await model.createContext({
      contextSize: 64,
      threads: 2,
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
      ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}),
    });
    const out: number[] = [];
    for await (const t of context.getSequence().evaluate(prompt, { temperature: 0 })) {
      out.push(Number(t));
      if (out.length >= NEW_TOKENS) break;
    }
    await context.dispose();
    return out;
  } finally {
    await model.dispose();
  }
}

test("llama.cpp applying the GGUF adapter to the base gives the merged export's greedy tokens", async (t) => {
  const started = await startLlama();
  if ("skip" in started) {
    t.skip(started.skip);
    return;
  }
  try {
    const baseFile = join(dir, "base.gguf");
    const mergedFile = join(dir, "merged.gguf");
    const adapterFile = join(dir, "adapter.gguf");
    exportModel({ model: base, out: baseFile, format: "gguf", dtype: "F32" });
    exportModel({ model: base, adapter: adapterDir, out: mergedFile, format: "gguf", dtype: "F32" });
    exportModel({ model: base, adapter: adapterDir, out: adapterFile, format: "gguf-adapter" });
    const plain = await greedy(started.llama, baseFile);
    const merged = await greedy(started.llama, mergedFile);
    const applied = await greedy(started.llama, baseFile, adapterFile);
    assert.equal(merged.length, NEW_TOKENS);
    // The adapter changes the text, so equal tokens below mean llama.cpp applied it as merged.
    assert.notDeepEqual(merged, plain, "the adapter should change stories260K's greedy text");
    assert.deepEqual(applied, merged);
  } finally {
    await started.llama.dispose();
  }
});
