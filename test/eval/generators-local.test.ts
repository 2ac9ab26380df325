import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { test } from "node:test";
import { generationSettingsSchema } from "../../src/config/eval.js";
import "../../src/eval/generators-local.js";
import { createGenerator } from "../../src/eval/generators.js";
import { LocalLanguageModel } from "../../src/generate/index.js";

const repo = join(import.meta.dirname, "..", "..");
const stories = join(repo, "assets", "models", "stories260K");

test("the local generator decodes each sample number as one seeded batch, as the engine does directly", async () => {
  const generation = generationSettingsSchema.parse({
    max_tokens: 12,
    temperature: 0.9,
    top_p: 0.8,
    seed: 5,
  });
  // relative paths are read from the config's folder
  const ctx = { baseDir: join(repo, "assets"), generation, field: "sft" };
  const gen = await createGenerator(
    { kind: "local", model: relative(join(repo, "assets"), stories), template: "simple" },
    ctx,
  );
  assert.equal(gen.name, "models/stories260K");
  const requests = [
    { id: "a", prompt: "Tell me about a cat.", sample: 0 },
    { id: "b", prompt: "Tell me about a dog.", system: "You tell stories.", sample: 0 },
    { id: "a", prompt: "Tell me about a cat.", sample: 1 },
    { id: "b", prompt: "Tell me about a dog.", system: "You tell stories.", sample: 1 },
  ];
  const got = await gen.generate(requests);

  const lm = await LocalLanguageModel.load({ model: stories, template: "simple" });
  const opts = { maxNewTokens: 12, temperature: 0.9, topP: 0.8 };
  const [s0, s1] = [0, 1].map((sample) =>
    lm.generate(
      requests.filter((r) => r.sample === sample).map((r) => ({ prompt: r.prompt, system: r.system })),
      { ...opts, seed: 5 + sample },
    ),
  );
  const [a0, b0] = await s0;
  const [a1, b1] = await s1;
  assert.deepEqual(got, [a0.text, b0.text, a1.text, b1.text]);
  assert.notEqual(got[0], got[2], "sample 1 is seeded apart from sample 0");

  // raw: the prompt as plain text (BOS + text), no template
  const raw = await createGenerator({ kind: "local", model: stories, raw: true, name: "raw" }, ctx);
  const [direct] = await lm.generate([{ prompt: "Once upon a time" }], { ...opts, seed: 5, raw: true });
  assert.deepEqual(await raw.generate([{ id: "r", prompt: "Once upon a time" }]), [direct.text]);

  // generation.stop and max_tokens: greedy "Once upon a time" goes on ", there was a little girl named Lily."
  const stopAt = (stop?: string[]) =>
    createGenerator(
      { kind: "local", model: stories, raw: true },
      { ...ctx, generation: generationSettingsSchema.parse({ max_tokens: 30, stop }) },
    ).then((g) => g.generate([{ id: "r", prompt: "Once upon a time" }]));
  assert.deepEqual(await stopAt(["."]), [", there was a little girl named Lily"]);
  assert.ok((await stopAt())[0].startsWith(", there was a little girl named Lily."));
});

test("a local generator whose model is missing fails when it is created, naming the field", async () => {
  const generation = generationSettingsSchema.parse({});
  await assert.rejects(
    createGenerator({ kind: "local", model: "no/such/model" }, { baseDir: repo, generation, field: "base" }),
    (e: Error & { where?: { field?: string } }) =>
      /no model files at .*no\/such\/model/.test(e.message) && e.where?.field === "base.model",
  );
});
