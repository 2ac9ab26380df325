import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { llmConfigSchema } from "../../src/config/build.js";
import { evalConfigSchema } from "../../src/config/eval.js";
import { SftError } from "../../src/errors.js";
import { judgePairs } from "../../src/eval/judge.js";
import { LocalLanguageModel } from "../../src/generate/index.js";
import { CachedBackend } from "../../src/llm/cached.js";
import { createLlmBackend, LlmStore, UsageMeter } from "../../src/llm/index.js";
import { LocalBackend } from "../../src/llm/local.js";

const repo = join(import.meta.dirname, "..", "..");
// A real pretrained TinyStories Llama (260K parameters) with its SentencePiece tokenizer.
const stories = join(repo, "assets", "models", "stories260K");

test("complete() feeds BOS + raw text and greedy decoding continues the known story", async () => {
  const backend = new LocalBackend({ model: stories });
  const res = await backend.complete("Once upon a time", { temperature: 0, max_tokens: 30 });
  assert.equal(res.choices.length, 1);
  assert.equal(
    res.choices[0].text,
    ", there was a little girl named Lily. She loved to play outside in the park. One day,",
  );
  assert.equal(res.choices[0].finish_reason, "length");
  const lm = await backend.model();
  // Usage comes from the real tokenizer: BOS + the prompt's pieces, and every new token.
  assert.equal(res.usage.prompt_tokens, 1 + lm.tokenizer.encode("Once upon a time").length);
  assert.equal(res.usage.prompt_tokens, 5);
  assert.equal(res.usage.completion_tokens, 30);

  const stopped = await backend.complete("Once upon a time", { temperature: 0, stop: ["."] });
  assert.equal(stopped.choices[0].text, ", there was a little girl named Lily");
  assert.equal(stopped.choices[0].finish_reason, "stop");
  assert.ok(stopped.usage.completion_tokens < 15);
});

test("chat() renders the messages with the template's generation prompt", async () => {
  const messages = [
    { role: "system" as const, content: "You tell stories." },
    { role: "user" as const, content: "Tell me about a cat." },
  ];
  const backend = new LocalBackend({ model: stories, template: "simple" });
  const res = await backend.chat(messages, { temperature: 0, max_tokens: 24 });

  const lm = await LocalLanguageModel.load({ model: stories, template: "simple" });
  const [direct] = await lm.generate([{ messages }], { maxNewTokens: 24 });
  assert.equal(res.choices[0].text, direct.text);
  assert.equal(res.usage.prompt_tokens, lm.promptIds({ messages }).length);
  assert.equal(res.usage.completion_tokens, direct.completionTokens);
  assert.ok(res.choices[0].text.length > 0);

  // A Jinja chat template given as text renders differently, and the backend id says so.
  const chatml =
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}";
  const jinja = new LocalBackend({ model: stories, chat_template: chatml });
  const viaJinja = await jinja.chat(messages, { temperature: 0, max_tokens: 24 });
  const jinjaLm = await LocalLanguageModel.load({ model: stories, chat_template: chatml });
  assert.equal(viaJinja.usage.prompt_tokens, jinjaLm.promptIds({ messages }).length);
  assert.notEqual(viaJinja.usage.prompt_tokens, res.usage.prompt_tokens);
  assert.notEqual(jinja.id, backend.id);
});

test("n > 1 draws distinct samples, reproducible with the same seed", async () => {
  const backend = new LocalBackend({ model: stories });
  const messages = [{ role: "user" as const, content: "Tell me a story." }];
  const opts = { n: 3, temperature: 0.9, top_p: 0.95, max_tokens: 20, seed: 7 };
  const a = await backend.chat(messages, opts);
  assert.equal(a.choices.length, 3);
  assert.equal(new Set(a.choices.map((c) => c.text)).size, 3, JSON.stringify(a.choices));
  const again = await backend.chat(messages, opts);
  assert.deepEqual(again.choices, a.choices);
  const other = await backend.chat(messages, { ...opts, seed: 8 });
  assert.notDeepEqual(other.choices, a.choices);
  // The prompt is counted once; completions add up over the samples.
  const one = await backend.chat(messages, { ...opts, n: 1 });
  assert.equal(a.usage.prompt_tokens, one.usage.prompt_tokens);
  assert.ok(a.usage.completion_tokens > one.usage.completion_tokens);
  assert.equal(backend.generationRuns, 4);
});

test("json mode is rejected unless best effort is allowed", async () => {
  const strict = new LocalBackend({ model: stories });
  await assert.rejects(
    strict.chat([{ role: "user", content: "Give JSON." }], { json: true, max_tokens: 4 }),
    (e: unknown) =>
      e instanceof SftError && /no JSON mode/.test(e.message) && /best_effort/.test(e.hint ?? ""),
  );
  assert.equal(strict.generationRuns, 0);
  const lenient = new LocalBackend({ model: stories, json: "best_effort" });
  const res = await lenient.chat([{ role: "user", content: "Give JSON." }], { json: true, max_tokens: 4 });
  assert.equal(res.choices.length, 1);
  assert.throws(() => new LocalBackend({ model: join(repo, "no-such-model") }), SftError);
});

test("the SQLite response cache answers a repeated request without running the model", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-local-llm-"));
  const statePath = join(dir, "state.sqlite");
  const request = { temperature: 0.8, max_tokens: 16, seed: 3, n: 2 };
  const prompt = "Once upon a time";

  let store = new LlmStore(statePath);
  const meter = new UsageMeter();
  const local = new LocalBackend({ model: stories, meter });
  const cached = new CachedBackend(local, store, meter);
  const first = await cached.complete(prompt, request);
  assert.equal(local.generationRuns, 1);
  assert.ok(!first.cached);
  const second = await cached.complete(prompt, request);
  assert.equal(local.generationRuns, 1, "the repeated request must not reach the model");
  assert.equal(second.cached, true);
  assert.deepEqual(second.choices, first.choices);
  // Other parameters are a different request.
  await cached.complete(prompt, { ...request, seed: 4 });
  assert.equal(local.generationRuns, 2);
  const usage = meter.summary();
  assert.equal(usage.requests, 2);
  assert.equal(usage.cached_requests, 1);
  assert.equal(usage.cost, 0);
  assert.equal(usage.prompt_tokens, 2 * first.usage.prompt_tokens);
  store.close();

  // A new process (fresh backend, reopened store) is answered from disk: the model is never loaded.
  store = new LlmStore(statePath);
  const fresh = new LocalBackend({ model: stories });
  const third = await new CachedBackend(fresh, store).complete(prompt, request);
  assert.equal(third.cached, true);
  assert.deepEqual(third.choices, first.choices);
  assert.equal(fresh.modelLoaded, false);
  assert.equal(fresh.generationRuns, 0);

  // createLlmBackend builds the same composition from a config.
  const fromConfig = createLlmBackend(llmConfigSchema.parse({ kind: "local", model: stories }), { store });
  assert.equal(fromConfig.id, fresh.id);
  assert.equal((await fromConfig.complete(prompt, request)).cached, true);
  store.close();
});

test("llm config: kind local, and OpenAI configs unchanged", () => {
  const local = llmConfigSchema.parse({ kind: "local", model: "m", adapter: "a", template: "alpaca" });
  assert.equal(local.kind, "local");
  const openai = llmConfigSchema.parse({ base_url: "http://127.0.0.1:8000/v1", model: "gpt" });
  assert.equal(openai.kind, undefined);
  assert.equal(openai.concurrency, 4);
  const explicit = llmConfigSchema.safeParse({ kind: "openai", base_url: "http://h/v1", model: "x" });
  assert.ok(explicit.success);
  const noUrl = llmConfigSchema.safeParse({ model: "gpt" });
  assert.ok(!noUrl.success && noUrl.error.issues[0].path[0] === "base_url");
  const urlOnLocal = llmConfigSchema.safeParse({ kind: "local", model: "m", base_url: "http://h/v1" });
  assert.ok(!urlOnLocal.success && urlOnLocal.error.issues[0].path[0] === "base_url");
  const adapterOnOpenai = llmConfigSchema.safeParse({ base_url: "http://h/v1", model: "m", adapter: "a" });
  assert.ok(!adapterOnOpenai.success && adapterOnOpenai.error.issues[0].path[0] === "adapter");
});

test("an eval judge can be a local model", async () => {
  const judgeConfig = evalConfigSchema.shape.judge.parse({
    llm: { kind: "local", model: stories, template: "simple" },
    max_samples: 1,
  });
  assert.ok(judgeConfig);
  const judge = createLlmBackend(judgeConfig.llm);
  assert.ok(judge.id.startsWith("local:"));
  // The story model is no judge: it answers, but with no verdict, so judging fails (never a
  // made-up win rate) and the error quotes what the local model replied.
  await assert.rejects(
    judgePairs(
      judge,
      [{ id: "p1", prompt: "Tell me about a dog.", base: "A dog barks.", sft: "The dog ran to the park." }],
      { max_tokens: 8, concurrency: 1 },
    ),
    (e: unknown) =>
      e instanceof SftError &&
      e.message.includes(judge.id) &&
      /gave no verdict in 2 of 2 replies/.test(e.message) &&
      /prompt p1: "/.test(e.message),
  );
});

test("sft data build runs end to end on the local model", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-local-build-"));
  const config = join(dir, "build.yaml");
  // Topics mode only rejects empty instructions or responses (no length or quality filters),
  // so the tiny story model's text passes: this checks the pipeline, not the quality.
  writeFileSync(
    config,
    [
      "out: out/built.jsonl",
      "seed: 5",
      "llm:",
      "  kind: local",
      `  model: ${JSON.stringify(stories)}`,
      "  template: simple",
      "generation:",
      "  temperature: 0.8",
      "  max_tokens: 24",
      "  instruction_max_tokens: 16",
      "topics: [animals, the sea]",
      "prompt_types: [qa, creative]",
      "per_topic: 2",
      "",
    ].join("\n"),
  );
  const run = spawnSync(process.execPath, [join(repo, "bin", "sft.js"), "data", "build", config, "--quiet"], {
    cwd: dir,
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}");
  assert.equal(result.written + result.rejected, 8);
  assert.ok(result.written > 0, run.stdout);
  assert.equal(result.usage.cost, 0);
  assert.ok(result.usage.prompt_tokens > 0 && result.usage.completion_tokens > 0);
  const out = join(dir, "out", "built.jsonl");
  const rows = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(rows.length, result.written);
  for (const row of rows) {
    assert.deepEqual(
      row.messages.map((m: { role: string }) => m.role),
      ["user", "assistant"],
    );
    assert.ok(row.messages[0].content.length > 0 && row.messages[1].content.length > 0);
    assert.equal(row.meta.model, stories);
  }
  assert.ok(existsSync(join(dir, "out", "built.state.sqlite")));
});
