/**
 * One record through the four ways a chat template is given — `sft data check
 * --chat-template FILE`, `sft train --chat-template FILE`, `sft generate --chat-template FILE`
 * and `llm: {kind: local, chat_template: FILE}` — gives the same ids: the training sample of
 * check and train is identical, and both generation prompts are that sample up to its first
 * trained token. The model is the real stories260K GGUF, which has no template of its own.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { resolveTokenizeOptions } from "../../src/cli/data-render.js";
import { modelSpecFromOptions } from "../../src/cli/model-options.js";
import { llmConfigSchema } from "../../src/config/build.js";
import { configFromFlags, resolveTrainConfig } from "../../src/config/train.js";
import { LocalLanguageModel, type LocalModelSpec } from "../../src/generate/index.js";
import { LocalBackend } from "../../src/llm/local.js";
import { openModel } from "../../src/model/open.js";
import type { SftRecord } from "../../src/record/record.js";
import { IGNORE_INDEX, tryTokenizeRecord } from "../../src/tokenize/mask.js";
import { prepareData } from "../../src/train/data.js";
import { storiesGguf } from "../tokenize/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "sft-open-"));
const templateFile = join(dir, "turns.jinja");
writeFileSync(
  templateFile,
  "{% for m in messages %}{{ m.role + ':' + ' ' + m.content + '\\n' }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}",
);
const record: SftRecord = {
  id: "r1",
  messages: [
    { role: "system", content: "You tell short stories." },
    { role: "user", content: "Tell me about a cat." },
    { role: "assistant", content: "Once upon a time, there was a cat named Tom." },
  ],
  meta: { source: "test" },
};
const data = join(dir, "data.jsonl");
writeFileSync(data, `${JSON.stringify(record)}\n`);

test("data check, train, generate and llm local render one record identically from --chat-template FILE", async () => {
  // sft data check --model GGUF --chat-template FILE
  const check = await resolveTokenizeOptions({ model: storiesGguf, chatTemplate: templateFile, in: data });
  const checked = tryTokenizeRecord(record, check.tokenizer, check.tokenizeOptions);
  assert.ok(checked.ok);
  const ids = checked.sample.inputIds;
  const labels = checked.sample.labels;
  assert.match(
    checked.sample.text,
    /^system: You tell short stories\.\nuser: Tell me about a cat\.\nassistant: Once/,
  );

  // sft train --model GGUF --data FILE --chat-template FILE: the samples the trainer batches
  const config = resolveTrainConfig(
    undefined,
    configFromFlags({ model: storiesGguf, data, out: join(dir, "run"), chatTemplate: templateFile }),
  );
  assert.equal(config.chat_template, templateFile);
  const opened = await openModel({ model: storiesGguf, chat_template: templateFile });
  const prepared = await prepareData(config, opened.tokenizer);
  const sample = prepared.tasks[0].samples[0];
  assert.deepEqual(sample.inputIds, ids);
  assert.deepEqual(sample.labels, labels);

  // the prompt a model is given is the sample up to its first trained token
  const firstTrained = labels.findIndex((l) => l !== IGNORE_INDEX);
  assert.ok(firstTrained > 0);
  const promptIds = ids.slice(0, firstTrained);

  // sft generate --model GGUF --chat-template FILE
  const lm = await LocalLanguageModel.load(
    modelSpecFromOptions(
      { model: storiesGguf, chatTemplate: templateFile },
      {
        omit: ["mask_policy", "max_seq_length"],
      },
    ) as LocalModelSpec,
  );
  assert.deepEqual(lm.promptIds({ messages: record.messages }), promptIds);

  // llm: {kind: local, model: GGUF, chat_template: FILE}
  const llm = new LocalBackend(
    llmConfigSchema.parse({ kind: "local", model: storiesGguf, chat_template: templateFile }),
  );
  const viaLlm = await llm.model();
  assert.deepEqual(viaLlm.promptIds({ messages: record.messages.slice(0, 2) }), promptIds);
});

test("base_dtype: bf16 needs LoRA, q8_0/q4_0 are not in this build, aliases conflict clearly", async () => {
  await assert.rejects(openModel({ model: storiesGguf, base_dtype: "bf16" }), /needs LoRA/);
  await assert.rejects(
    openModel({ model: storiesGguf, load_in_8bit: true }),
    /q8_0 is not available in this build/,
  );
  await assert.rejects(
    openModel({ model: storiesGguf, base_dtype: "q4_0" }),
    /q4_0 is not available in this build/,
  );
  assert.throws(
    () =>
      resolveTrainConfig(
        undefined,
        configFromFlags({ model: "m", data: "d", out: "o", baseDtype: "f32", bf16: true }),
      ),
    /conflicting base precisions: base_dtype \(f32\), bf16 \(bf16\)/,
  );
  const c = resolveTrainConfig(undefined, configFromFlags({ model: "m", data: "d", out: "o", bf16: true }));
  assert.equal(c.bf16, true);
});
