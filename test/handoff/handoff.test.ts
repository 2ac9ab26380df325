/**
 * `sft handoff`: the exported rows are sftkit's epoch-0 training rows, the Axolotl config uses
 * only keys of Axolotl's config reference, every sftkit option is mapped, carried by the data
 * or listed as having no equivalent, and the TRL script trains for real (TRL 1.13 in the test
 * venv) with an adapter that loads back into `sft generate`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { TRAIN_CONFIG_KEYS, validateTrainConfig } from "../../src/config/train.js";
import { axolotlTable } from "../../src/handoff/axolotl.js";
import { runHandoff } from "../../src/handoff/handoff.js";
import { trlTable } from "../../src/handoff/trl.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { epochRows, prepareData } from "../../src/train/data.js";
import { torchVenvPython } from "../helpers/torch-venv.js";
import { repoRoot, v1Records } from "../tokenize/helpers.js";

/**
 * Every top-level key of Axolotl's docs/config-reference.qmd (axolotl-ai-cloud/axolotl at
 * 29468bf2) that a hand-off may write.
 */
const AXOLOTL_REFERENCE_KEYS = new Set(
  `base_model datasets test_datasets val_set_size dataset_prepared_path shuffle_merged_datasets output_dir
adapter lora_model_dir lora_r lora_alpha lora_dropout lora_target_modules lora_target_linear peft_use_rslora
num_epochs max_steps micro_batch_size eval_batch_size gradient_accumulation_steps learning_rate weight_decay
optimizer adam_beta1 adam_beta2 adam_epsilon warmup_ratio warmup_steps lr_scheduler max_grad_norm seed
logging_steps eval_steps save_steps save_total_limit load_best_model_at_end early_stopping_patience
neftune_noise_alpha gradient_checkpointing sequence_len sample_packing use_tensorboard`.split(/\s+/),
);

const model = join(repoRoot, "assets/models/stories260K");
const dir = mkdtempSync(join(tmpdir(), "sft-handoff-"));
const dataFile = join(dir, "data.jsonl");
writeFileSync(
  dataFile,
  v1Records(40)
    .map((r) => `${JSON.stringify(r)}\n`)
    .join(""),
);

function config(extra: Record<string, unknown> = {}) {
  return validateTrainConfig({
    model,
    data: dataFile,
    output_dir: join(dir, "run"),
    max_seq_length: 128,
    per_device_train_batch_size: 4,
    max_steps: 3,
    eval_split: 0.1,
    lora: { r: 4, alpha: 8, dropout: 0, target_modules: ["q_proj", "v_proj"] },
    ...extra,
  });
}

function readJsonl(path: string): Record<string, number[]>[] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

describe("sft handoff", () => {
  test("every sftkit option has a fate in both tables", () => {
    const files = { train: "train.jsonl", baseModel: model };
    for (const table of [axolotlTable(files), trlTable(files, config())])
      assert.deepEqual(Object.keys(table).sort(), [...TRAIN_CONFIG_KEYS].sort());
  });

  test("axolotl: rows are sftkit's packed epoch-0 rows; config keys are Axolotl's; README lists what has no equivalent", async () => {
    const c = config({ packing: true, eval_on_start: true });
    const out = join(dir, "axolotl");
    const r = await runHandoff("axolotl", c, out);
    const tok = await loadTokenizer(model);
    const expected = epochRows(await prepareData(c, tok), c, 0);
    const rows = readJsonl(join(out, "train.jsonl"));
    assert.equal(rows.length, expected.length);
    assert.equal(r.trainRows, rows.length);
    rows.forEach((row, i) => {
      assert.deepEqual(row.input_ids, expected[i].inputIds);
      assert.deepEqual(row.labels, expected[i].labels);
      assert.deepEqual(row.position_ids, (expected[i] as { positions: number[] }).positions);
    });
    assert.ok(r.evalRows > 0 && existsSync(join(out, "eval.jsonl")));
    const yml = parse(readFileSync(join(out, "config.yml"), "utf8")) as Record<string, unknown>;
    for (const key of Object.keys(yml))
      assert.ok(AXOLOTL_REFERENCE_KEYS.has(key), `${key} is not an Axolotl key`);
    assert.equal(yml.base_model, model);
    assert.deepEqual(yml.datasets, [{ path: "train.jsonl", ds_type: "json", split: "train" }]);
    assert.equal(yml.sequence_len, 128);
    assert.equal(yml.lora_r, 4);
    assert.equal(yml.sample_packing, false, "the rows are packed already");
    const readme = readFileSync(join(out, "README.md"), "utf8");
    assert.match(readme, /axolotl train config\.yml/);
    const unmapped = JSON.parse(readFileSync(join(out, "unmapped.json"), "utf8")) as { option: string }[];
    assert.ok(unmapped.some((u) => u.option === "eval_on_start"));
    for (const u of unmapped) assert.ok(readme.includes(`\`${u.option}\``), `${u.option} in README`);
  });

  test("trl: SFTTrainer trains on the exported rows and its adapter loads in sft generate", async (t) => {
    const venv = torchVenvPython();
    if ("skip" in venv) {
      t.skip(venv.skip);
      return;
    }
    const out = join(dir, "trl");
    await runHandoff("trl", config({ tensorboard: false }), out);
    assert.match(readFileSync(join(out, "README.md"), "utf8"), /accelerate launch train_trl\.py/);
    const run = spawnSync(venv.python, ["train_trl.py", "outputs"], {
      cwd: out,
      encoding: "utf8",
      env: { ...process.env, TOKENIZERS_PARALLELISM: "false", HF_HUB_OFFLINE: "1" },
      timeout: 8 * 60_000,
    });
    assert.equal(run.status, 0, run.stderr.slice(-3000));
    const state = JSON.parse(readFileSync(join(out, "outputs/checkpoint-3/trainer_state.json"), "utf8")) as {
      log_history: { loss?: number; step: number }[];
    };
    const losses = state.log_history.filter((e) => e.loss !== undefined);
    assert.ok(losses.length > 0 && losses.every((e) => Number.isFinite(e.loss)));
    const gen = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(repoRoot, "bin/sft.js"),
        "generate",
        "--model",
        model,
        "--adapter",
        join(out, "outputs/adapter"),
        "--prompt",
        "Once upon",
        "--max-new-tokens",
        "8",
      ],
      { cwd: repoRoot, encoding: "utf8" },
    );
    assert.equal(gen.status, 0, gen.stderr);
    assert.ok(gen.stdout.trim().length > 0);
  });
});
