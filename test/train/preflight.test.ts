/**
 * The pre-flight checks of `sft data check` run before the first training step: a template
 * that breaks a check stops the run with the record ids and tokens at fault, and
 * `preflight: false` lets it train anyway.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SftError } from "../../src/errors.js";
import { train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

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
