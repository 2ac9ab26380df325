import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  configFromFlags,
  resolveBaseDtype,
  resolveTrainConfig,
  TRAIN_CONFIG_KEYS,
  TRAIN_FLAGS,
} from "../../src/config/train.js";
import { SftError } from "../../src/errors.js";

function yamlFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), "traincfg-")), "train.yaml");
  writeFileSync(f, text);
  return f;
}

test("a HF-style SFT recipe parses; flags override the YAML; defaults fill the rest", () => {
  const f = yamlFile(
    [
      "model: ./base",
      "output_dir: ./run",
      "datasets:",
      "  - {path: qa.jsonl, task: qa, weight: 2}",
      "  - {path: sum.jsonl, task: summarization, template: summarization}",
      "num_train_epochs: 2",
      "per_device_train_batch_size: 4",
      "gradient_accumulation_steps: 4",
      "learning_rate: 1.0e-4",
      "lr_scheduler_type: cosine",
      "warmup_ratio: 0.03",
      "lora: {r: 16, alpha: 32, target_modules: [q_proj, v_proj], rslora: true}",
      "neftune_noise_alpha: 5",
      "packing: true",
      "",
    ].join("\n"),
  );
  const flags = configFromFlags({ lr: "3e-4", loraR: "4", maxSteps: "50", seed: "7" });
  const c = resolveTrainConfig(f, flags);
  assert.equal(c.learning_rate, 3e-4);
  assert.equal(c.lora.r, 4);
  assert.equal(c.lora.alpha, 32, "nested YAML keys not overridden survive");
  assert.deepEqual(c.lora.target_modules, ["q_proj", "v_proj"]);
  assert.equal(c.max_steps, 50);
  assert.equal(c.seed, 7);
  assert.equal(c.lr_scheduler_type, "cosine");
  assert.equal(c.datasets?.[1].weight, 1);
  assert.equal(c.max_grad_norm, 1, "default from the schema");
  assert.equal(c.finetuning_type, "lora");
});

test("unknown keys are errors with file:line and a did-you-mean", () => {
  const f = yamlFile("model: m\noutput_dir: o\ndata: d.jsonl\nlearning_rat: 0.1\nlora:\n  rank: 4\n");
  assert.throws(
    () => resolveTrainConfig(f, {}),
    (e: unknown) => {
      assert.ok(e instanceof SftError);
      assert.match(
        e.message,
        /train\.yaml:4: learning_rat: unknown option "learning_rat" \(did you mean "learning_rate"\?\)/,
      );
      assert.match(e.message, /train\.yaml:6: lora\.rank: unknown option "rank" \(did you mean "r"\?\)/);
      assert.equal(e.where.line, 4);
      return true;
    },
  );
});

test("bad values name the field and line; missing data is explained", () => {
  const f = yamlFile("model: m\noutput_dir: o\ndata: d\nlr_scheduler_type: cosin\nmax_steps: -3\n");
  assert.throws(
    () => resolveTrainConfig(f, {}),
    /train\.yaml:4: lr_scheduler_type: .*\n.*train\.yaml:5: max_steps/,
  );
  assert.throws(
    () => resolveTrainConfig(undefined, configFromFlags({ model: "m", out: "o" })),
    /no training data/,
  );
  assert.throws(
    () => resolveTrainConfig(undefined, configFromFlags({ model: "m", out: "o", data: "d", batchSize: "x" })),
    /--batch-size expects an integer/,
  );
});

test("every option is a flag; the DESIGN.md short names are aliases", () => {
  const flagNames = new Set(TRAIN_FLAGS.flatMap((f) => [f.flag, ...(f.aliases ?? [])]));
  for (const n of [
    "model",
    "data",
    "out",
    "eval-data",
    "max-steps",
    "batch-size",
    "grad-accum",
    "lr",
    "seed",
    "save-steps",
    "lora-r",
    "chat-template",
    "template",
    "dataset",
  ])
    assert.ok(flagNames.has(n), n);
  for (const k of TRAIN_CONFIG_KEYS)
    assert.ok(
      TRAIN_FLAGS.some((f) => f.path[0] === k),
      `no flag for ${k}`,
    );
  const c = resolveTrainConfig(
    undefined,
    configFromFlags({
      model: "m",
      out: "o",
      dataset: ["a.jsonl:qa:2", "b.jsonl:chat"],
      loraTargetModules: "q_proj,v_proj",
      packing: true,
    }),
  );
  assert.deepEqual(c.datasets, [
    { path: "a.jsonl", task: "qa", weight: 2 },
    { path: "b.jsonl", task: "chat", weight: 1 },
  ]);
  assert.deepEqual(c.lora.target_modules, ["q_proj", "v_proj"]);
  assert.equal(c.packing, true);
});

test("base_dtype and its HF/Axolotl spellings: f32 default, bf16 accepted, conflicts and quantized bases explained", () => {
  const base = "model: m\noutput_dir: o\ndata: d.jsonl\n";
  assert.equal(resolveBaseDtype(resolveTrainConfig(yamlFile(base), {})), "f32");
  assert.equal(resolveBaseDtype(resolveTrainConfig(yamlFile(`${base}base_dtype: bf16\n`), {})), "bf16");
  assert.equal(resolveBaseDtype(resolveTrainConfig(yamlFile(`${base}bf16: true\n`), {})), "bf16");
  assert.equal(
    resolveBaseDtype(
      resolveTrainConfig(undefined, configFromFlags({ model: "m", out: "o", data: "d", baseDtype: "bf16" })),
    ),
    "bf16",
    "--base-dtype flag",
  );
  const fails = (yaml: string, re: RegExp) =>
    assert.throws(
      () => resolveTrainConfig(yamlFile(base + yaml), {}),
      (e: unknown) => e instanceof SftError && re.test(e.format()),
      yaml,
    );
  fails(
    "base_dtype: bf16\nload_in_4bit: true\n",
    /train\.yaml:5: .*conflicting base precisions: base_dtype \(bf16\), load_in_4bit \(q4_0\)/,
  );
  fails("load_in_8bit: true\n", /train\.yaml:4: .*q8_0 is not available in this version/);
  fails("base_dtype: q4_0\n", /q4_0 is not available/);
  fails("base_dtype: fp8\n", /base_dtype/);
  fails("finetuning_type: full\nbf16: true\n", /applies to a frozen base; full fine-tuning/);
});
