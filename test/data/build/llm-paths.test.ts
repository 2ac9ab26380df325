/**
 * The local LLM's files in build/augment configs are read from the config file's folder, and
 * the build job's fingerprint covers the local model's adapter and template: a rerun with
 * another adapter is a new job, not a resume that keeps the old rows.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { test } from "node:test";
import { loadAugmentConfig } from "../../../src/cli/data-augment.js";
import { loadBuildConfig } from "../../../src/cli/data-build.js";
import { buildInstructionData, statePathFor } from "../../../src/data/build/index.js";
import { createLlmBackend, LlmStore, UsageMeter } from "../../../src/llm/index.js";
import { train } from "../../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "../../train/instruction-set.js";

test("llm.model/adapter/tokenizer/template file resolve from the config folder (kind local only)", () => {
  const dir = mkdtempSync(join(tmpdir(), "llm-paths-"));
  const cfgDir = join(dir, "cfg");
  mkdirSync(cfgDir);
  const local = [
    "llm:",
    "  kind: local",
    "  model: ../models/m.gguf",
    "  adapter: adapters/a",
    "  tokenizer: tok",
    "  template: t.yaml#mine",
  ];
  writeFileSync(join(cfgDir, "build.yaml"), ["out: out.jsonl", ...local, "topics: [x]", ""].join("\n"));
  const b = loadBuildConfig(join(cfgDir, "build.yaml"));
  assert.equal(b.llm.model, join(dir, "models", "m.gguf"));
  assert.equal(b.llm.adapter, join(cfgDir, "adapters", "a"));
  assert.equal(b.llm.tokenizer, join(cfgDir, "tok"));
  assert.equal(b.llm.template, join(cfgDir, "t.yaml#mine"));

  writeFileSync(
    join(cfgDir, "augment.yaml"),
    ["in: in.jsonl", "out: out.jsonl", ...local.slice(0, 5), "  template: alpaca", ""].join("\n"),
  );
  const a = loadAugmentConfig(join(cfgDir, "augment.yaml"));
  assert.equal(a.llm?.model, join(dir, "models", "m.gguf"));
  assert.equal(a.llm?.adapter, join(cfgDir, "adapters", "a"));
  assert.equal(a.llm?.template, "alpaca", "a built-in template name stays a name");

  // kind openai: `model` is the server's model name
  writeFileSync(
    join(cfgDir, "openai.yaml"),
    [
      "out: out.jsonl",
      "llm:",
      "  base_url: http://127.0.0.1:9/v1",
      "  model: qwen/x",
      "topics: [x]",
      "",
    ].join("\n"),
  );
  assert.equal(loadBuildConfig(join(cfgDir, "openai.yaml")).llm.model, "qwen/x");
});

test("a resumed build with another adapter is a new job; the same config resumes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "build-adapter-"));
  // a real adapter: two LoRA steps on the story model, so its answers differ from the base
  const run = await train(
    {
      model: STORIES_GGUF,
      data: writeInstructionSet(dir, "train.json", 8),
      output_dir: join(dir, "run"),
      max_steps: 2,
      per_device_train_batch_size: 4,
      learning_rate: 5e-2,
      save_steps: 0,
      lora: { r: 4, alpha: 8, dropout: 0 },
    },
    { quiet: true },
  );
  const cfgDir = join(dir, "cfg");
  mkdirSync(cfgDir);
  copyFileSync(STORIES_GGUF, join(cfgDir, "stories.gguf"));
  const config = (adapter?: string) => {
    const file = join(cfgDir, "build.yaml");
    writeFileSync(
      file,
      [
        "out: out/built.jsonl",
        "seed: 3",
        "llm:",
        "  kind: local",
        "  model: stories.gguf",
        "  template: simple",
        ...(adapter ? [`  adapter: ${JSON.stringify(relative(cfgDir, adapter))}`] : []),
        "generation:",
        "  max_tokens: 12",
        "  instruction_max_tokens: 8",
        "topics: [animals]",
        "prompt_types: [qa]",
        "per_topic: 2",
        "",
      ].join("\n"),
    );
    return loadBuildConfig(file);
  };
  const build = async (adapter?: string) => {
    const c = config(adapter);
    const store = new LlmStore(c.state ?? statePathFor(c.out));
    const meter = new UsageMeter();
    try {
      return await buildInstructionData(c, {
        backend: createLlmBackend(c.llm, { store, meter }),
        store,
        meter,
      });
    } finally {
      store.close();
    }
  };
  const first = await build();
  assert.equal(first.resumed, 0);
  const again = await build();
  assert.equal(again.job, first.job);
  assert.equal(again.resumed, first.written + first.rejected, "same config: every slot resumes");
  const withAdapter = await build(resolve(run.resultDir));
  assert.notEqual(withAdapter.job, first.job, "the adapter is part of the job fingerprint");
  assert.equal(withAdapter.resumed, 0, "no row of the base model's job is kept");
});
