/**
 * The pre-flight checks of `sft data check` run before the first training step: a template
 * that breaks a check stops the run with the record ids and tokens at fault, and
 * `preflight: false` lets it train anyway.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { validateTrainConfig } from "../../src/config/train.js";
import { SftError } from "../../src/errors.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { dataSummary, prepareData } from "../../src/train/data.js";
import { train } from "../../src/train/index.js";
import { instructionRows, repoRoot, STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "train-preflight-"));
  const data = writeInstructionSet(dir, "train.json", 6);
  // the template writes BOS while the tokenizer prepends its own: every sample starts <s><s>
  const template = join(dir, "bos-twice.yaml");
  writeFileSync(
    template,
    'name: bos-twice\nprefix: "<s>"\nuser: "Q: {content}\\n"\nassistant: "A: {content}{eos}"\n',
  );
  return { dir, data, template };
}

const base = (dir: string, data: string, template: string, out: string) => ({
  model: STORIES_GGUF,
  data,
  template,
  output_dir: join(dir, out),
  max_steps: 2,
  per_device_train_batch_size: 2,
  save_steps: 0,
  lora: { r: 4, alpha: 8, dropout: 0 },
});

test("a template that doubles BOS stops the run before the first step, naming records and tokens", async () => {
  const { dir, data, template } = setup();
  const out = join(dir, "run");
  await assert.rejects(
    () => train(base(dir, data, template, "run"), { quiet: true }),
    (e: unknown) => {
      assert.ok(e instanceof SftError, String(e));
      assert.match(e.message, /^pre-flight failed for 6 record\(s\) \(6× doubled-bos[,)]/);
      // record ids as the reader gives them, and the offending ids with their pieces
      assert.match(e.message, /doubled-bos: record \S+: the sample starts with BOS twice \[1 "<s>", 1 "<s>"/);
      assert.match(e.message, /tokens \[1 "<s>", 1 "<s>"\]/);
      assert.equal(e.where?.field, "preflight");
      assert.match(e.hint ?? "", /preflight: false/);
      return true;
    },
  );
  assert.ok(!existsSync(join(out, "trainer_state.json")), "no step was run");
});

test("preflight: false trains on the same data", async () => {
  const { dir, data, template } = setup();
  const r = await train({ ...base(dir, data, template, "run"), preflight: false }, { quiet: true });
  assert.equal(r.globalStep, 2);
});

test("clean data passes the pre-flight with packing on", async () => {
  const { dir, data } = setup();
  const r = await train(
    { ...base(dir, data, "alpaca", "run"), packing: true, max_seq_length: 128 },
    { quiet: true },
  );
  assert.equal(r.globalStep, 2);
});

test("over-long samples are truncated by default; those with no room are listed in rejects.jsonl with a one-line summary", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-truncation-"));
  const rows = instructionRows(8).map((r, i) =>
    i < 2
      ? { ...r, instruction: `${"Tell me a long story about the park. ".repeat(12)}${r.instruction}` }
      : i < 5
        ? { ...r, output: `${r.output} ${"The sun is big and the sky is blue. ".repeat(8)}` }
        : r,
  );
  const data = join(dir, "train.json");
  writeFileSync(data, JSON.stringify(rows));
  let out = "";
  const stdout = {
    isTTY: false,
    write: (s: string) => {
      out += s;
    },
  };
  const config = { ...base(dir, data, "alpaca", "run"), max_seq_length: 200 };
  const r = await train(config, { stdout });
  assert.equal(r.globalStep, 2);
  const rejectsPath = join(dir, "run", "rejects.jsonl");
  assert.match(
    out,
    new RegExp(
      `^3 truncated, 2 rejected \\(2 too-long\\): see ${rejectsPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`,
      "m",
    ),
  );
  const rejects = readFileSync(rejectsPath, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(rejects.length, 2);
  assert.equal(rejects[0].kind, "too-long");
  assert.match(
    rejects[0].reason,
    /^the prompt before the first trained turn is \d+ tokens, not shorter than max_seq_length 200/,
  );
  assert.equal(rejects[0].file, data);
});

test("content a template loses stops the run in pre-flight; lost_content: drop sets those records aside in rejects.jsonl", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-lost-"));
  const rows = JSON.parse(
    readFileSync(join(repoRoot, "../shared/data/sft/glaive_toolcall_en_demo.json"), "utf8"),
  ).slice(0, 4);
  const data = join(dir, "glaive.json");
  writeFileSync(data, JSON.stringify(rows));
  const tokenizer = await loadTokenizer(join(repoRoot, "../shared/tokenizers/llama3"));
  const config = validateTrainConfig({
    model: STORIES_GGUF,
    data,
    output_dir: join(dir, "run"),
    chat_template: true,
  });
  await assert.rejects(
    () => prepareData(config, tokenizer),
    (e: unknown) => {
      assert.ok(e instanceof SftError, String(e));
      assert.match(e.message, /^pre-flight failed for \d+ record\(s\) \(.*\d+× lost-content/);
      assert.match(
        e.message,
        /lost-content: record \S+: the template drops content of this record: message 3: tool call "search_recipes"; meta\.tools: tool schema "search_recipes"/,
      );
      assert.match(e.hint ?? "", /lost_content: drop/);
      return true;
    },
  );
  const prepared = await prepareData({ ...config, lost_content: "drop" }, tokenizer);
  assert.ok(prepared.rejects.length >= 1);
  assert.ok(prepared.rejects.every((x) => x.kind === "lost-content"));
  const kept = prepared.tasks[0].samples.length;
  assert.equal(kept + prepared.rejects.length, 4);
  assert.deepEqual(dataSummary(prepared, "run/rejects.jsonl").slice(0, 1), [
    `0 truncated, ${prepared.rejects.length} rejected (${prepared.rejects.length} lost-content): see run/rejects.jsonl`,
  ]);
});
