/**
 * The whole data flow — build → quality → dedup → balance → augment — against a real
 * OpenAI-compatible HTTP server on 127.0.0.1 that injects faults (429 with Retry-After,
 * 500, a hung request, malformed JSON, a cut connection). Faults must cost time, never rows.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadBuildConfig } from "../../../src/cli/data-build.js";
import { augmentConfigSchema } from "../../../src/config/augment.js";
import { qualityConfigSchema } from "../../../src/config/build.js";
import { augmentRecords } from "../../../src/data/augment/index.js";
import { balanceRecords } from "../../../src/data/balance.js";
import { buildInstructionData } from "../../../src/data/build/index.js";
import { dedupRecords } from "../../../src/data/dedup/index.js";
import { checkRecords, QualityChecker } from "../../../src/data/quality/index.js";
import { createLlmBackend, LlmStore, UsageMeter } from "../../../src/llm/index.js";
import type { SftRecord } from "../../../src/record/record.js";
import { type Fault, type RunningServer, startOpenAiServer } from "../../helpers/openai-server.js";
import { spawnSft } from "../../helpers/spawn-sft.js";

const readJsonl = <T = SftRecord>(f: string): T[] =>
  readFileSync(f, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);

function faultPlan(k: number): Fault | undefined {
  if (k === 3) return { kind: "429", retryAfterS: 1 };
  if (k === 6 || k === 20) return { kind: "500" };
  if (k === 9) return { kind: "hang" };
  if (k === 12) return { kind: "malformed" };
  if (k === 15) return { kind: "cut" };
  return undefined;
}

function buildYaml(dir: string, url: string, name: string, extra = ""): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `out: ${name}.jsonl
seed: 7
llm:
  base_url: ${url}
  model: scripted
  timeout_s: 1
  max_retries: 5
  retry_base_ms: 20
  concurrency: 3
  price: { prompt_per_million: 1, completion_per_million: 2 }
topics: [astronomy, cooking, personal finance]
per_topic: 2
${extra}`,
  );
  return file;
}

async function build(file: string): Promise<{ rows: SftRecord[]; rejects: unknown[]; usage: unknown }> {
  const config = loadBuildConfig(file);
  const store = new LlmStore(
    join(config.out, "..", "state.sqlite").replace("state.sqlite", `${config.out}.state.sqlite`),
  );
  const meter = new UsageMeter(config.llm.price);
  try {
    const backend = createLlmBackend(config.llm, { store, meter });
    const r = await buildInstructionData(config, { backend, store, meter });
    return { rows: readJsonl(r.out), rejects: readJsonl(r.rejects), usage: r.usage };
  } finally {
    store.close();
  }
}

test("build → quality → dedup → balance → augment over HTTP with injected faults loses no row", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-flow-"));
  let faulty: RunningServer | undefined;
  let clean: RunningServer | undefined;
  try {
    faulty = await startOpenAiServer({ fault: faultPlan });
    clean = await startOpenAiServer();
    const a = await build(buildYaml(dir, faulty.url, "faulty"));
    const b = await build(buildYaml(dir, clean.url, "clean"));

    // every injected fault happened, and was retried
    const kinds = new Set(faulty.log.map((e) => e.fault).filter(Boolean));
    assert.deepEqual([...kinds].sort(), ["429", "500", "cut", "hang", "malformed"]);
    const after429 = faulty.log.find((e) => e.fault === "429")!;
    assert.ok(faulty.log.every((e) => e.k <= after429.k || e.body !== after429.body));

    // 3 topics × 4 prompt types × 2 = 24 slots: each is a row or a reject, exactly once
    const ids = [...a.rows.map((r) => r.id), ...a.rejects.map((r) => (r as { id: string }).id)];
    assert.equal(ids.length, 24);
    assert.equal(new Set(ids).size, 24);
    // faults change nothing: same rows, same order as against a server without faults
    assert.deepEqual(
      a.rows.map((r) => ({ ...r, id: r.id.replace(/^b\w+-/, "") })),
      b.rows.map((r) => ({ ...r, id: r.id.replace(/^b\w+-/, "") })),
    );
    assert.ok(a.rows.length >= 20);
    const first = a.rows[0];
    assert.equal(first.messages[0].role, "user");
    assert.equal(first.messages[1].role, "assistant");
    assert.equal(first.meta.source, "build");
    assert.ok(["qa", "task", "reasoning", "creative"].includes(first.meta.type!));
    assert.match(first.meta.task!, /^\w+\/\w+$/);
    const usage = a.usage as { requests: number; retries: number; cost: number };
    assert.ok(usage.retries >= 6, `retries: ${usage.retries}`);
    assert.ok(usage.cost > 0);

    // quality: the scripted server answers some requests with a refusal or a truncation
    const checker = new QualityChecker(qualityConfigSchema.parse({ length: { min_words: 5 } }));
    const passed: SftRecord[] = [];
    const rejected: Array<{ id: string; reasons: string[] }> = [];
    for await (const d of checkRecords(a.rows, checker)) {
      if (d.report.passed) passed.push(d.record);
      else rejected.push({ id: d.record.id, reasons: d.report.reasons });
    }
    assert.equal(passed.length + rejected.length, a.rows.length);
    assert.ok(rejected.every((r) => r.reasons.length > 0));
    for (const r of rejected) {
      const row = a.rows.find((x) => x.id === r.id)!;
      const text = row.messages[1].content;
      if (/^I'm sorry/.test(text)) assert.ok(r.reasons.includes("refusal"), r.reasons.join());
      if (row.meta.finish_reason === "length") assert.ok(r.reasons.some((x) => /max_tokens/.test(x)));
    }
    assert.ok(passed.every((r) => typeof r.meta.quality === "number" && r.meta.quality > 0.5));

    // dedup: add an exact copy (other case/spacing) and a near copy; both must go
    const copy: SftRecord = {
      ...passed[0],
      id: "copy",
      messages: [
        { ...passed[0].messages[0], content: `  ${passed[0].messages[0].content.toUpperCase()} ` },
        passed[0].messages[1],
      ],
    };
    const near: SftRecord = {
      ...passed[1],
      id: "near",
      messages: [
        { ...passed[1].messages[0], content: `${passed[1].messages[0].content} Thanks!` },
        passed[1].messages[1],
      ],
    };
    const kept: SftRecord[] = [];
    const dropped: Record<string, string> = {};
    for await (const d of dedupRecords([...passed, copy, near], {
      exact: true,
      near: true,
      near_threshold: 0.8,
      num_perm: 128,
      shingle: 3,
      rouge: true,
      rouge_threshold: 0.7,
      field: "instruction",
      seed: 1,
    })) {
      if (d.kept) kept.push(d.record);
      else dropped[d.record.id] = d.reason!.stage;
    }
    assert.equal(dropped.copy, "exact");
    assert.ok(["near", "rouge"].includes(dropped.near));
    assert.equal(kept.length + Object.keys(dropped).length, passed.length + 2);

    // balance: at most 1 per type × topic, best quality first, short groups reported
    const { records: balanced, report } = await balanceRecords(kept, {
      group_by: ["type", "topic"],
      per_group: 2,
      targets: { "qa|astronomy": 5 },
    });
    assert.ok(balanced.length <= report.groups.reduce((s, g) => s + g.target, 0));
    assert.ok(report.short_groups.some((g) => g.group === "qa|astronomy" && g.missing >= 3));

    // augment ×2 over HTTP with faults again
    const augServer = await startOpenAiServer({
      fault: (k) => (k % 9 === 4 ? { kind: "500" } : k === 7 ? { kind: "cut" } : undefined),
    });
    const store = new LlmStore(join(dir, "aug.sqlite"));
    try {
      const config = augmentConfigSchema.parse({
        in: "unused",
        out: join(dir, "aug.jsonl"),
        llm: { base_url: augServer.url, model: "scripted", retry_base_ms: 10, timeout_s: 2 },
        multiplier: 2,
        seed: 3,
      });
      const backend = createLlmBackend(config.llm!, { store });
      const res = await augmentRecords(config, balanced, { backend, store });
      const out = readJsonl(res.out);
      assert.equal(res.target, balanced.length);
      assert.equal(out.length, balanced.length * 2);
      assert.equal(new Set(out.map((r) => r.id)).size, out.length);
      const augmented = out.slice(balanced.length);
      const parentIds = new Set(balanced.map((r) => r.id));
      for (const r of augmented) {
        assert.ok(parentIds.has(r.meta.parent!), "every new row names its parent");
        assert.match(
          r.meta.augmentation!,
          /^(paraphrase|difficulty:(harder|simpler)|format:(qa|dialogue|structured)|context:\w+)$/,
        );
        assert.equal(r.meta.source, "augment");
      }
      const methods = new Set(augmented.map((r) => r.meta.augmentation!.split(":")[0]));
      assert.ok(methods.size >= 3, `methods used: ${[...methods]}`);
      const para = augmented.find((r) => r.meta.augmentation === "paraphrase");
      if (para) {
        const parent = balanced.find((r) => r.id === para.meta.parent)!;
        assert.notEqual(para.messages[0].content, parent.messages[0].content);
        assert.equal(para.messages[1].content, parent.messages[1].content, "a paraphrase keeps the answer");
      }
    } finally {
      store.close();
      await augServer.close();
    }
  } finally {
    await faulty?.close();
    await clean?.close();
  }
});

test("the CLI runs the same flow end to end (build, quality, dedup, balance, diversity, augment)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cli-"));
  const server = await startOpenAiServer({ fault: (k) => (k === 2 ? { kind: "500" } : undefined) });
  try {
    const cfg = buildYaml(dir, server.url, "built", "prompt_types: [qa, task]\n");
    const run = async (...args: string[]): Promise<string> => {
      const { code, out, err } = await spawnSft(["data", ...args], dir).done;
      assert.equal(code, 0, `sft data ${args.join(" ")} failed: ${err}`);
      return out;
    };
    await run("build", cfg, "--quiet");
    const built = join(dir, "built.jsonl");
    const q = JSON.parse(await run("quality", built, "--out", join(dir, "q.jsonl"), "--min-words", "5"));
    await run("dedup", join(dir, "q.jsonl"), "--out", join(dir, "d.jsonl"));
    await run(
      "balance",
      join(dir, "d.jsonl"),
      "--out",
      join(dir, "b.jsonl"),
      "--per-group",
      "1",
      "--report",
      join(dir, "b.json"),
    );
    const div = JSON.parse(await run("diversity", join(dir, "b.jsonl"), "--json"));
    writeFileSync(
      join(dir, "aug.yaml"),
      `in: b.jsonl\nout: aug.jsonl\nmultiplier: 1.5\nmethods: { paraphrase: 0, difficulty: 0, context: 0, format: 1 }\n`,
    );
    await run("augment", join(dir, "aug.yaml"), "--quiet");
    const builtRows = readJsonl(built).length;
    assert.equal(q.rows, builtRows);
    assert.equal(q.passed + q.rejected, builtRows);
    assert.equal(readJsonl(join(dir, "q.jsonl")).length, q.passed);
    const qRejects = readJsonl<{ reasons: string[] }>(join(dir, "q.rejects.jsonl"));
    assert.equal(qRejects.length, q.rejected);
    assert.ok(qRejects.every((r) => r.reasons.length > 0));
    const balance = JSON.parse(readFileSync(join(dir, "b.json"), "utf8"));
    assert.equal(readJsonl(join(dir, "b.jsonl")).length, balance.output_rows);
    assert.equal(div.rows, balance.output_rows);
    assert.equal(div.dimensions.type.covered, 2);
    const aug = readJsonl(join(dir, "aug.jsonl"));
    assert.equal(aug.length, Math.round(balance.output_rows * 1.5));
    assert.ok(aug.slice(balance.output_rows).every((r) => r.meta.augmentation?.startsWith("format:")));
  } finally {
    await server.close();
  }
});

test("a build config with an unknown key fails with file:line and a did-you-mean", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-cfg-"));
  const file = join(dir, "c.yaml");
  writeFileSync(
    file,
    "out: x.jsonl\nllm:\n  base_url: http://127.0.0.1:1/v1\n  model: m\n  concurency: 2\ntopics: [a]\n",
  );
  assert.throws(
    () => loadBuildConfig(file),
    (e: Error & { format?: () => string }) => {
      const text = e.format!();
      assert.match(text, /c\.yaml:5: llm\.concurency: unknown key "concurency"/);
      assert.match(text, /did you mean "concurrency"\?/);
      return true;
    },
  );
  writeFileSync(
    file,
    "out: x.jsonl\nllm:\n  base_url: http://127.0.0.1:1/v1\n  model: m\nper_topic: -1\ntopics: [a]\n",
  );
  assert.throws(
    () => loadBuildConfig(file),
    (e: Error & { format?: () => string }) => /c\.yaml:5: per_topic/.test(e.format!()),
  );
});
