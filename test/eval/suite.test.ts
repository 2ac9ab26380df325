import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { z } from "zod";
import { generationSettingsSchema } from "../../src/config/eval.js";
import { SftError } from "../../src/errors.js";
import {
  BackendGenerator,
  createGenerator,
  PrecomputedGenerator,
  registerGeneratorKind,
} from "../../src/eval/generators.js";
import { readSuite } from "../../src/eval/suite.js";
import { OpenAiBackend } from "../../src/llm/index.js";
import { countInFlight } from "../helpers/in-flight.js";
import { startOpenAiServer } from "../helpers/openai-server.js";

function suiteFile(rows: unknown[]): string {
  const dir = mkdtempSync(join(tmpdir(), "suite-"));
  const f = join(dir, "s.jsonl");
  writeFileSync(f, rows.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n"));
  return f;
}

async function rejectsAt(file: string, line: number, pattern: RegExp): Promise<void> {
  await assert.rejects(readSuite(file), (e: unknown) => {
    assert.ok(e instanceof SftError, String(e));
    assert.equal(e.where.line, line);
    assert.match(e.message, pattern);
    return true;
  });
}

describe("suites", () => {
  it("reads rows, merges checker options and appends the input", async () => {
    const f = suiteFile([
      { instruction: "Add", input: "2 and 3", expected: 5, task: "math", checker: "numeric", tolerance: 0.5 },
      {
        id: "k",
        instruction: "Code",
        task: "code",
        checker: { type: "code", tests: ["assert.ok(true)"], timeout_ms: 900 },
      },
    ]);
    const items = await readSuite(f);
    assert.equal(items[0].id, "s.jsonl:1");
    assert.equal(items[0].prompt, "Add\n\n2 and 3");
    assert.equal(items[0].options.tolerance, 0.5);
    assert.equal(items[1].id, "k");
    assert.deepEqual(items[1].options.tests, ["assert.ok(true)"]);
    assert.equal(items[1].options.timeout_ms, 900);
  });

  it("names file, line and field for bad rows", async () => {
    const ok = { instruction: "x", expected: "y", task: "t", checker: "exact" };
    await rejectsAt(suiteFile([ok, { ...ok, checker: "fuzzy" }]), 2, /not a suite row/);
    await rejectsAt(
      suiteFile([ok, ok, { instruction: "x", task: "t", checker: "regex" }]),
      3,
      /needs pattern/,
    );
    await rejectsAt(suiteFile([{ ...ok, checker: "regex", pattern: "(" }]), 1, /invalid regular expression/);
    await rejectsAt(
      suiteFile([{ ...ok, checker: "json_schema", schema: { type: "nonsense" } }]),
      1,
      /invalid JSON schema/,
    );
    await rejectsAt(
      suiteFile([{ ...ok, checker: "numeric", expected: "many" }]),
      1,
      /needs expected \(a number\)/,
    );
    await rejectsAt(suiteFile([ok, "{broken"]), 2, /not valid JSON/);
    await rejectsAt(
      suiteFile([
        { ...ok, id: 1 },
        { ...ok, id: 1 },
      ]),
      2,
      /duplicate sample id/,
    );
    await rejectsAt(
      suiteFile([{ ...ok, instruction_id_list: ["keywords:existence"], kwargs: [{}] }]),
      1,
      /kwargs of "keywords:existence" are invalid/,
    );
  });
});

describe("response generators", () => {
  it("precomputed responses match by id, then by prompt, and say what is missing", async () => {
    const f = suiteFile([
      { id: "a", response: "ra" },
      { prompt: "what?", response: "rb" },
    ]);
    const g = await PrecomputedGenerator.fromFile(f, "file-model");
    assert.deepEqual(
      await g.generate([
        { id: "a", prompt: "ignored" },
        { id: "b", prompt: "what?" },
      ]),
      ["ra", "rb"],
    );
    await assert.rejects(g.generate([{ id: "zz", prompt: "nope" }]), /no response for sample "zz"/);
  });

  it("a server-backed generator sends the system prompt and keeps the order", async () => {
    const server = await startOpenAiServer({
      answer: (b) => `${b.messages[0].role}|${b.messages.at(-1)?.content}|${b.max_tokens}`,
    });
    try {
      const settings = generationSettingsSchema.parse({ system: "be brief", max_tokens: 7, concurrency: 3 });
      const g = new BackendGenerator("m", new OpenAiBackend({ baseUrl: server.url, model: "m" }), settings);
      const prompts = Array.from({ length: 7 }, (_, i) => ({ id: String(i), prompt: `p${i}` }));
      assert.deepEqual(
        await g.generate(prompts),
        prompts.map((p) => `system|${p.prompt}|7`),
      );
    } finally {
      await server.close();
    }
  });

  it("generation settings reach the server: temperature, top_p, stop, seed + sample; concurrency caps prompts in flight", async () => {
    const server = await startOpenAiServer({ answer: (b) => `${b.messages.at(-1)?.content}`, delayMs: 20 });
    try {
      const inFlight = async (concurrency: number) => {
        const counted = countInFlight(new OpenAiBackend({ baseUrl: server.url, model: "m" }));
        const settings = generationSettingsSchema.parse({
          temperature: 0.7,
          top_p: 0.9,
          stop: ["##"],
          seed: 11,
          concurrency,
        });
        const g = new BackendGenerator("m", counted.backend, settings);
        const prompts = Array.from({ length: 6 }, (_, i) => ({
          id: String(i),
          prompt: `p${i}`,
          sample: i % 2,
        }));
        assert.deepEqual(
          await g.generate(prompts),
          prompts.map((p) => p.prompt),
        );
        return counted.most();
      };
      assert.equal(await inFlight(3), 3);
      assert.equal(await inFlight(1), 1);
      const bodies = server.log.map((e) => e.body!);
      for (const b of bodies) {
        assert.equal(b.temperature, 0.7);
        assert.equal(b.top_p, 0.9);
        assert.deepEqual(b.stop, ["##"]);
        assert.equal(b.seed, 11 + (Number(b.messages.at(-1)?.content.slice(1)) % 2));
      }
    } finally {
      await server.close();
    }
  });

  it("new generator kinds plug in and validate their options", async () => {
    registerGeneratorKind("reverse", {
      options: z.strictObject({ suffix: z.string() }),
      create: (o, _ctx, name) => ({
        name: name ?? "reverse",
        generate: async (reqs) => reqs.map((r) => [...r.prompt].reverse().join("") + o.suffix),
      }),
    });
    const ctx = { baseDir: ".", generation: generationSettingsSchema.parse({}), field: "sft" };
    const g = await createGenerator({ kind: "reverse", suffix: "!" }, ctx);
    assert.deepEqual(await g.generate([{ id: "1", prompt: "abc" }]), ["cba!"]);
    await assert.rejects(createGenerator({ kind: "reverse" }, ctx), /sft \(reverse\): suffix/);
    await assert.rejects(createGenerator({ kind: "nope" }, ctx), /unknown generator kind "nope"/);
  });
});
