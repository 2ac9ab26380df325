/**
 * Train options that only a run can show: each set away from its default changes an
 * observable result of a real run on stories260K (trained tokens, step count, the first
 * loss, per-task eval keys, eval batches). The optimizer options (betas, epsilon, weight
 * decay, warmup, schedule, clipping) are checked against PyTorch in trainer.test.ts.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { validateTrainConfig } from "../../src/config/train.js";
import { buildTrainingData, prepareData } from "../../src/train/data.js";
import { openTrainableModel } from "../../src/train/engine-bridge.js";
import { train } from "../../src/train/index.js";
import { tokenizerDir } from "../tokenize/helpers.js";
import { instructionRows, STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

const tmp = mkdtempSync(join(tmpdir(), "sft-train-options-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const data = writeInstructionSet(tmp, "train.json", 12);
const evalData = writeInstructionSet(tmp, "eval.json", 4, 100);

let runs = 0;
async function run(options: Record<string, unknown>) {
  const dir = join(tmp, `run-${++runs}`);
  mkdirSync(dir);
  return train(
    {
      model: STORIES_GGUF,
      data,
      output_dir: join(dir, "out"),
      max_steps: 1,
      per_device_train_batch_size: 4,
      logging_steps: 1,
      save_steps: 0,
      tensorboard: false,
      lora: { r: 4, alpha: 8, dropout: 0, target_modules: ["q_proj", "v_proj"] },
      ...options,
    },
    { quiet: true },
  );
}

test("mask_policy include_prompt trains the prompt tokens too", async () => {
  const answers = await run({});
  const everything = await run({ mask_policy: "include_prompt" });
  assert.ok(
    everything.trainedTokens > answers.trainedTokens * 1.5,
    `${everything.trainedTokens} vs ${answers.trainedTokens}`,
  );
});

test("seed: another seed gives another data order (another first loss)", async () => {
  const a = await run({ seed: 42 });
  const b = await run({ seed: 7 });
  assert.notEqual(a.logHistory[0].loss, b.logHistory[0].loss);
});

test("num_train_epochs sets the number of steps when max_steps is not set", async () => {
  const one = await run({ max_steps: undefined, num_train_epochs: 1 });
  const two = await run({ max_steps: undefined, num_train_epochs: 2 });
  assert.equal(one.globalStep, 3);
  assert.equal(two.globalStep, 6);
});

test("datasets[].eval_path: each task's held-out file gives its own eval loss", async () => {
  const more = writeInstructionSet(tmp, "more.json", 8, 50);
  const moreEval = writeInstructionSet(tmp, "more-eval.json", 2, 200);
  const r = await run({
    data: undefined,
    datasets: [
      { path: data, task: "who", eval_path: evalData },
      { path: more, task: "more", eval_path: moreEval },
    ],
  });
  const last = r.logHistory.filter((e) => e.eval_loss !== undefined).at(-1) as Record<string, unknown>;
  assert.ok(last, "an eval ran");
  assert.equal(typeof last.eval_who_loss, "number");
  assert.equal(typeof last.eval_more_loss, "number");
});

test("per_device_eval_batch_size sets the size of the eval batches", async () => {
  const batches = async (size: number) => {
    const config = validateTrainConfig({
      model: STORIES_GGUF,
      data,
      eval_data: evalData,
      output_dir: join(tmp, "unused"),
      per_device_eval_batch_size: size,
    });
    const opened = await openTrainableModel(config);
    const prepared = await prepareData(config, opened.tokenizer);
    return buildTrainingData(prepared, config, opened.tokenizer.padTokenId).evalBatches.map((b) => b.batch.B);
  };
  assert.deepEqual(await batches(1), [1, 1, 1, 1]);
  assert.deepEqual(await batches(3), [3, 1]);
});

test("lora.rslora scales by alpha/sqrt(r): the second step's loss differs", async () => {
  const opts = { max_steps: 2, learning_rate: 1e-2 };
  const lora = { r: 4, alpha: 8, dropout: 0, target_modules: ["q_proj", "v_proj"] };
  const plain = await run({ ...opts, lora });
  const rs = await run({ ...opts, lora: { ...lora, rslora: true } });
  // B starts at zero, so the first step cannot see the scale; the second one does
  assert.equal(rs.logHistory[0].loss, plain.logHistory[0].loss);
  assert.notEqual(rs.logHistory[1].loss, plain.logHistory[1].loss);
  const saved = JSON.parse(readFileSync(join(rs.resultDir, "adapter_config.json"), "utf8"));
  assert.equal(saved.use_rslora, true);
});

test("datasets[].template renders that task's records with its own template", async () => {
  const own = await run({ data: undefined, datasets: [{ path: data }] });
  const simple = await run({ data: undefined, datasets: [{ path: data, template: "simple" }] });
  assert.notEqual(simple.logHistory[0].loss, own.logHistory[0].loss);
  assert.notEqual(simple.realTokens, own.realTokens);
});

test("warmup_ratio: 0.5 of 4 steps warms up as warmup_steps: 2 does", async () => {
  const lrs = async (o: Record<string, unknown>) =>
    (await run({ max_steps: 4, ...o })).logHistory
      .filter((e) => e.loss !== undefined)
      .map((e) => e.learning_rate);
  const none = await lrs({});
  const ratio = await lrs({ warmup_ratio: 0.5 });
  assert.deepEqual(ratio, await lrs({ warmup_steps: 2 }));
  assert.notDeepEqual(ratio, none);
  assert.ok((ratio[0] as number) < (none[0] as number), `${ratio[0]} vs ${none[0]}`);
});

test("logging_steps: 2 logs every second step (and the first and last)", async () => {
  const logged = (r: { logHistory: { loss?: number; step?: number }[] }) =>
    r.logHistory.filter((e) => e.loss !== undefined).map((e) => e.step);
  assert.deepEqual(logged(await run({ max_steps: 5, logging_steps: 2 })), [1, 2, 4, 5]);
  assert.deepEqual(logged(await run({ max_steps: 5, logging_steps: 1 })), [1, 2, 3, 4, 5]);
});

test("truncation: drop sets over-long samples aside instead of cutting their response", async () => {
  const rejects = (r: { runDir: string }) =>
    readFileSync(join(r.runDir, "rejects.jsonl"), "utf8").split("\n").filter(Boolean).length;
  // half the answers are five times as long as the others
  const mixed = join(tmp, "mixed.json");
  const rows = instructionRows(8).map((r, i) => (i % 2 ? { ...r, output: String(r.output).repeat(5) } : r));
  writeFileSync(mixed, JSON.stringify(rows));
  const cut = await run({ data: mixed, max_seq_length: 150 });
  const dropped = await run({ data: mixed, max_seq_length: 150, truncation: "drop" });
  assert.equal(rejects(cut), 0);
  assert.ok(rejects(dropped) > 0, "some samples are the long ones exceed 150 tokens");
  assert.ok(dropped.trainedTokens < cut.trainedTokens);
});

test("allow_non_alternating: two user turns in a row are refused, or trained when allowed", async () => {
  const file = join(tmp, "two-users.jsonl");
  const row = (i: number) => ({
    messages: [
      { role: "user", content: `Who has the ball ${i}?` },
      { role: "user", content: "Tell me." },
      { role: "assistant", content: "Lily has the ball. Lily is happy." },
    ],
  });
  writeFileSync(file, Array.from({ length: 8 }, (_, i) => `${JSON.stringify(row(i))}\n`).join(""));
  await assert.rejects(run({ data: file }), /alternat/);
  const r = await run({ data: file, allow_non_alternating: true });
  assert.equal(r.globalStep, 1);
});

test("base_dtype bf16: the frozen base is rounded to bfloat16, so the first loss moves a little", async () => {
  const f32 = await run({});
  const bf16 = await run({ base_dtype: "bf16" });
  const [a, b] = [f32.logHistory[0].loss as number, bf16.logHistory[0].loss as number];
  assert.notEqual(a, b);
  assert.ok(Math.abs(a - b) < 0.05 * a, `${a} vs ${b}`);
});

test("tensorboard: true writes an event file under runs/, false none", async () => {
  const events = (r: { runDir: string }) =>
    existsSync(join(r.runDir, "runs"))
      ? readdirSync(join(r.runDir, "runs")).filter((f) => f.includes("tfevents"))
      : [];
  assert.equal(events(await run({ tensorboard: true })).length, 1);
  assert.deepEqual(events(await run({})), []);
});

test("adapter: training continues from a saved adapter instead of a fresh LoRA", async () => {
  const first = await run({ max_steps: 2, learning_rate: 1e-2 });
  const fresh = await run({});
  const continued = await run({ adapter: first.resultDir });
  assert.notEqual(continued.logHistory[0].loss, fresh.logHistory[0].loss);
});

test("tokenizer: the named tokenizer is the one used (a vocabulary larger than the model's is refused)", async () => {
  await assert.rejects(run({ tokenizer: tokenizerDir("qwen3") }), /outside the vocabulary \[0, 512\)/);
});
