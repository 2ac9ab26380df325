import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { loadAugmentConfig } from "../../src/config/augment.js";
import { loadBuildConfig } from "../../src/config/build.js";
import { readEvalConfig } from "../../src/config/eval.js";
import {
  ConfigError,
  loadConfig,
  MAX_ALIAS_COUNT,
  readConfigFile,
  resolveConfigPaths,
} from "../../src/config/load.js";
import { configFromFlags, resolveTrainConfig, trainConfigSchema } from "../../src/config/train.js";
import { SftError } from "../../src/errors.js";
import { resumeTraining } from "../../src/train/index.js";
import { didYouMean, editDistance } from "../../src/util/did-you-mean.js";

const root = mkdtempSync(join(tmpdir(), "sft-load-"));
let n = 0;
function file(name: string, lines: string[]): string {
  const dir = join(root, `case-${n++}`);
  mkdirSync(dir, { recursive: true });
  const f = join(dir, name);
  writeFileSync(f, `${lines.join("\n")}\n`);
  return f;
}

/** The classic "billion laughs": nine levels, each alias used nine times. */
function aliasBomb(): string[] {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = "abcdefghi";
  for (let i = 1; i < names.length; i++) {
    const prev = `*${names[i - 1]}`;
    lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(prev).join(",")}]`);
  }
  return lines;
}

test("edit distance and did-you-mean", () => {
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(didYouMean("learning_rat", ["seed", "learning_rate"]), "learning_rate");
  assert.equal(
    didYouMean("batch_size", ["per_device_train_batch_size", "seed"]),
    "per_device_train_batch_size",
  );
  assert.equal(didYouMean("zzzzzz", ["seed", "model"]), undefined);
});

test("an alias bomb is refused with the file and the cap, not a ReferenceError", () => {
  const f = file("bomb.yaml", aliasBomb());
  for (const load of [
    () => readConfigFile(f),
    () => resolveTrainConfig(f, {}),
    () => loadBuildConfig(f),
    () => readEvalConfig(f),
  ]) {
    assert.throws(load, (e: unknown) => {
      assert.ok(e instanceof SftError, `an SftError, got ${String(e)}`);
      assert.equal(e.where.file, f);
      assert.match(e.message, new RegExp(`limit of ${MAX_ALIAS_COUNT} \\(maxAliasCount\\)`));
      assert.equal(e.code, "E_CONFIG");
      return true;
    });
  }
  // a few ordinary anchors stay fine
  const ok = file("anchors.yaml", ["x: &x {r: 4}", "y: *x", "z: *x"]);
  assert.deepEqual(readConfigFile(ok).raw, { x: { r: 4 }, y: { r: 4 }, z: { r: 4 } });
  // the cap is a setting
  assert.throws(() => readConfigFile(ok, { maxAliasCount: 1 }), /limit of 1 /);
});

test("an over-large config file is refused before it is parsed", () => {
  const f = file("big.yaml", [`model: "${"x".repeat(2048)}"`]);
  assert.throws(
    () => readConfigFile(f, { maxBytes: 1024 }),
    (e: unknown) => e instanceof SftError && e.where.file === f && /1024-byte limit/.test(e.message),
  );
});

test("every problem is reported, in file order, with line, column, field and did-you-mean", () => {
  const f = file("train.yaml", [
    "model: m",
    "output_dir: o",
    "data: d.jsonl",
    "lr_scheduler_type: cosin",
    "lora:",
    "  rank: 4",
    "  alpha: -1",
    "learning_rat: 0.1",
  ]);
  assert.throws(
    () => resolveTrainConfig(f, {}),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const byField = Object.fromEntries(e.problems.map((p) => [p.field, p]));
      assert.deepEqual(
        e.problems.map((p) => p.field),
        ["lr_scheduler_type", "lora.rank", "lora.alpha", "learning_rat"],
      );
      assert.deepEqual([byField["lora.rank"].line, byField["lora.rank"].column], [6, 3]);
      assert.deepEqual([byField.learning_rat.line, byField.learning_rat.column], [8, 1]);
      assert.match(e.message, /4 problems/);
      assert.match(e.message, /train\.yaml:6: lora\.rank: unknown option "rank" \(did you mean "r"\?\)/);
      assert.match(
        e.message,
        /train\.yaml:8: learning_rat: unknown option "learning_rat" \(did you mean "learning_rate"\?\)/,
      );
      assert.match(e.message, /train\.yaml:7: lora\.alpha: /);
      assert.equal(e.where.line, 4, "where points at the first problem");
      return true;
    },
  );
  // the data-side configs say "key" and report all problems too
  const b = file("build.yaml", [
    "out: x.jsonl",
    "llm:",
    "  base_url: http://127.0.0.1:1/v1",
    "  model: m",
    "  concurency: 2",
    "per_topic: -1",
    "topicz: [a]",
  ]);
  assert.throws(
    () => loadBuildConfig(b),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        /build\.yaml:5: llm\.concurency: unknown key "concurency" \(did you mean "concurrency"\?\)/,
      );
      assert.match(e.message, /build\.yaml:6: per_topic: /);
      assert.match(e.message, /build\.yaml:7: topicz: unknown key "topicz" \(did you mean "topics"\?\)/);
      return true;
    },
  );
});

test("a YAML syntax error names file, line and column", () => {
  const f = file("bad.yaml", ["model: m", "lora: {r: 4", "seed: 1"]);
  assert.throws(
    () => loadConfig(trainConfigSchema, f),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.where.file === f &&
      e.problems[0].line !== undefined &&
      /YAML syntax error/.test(e.message),
  );
});

test("paths in a config are relative to its folder; flags stay relative to the working directory", () => {
  const f = file("train.yaml", [
    "model: ../models/base",
    "output_dir: runs/a",
    "datasets:",
    "  - {path: data/qa.jsonl, task: qa, eval_path: /abs/dev.jsonl}",
    "  - {path: data/chat.jsonl, template: alpaca}",
    "template: templates/mine.yaml",
  ]);
  const dir = resolve(f, "..");
  const c = resolveTrainConfig(f, configFromFlags({ tokenizer: "tok", adapter: "ad" }));
  assert.equal(c.model, resolve(dir, "../models/base"));
  assert.equal(c.output_dir, join(dir, "runs/a"));
  assert.equal(c.datasets?.[0].path, join(dir, "data/qa.jsonl"));
  assert.equal(c.datasets?.[0].eval_path, "/abs/dev.jsonl", "absolute paths are kept");
  assert.equal(c.datasets?.[1].path, join(dir, "data/chat.jsonl"));
  assert.equal(c.datasets?.[1].template, "alpaca", "a built-in template name stays a name");
  assert.equal(c.template, join(dir, "templates/mine.yaml"));
  assert.equal(c.tokenizer, "tok", "a flag is left for the trainer to resolve from the cwd");
  // a flag that overrides a YAML path also stays as given
  const over = resolveTrainConfig(f, configFromFlags({ model: "flag-model" }));
  assert.equal(over.model, "flag-model");

  const e = file("eval.yaml", [
    "base: {kind: responses, path: base.jsonl}",
    "sft: {kind: responses, path: sft.jsonl}",
    "suites: [suites/a.jsonl, /abs/b.jsonl]",
    "ifeval: {prompts: if/in.jsonl}",
    "out: report",
  ]);
  const ec = readEvalConfig(e);
  const edir = resolve(e, "..");
  assert.deepEqual(ec.suites, [join(edir, "suites/a.jsonl"), "/abs/b.jsonl"]);
  assert.equal(ec.ifeval?.prompts, join(edir, "if/in.jsonl"));
  assert.equal(ec.out, join(edir, "report"));

  const a = file("augment.yaml", [
    "in: in.jsonl",
    "out: out/o.jsonl",
    "methods: {paraphrase: 0, difficulty: 0, context: 0}",
  ]);
  const ac = loadAugmentConfig(a);
  assert.equal(ac.in, join(resolve(a, ".."), "in.jsonl"));
  assert.equal(ac.out, join(resolve(a, ".."), "out/o.jsonl"));
});

test("path resolution leaves malformed values for the schema to report", () => {
  const raw = { model: 3, datasets: "x", llm: { kind: "openai", model: "qwen/x" } };
  assert.deepEqual(
    resolveConfigPaths(raw, "/base", [
      { at: "model" },
      { at: "datasets[].path" },
      { at: "llm.model", when: (l) => l.kind === "local" },
    ]),
    raw,
  );
});

test("--resume reads the saved config through the loader: file:line errors, alias cap", async () => {
  const runDir = join(root, "run");
  mkdirSync(runDir, { recursive: true });
  writeFileSync(
    join(runDir, "config.yaml"),
    ["model: /m", `output_dir: ${runDir}`, "data: /d.jsonl", "max_stepz: 3", ""].join("\n"),
  );
  await assert.rejects(resumeTraining(runDir, { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.where.file, join(runDir, "config.yaml"));
    assert.equal(e.where.line, 4);
    assert.match(e.message, /unknown option "max_stepz" \(did you mean "max_steps"\?\)/);
    return true;
  });
  writeFileSync(join(runDir, "config.yaml"), `${aliasBomb().join("\n")}\n`);
  await assert.rejects(resumeTraining(runDir, { quiet: true }), /maxAliasCount/);
});
