import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { augmentConfigSchema } from "../../../src/config/augment.js";
import {
  augmentRecords,
  cleanRewrite,
  formatVariant,
  paraphraseProblem,
} from "../../../src/data/augment/index.js";
import { createLlmBackend, LlmStore } from "../../../src/llm/index.js";
import type { SftRecord } from "../../../src/record/record.js";
import { startOpenAiServer } from "../../helpers/openai-server.js";

const opts = { min_change: 0.15, min_meaning: 0.6 };

test("paraphrase validity: must change the text and keep the meaning", () => {
  const o = "Explain how vaccines train the immune system to fight viruses.";
  assert.equal(
    paraphraseProblem(
      o,
      "Could you describe how vaccines teach the immune system to fight off viruses?",
      opts,
    ),
    undefined,
  );
  assert.equal(
    paraphraseProblem(o, "explain how VACCINES train the immune system to fight viruses", opts),
    "text not changed",
  );
  assert.match(
    paraphraseProblem(o, "Explain how vaccines train the immune system to fight viruses today.", opts)!,
    /too close/,
  );
  assert.match(
    paraphraseProblem(o, "Write a poem about autumn leaves falling in the park.", opts)!,
    /meaning not kept/,
  );
  assert.equal(
    paraphraseProblem(
      "请解释疫苗如何训练免疫系统对抗病毒。",
      "疫苗是怎样让免疫系统学会抵抗病毒的？请说明。",
      opts,
    ),
    undefined,
  );
  assert.match(
    paraphraseProblem("请解释疫苗如何训练免疫系统对抗病毒。", "请写一首关于秋天的诗。", opts)!,
    /meaning not kept/,
  );
  assert.equal(cleanRewrite('Rewritten instruction: "Tell me about X."'), "Tell me about X.");
});

test("format variants need no LLM: Q/A, dialogue (greeting not trained), structured JSON", () => {
  const qa = formatVariant("What is 2+2?", "4", "qa", "en");
  assert.deepEqual(
    qa.map((m) => m.content),
    ["Question: What is 2+2?", "Answer: 4"],
  );
  const dlg = formatVariant("二加二等于几？", "四", "dialogue", "zh");
  assert.equal(dlg.length, 4);
  assert.equal(dlg[1].train, false);
  assert.equal(dlg[2].content, "二加二等于几？");
  const st = formatVariant("What is 2+2?", "4", "structured", "en");
  assert.deepEqual(JSON.parse(st[1].content), { answer: "4" });
  assert.match(st[0].content, /JSON/);
});

test("augment reaches the multiplier, records parent and type, and is resumable without new requests", async () => {
  const server = await startOpenAiServer();
  const dir = mkdtempSync(join(tmpdir(), "sft-aug-"));
  try {
    const parents: SftRecord[] = [
      [
        "Explain how photosynthesis works in plants.",
        "Photosynthesis turns light, water and CO2 into sugar.",
      ],
      [
        "Describe three uses of binary search in software.",
        "1. Lookup in sorted arrays.\n2. Finding bounds.\n3. Bisecting bugs.",
      ],
      ["请解释复利是如何运作的。", "复利是指利息再产生利息，随着时间推移，本金增长越来越快。"],
      ["Summarise the causes of the French Revolution.", "Debt, inequality and Enlightenment ideas."],
    ].map(([u, a], i) => ({
      id: `p${i}`,
      messages: [
        { role: "user", content: u },
        { role: "assistant", content: a },
      ],
      meta: { source: "t", type: "qa", topic: "x" },
    }));
    const config = augmentConfigSchema.parse({
      in: "unused",
      out: join(dir, "aug.jsonl"),
      llm: { base_url: server.url, model: "scripted", retry_base_ms: 10 },
      multiplier: 3,
      seed: 5,
    });
    const run = async () => {
      const store = new LlmStore(join(dir, "aug.sqlite"));
      try {
        return await augmentRecords(config, parents, {
          backend: createLlmBackend(config.llm!, { store }),
          store,
        });
      } finally {
        store.close();
      }
    };
    const r = await run();
    assert.equal(r.target, 8);
    assert.equal(r.augmented, 8);
    const rows = readFileSync(r.out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as SftRecord);
    assert.equal(rows.length, 12);
    for (const row of rows.slice(4)) {
      assert.ok(parents.some((p) => p.id === row.meta.parent));
      assert.ok(row.meta.augmentation);
      assert.ok(row.messages.at(-1)!.content.length > 0);
    }
    const harder = rows.find((x) => x.meta.augmentation === "difficulty:harder");
    if (harder) assert.equal(harder.meta.difficulty, "hard");
    const zhRow = rows.slice(4).find((x) => x.meta.parent === "p2" && x.meta.augmentation !== "format:qa");
    if (zhRow && /context|paraphrase|difficulty/.test(zhRow.meta.augmentation!))
      assert.match(zhRow.messages[0].content, /[\u4e00-\u9fff]/);
    const requests = server.log.length;
    const first = readFileSync(r.out, "utf8");
    const again = await run();
    assert.equal(server.log.length, requests, "a rerun is answered from the job store and cache");
    assert.equal(readFileSync(again.out, "utf8"), first);
  } finally {
    await server.close();
  }
});

test("augment config: LLM methods need an llm section; weights zero are fine without one", () => {
  assert.throws(() => augmentConfigSchema.parse({ in: "a", out: "b" }), /need an llm section/);
  const c = augmentConfigSchema.parse({
    in: "a",
    out: "b",
    methods: { paraphrase: 0, difficulty: 0, context: 0 },
  });
  assert.equal(c.methods.format, 1);
});

test("augment options without an LLM: keep_originals, multiplier, format.variants, seed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-aug-opts-"));
  const parents: SftRecord[] = ["What is 2+2?", "Name a prime number.", "What colour is the sky?"].map(
    (u, i) => ({
      id: `p${i}`,
      messages: [
        { role: "user", content: u },
        { role: "assistant", content: `answer ${i}` },
      ],
      meta: { source: "t" },
    }),
  );
  let runs = 0;
  const run = async (over: Record<string, unknown>) => {
    const config = augmentConfigSchema.parse({
      in: "unused",
      out: join(dir, `aug-${++runs}.jsonl`),
      methods: { paraphrase: 0, difficulty: 0, format: 1, context: 0 },
      ...over,
    });
    const store = new LlmStore(join(dir, `aug-${runs}.sqlite`));
    try {
      const r = await augmentRecords(config, parents, { store });
      const rows = readFileSync(r.out, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as SftRecord);
      return { r, rows };
    } finally {
      store.close();
    }
  };
  const kept = await run({ multiplier: 2 });
  assert.equal(kept.rows.length, 6, "3 originals + 3 variants");
  assert.equal(kept.rows.filter((x) => !x.meta.augmentation).length, 3);
  const dropped = await run({ multiplier: 2, keep_originals: false });
  assert.equal(dropped.rows.length, 6, "6 variants, no originals");
  assert.ok(dropped.rows.every((x) => x.meta.augmentation));
  const three = await run({ multiplier: 3 });
  assert.equal(three.rows.length, 9);
  const qaOnly = await run({ multiplier: 3, format: { variants: ["qa"] } });
  const tags = new Set(qaOnly.rows.filter((x) => x.meta.augmentation).map((x) => x.meta.augmentation));
  assert.deepEqual([...tags], ["format:qa"]);
  const other = await run({ multiplier: 3, seed: 7 });
  const order = (rows: SftRecord[]) => rows.map((x) => `${x.meta.parent}:${x.meta.augmentation}`).join(",");
  assert.notEqual(order(other.rows), order(three.rows), "another seed, another plan");
});
