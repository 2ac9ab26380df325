import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { saveHfModel } from "../../src/engine/checkpoint/hf.js";
import { writePeftAdapter } from "../../src/engine/checkpoint/peft.js";
import { generateTokens } from "../../src/engine/generate.js";
import { loadModel } from "../../src/engine/load.js";
import { createModel } from "../../src/engine/model.js";
import { LocalLanguageModel } from "../../src/generate/index.js";

const repo = join(import.meta.dirname, "..", "..");
const stories = join(repo, "assets", "models", "stories260K");
const EXPECTED =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

test("greedy decoding of the built-in stories260K from BOS reproduces its known story", async () => {
  const lm = await LocalLanguageModel.load({ model: stories });
  const [out] = await lm.generate([{ prompt: "" }], { maxNewTokens: 40, raw: true });
  assert.ok(out.text.startsWith(EXPECTED), out.text);
  assert.equal(out.completionTokens, 40);
  assert.equal(out.finishReason, "length");
});

test("the same story from the GGUF file", async () => {
  const lm = await LocalLanguageModel.load({ model: join(stories, "stories260K.gguf") });
  const [out] = await lm.generate([{ prompt: "" }], { maxNewTokens: 40, raw: true });
  assert.ok(out.text.startsWith(EXPECTED), out.text);
});

test("batched decoding equals one-at-a-time decoding, and seeded sampling is reproducible", () => {
  const { model } = loadModel(stories);
  const prompts = [
    [1, 400, 35, 300],
    [1, 22, 99, 7],
    [1, 5, 6],
    [1, 400, 35, 301],
  ];
  const batched = generateTokens(model, prompts, { maxNewTokens: 12, maxBatchSize: 4 }).sequences;
  const single = prompts.map((p) => generateTokens(model, [p], { maxNewTokens: 12 }).sequences[0]);
  assert.deepEqual(batched, single);

  const opts = { maxNewTokens: 12, temperature: 1, topP: 0.9, seed: 3 };
  const a = generateTokens(model, prompts, opts).sequences;
  const b = generateTokens(model, prompts, { ...opts, maxBatchSize: 1 }).sequences;
  assert.deepEqual(a, b);
  const c = generateTokens(model, prompts, { ...opts, seed: 4 }).sequences;
  assert.notDeepEqual(a, c);
});

test("stop strings cut the response and end the row early", async () => {
  const lm = await LocalLanguageModel.load({ model: stories });
  const [out] = await lm.generate([{ prompt: "" }], { maxNewTokens: 60, raw: true, stop: ["Lily"] });
  assert.equal(out.text, "Once upon a time, there was a little girl named ");
  assert.equal(out.finishReason, "stop");
  assert.ok(out.completionTokens < 20);
});

test("base + adapter generates exactly what the merged model generates", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-gen-"));
  const base = loadModel(stories).model;
  const lora = createModel(base.config, base.stateDict(), {
    lora: { r: 4, alpha: 8, targets: ["q_proj", "v_proj", "down_proj"], init: "random" },
    seed: 9,
  });
  writePeftAdapter(join(dir, "adapter"), {
    config: {
      r: 4,
      loraAlpha: 8,
      loraDropout: 0,
      targetModules: ["q_proj", "v_proj", "down_proj"],
      baseModelNameOrPath: stories,
      useRslora: false,
      fanInFanOut: false,
    },
    tensors: lora.loraStateDict(),
  });
  saveHfModel(join(dir, "merged"), base.config, lora.mergedStateDict());

  const withAdapter = await LocalLanguageModel.load({ model: stories, adapter: join(dir, "adapter") });
  const merged = await LocalLanguageModel.load({ model: join(dir, "merged"), tokenizer: stories });
  const plain = await LocalLanguageModel.load({ model: stories });
  const inputs = [{ prompt: "Tim had a red ball." }, { prompt: "The cat" }];
  const opts = { maxNewTokens: 24, raw: true };
  const a = await withAdapter.generate(inputs, opts);
  const m = await merged.generate(inputs, opts);
  const p = await plain.generate(inputs, opts);
  assert.deepEqual(
    a.map((o) => o.text),
    m.map((o) => o.text),
  );
  // the random adapter really changes the model
  assert.notDeepEqual(
    a.map((o) => o.text),
    p.map((o) => o.text),
  );
});

test("sft generate CLI prints the continuation; bad flags fail with a clear message", () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [join(repo, "bin", "sft.js"), ...args], { encoding: "utf8", cwd: repo });
  const ok = run(["generate", "--model", stories, "--raw", "--prompt", "", "--max-new-tokens", "24"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(ok.stdout.startsWith("Once upon a time, there was a little girl named Lily."), ok.stdout);
  const bad = run(["generate", "--model", stories, "--prompt", "x", "--temperature", "hot"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--temperature: --temperature must be a number, got "hot"/);
  const none = run(["generate", "--model", stories]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /pass --prompt TEXT or --in FILE/);
});

test("sft bench generate prints prompt and decode speed as one JSON line", () => {
  const r = spawnSync(
    process.execPath,
    [
      join(repo, "bin", "sft.js"),
      "bench",
      "generate",
      "--model",
      stories,
      "--prompt-len",
      "8",
      "--new-tokens",
      "16",
      "--repeats",
      "1",
    ],
    { encoding: "utf8", cwd: repo },
  );
  assert.equal(r.status, 0, r.stderr);
  const row = JSON.parse(r.stdout.trim());
  assert.equal(row.new_tokens, 16);
  assert.ok(row.decode_tokens_per_s > 0 && row.prompt_tokens_per_s > 0);
});
