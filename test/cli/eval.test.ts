import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { EvalResult } from "../../src/eval/runner.js";
import { IFEVAL_PROMPTS, SAMPLES, sftAnswerFor, writeEvalFixture } from "../eval/eval-fixture.js";
import { startOpenAiServer } from "../helpers/openai-server.js";

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

const repoRoot = new URL("../../", import.meta.url).pathname;

/** Runs the real `sft` entry point in a child process (async, so in-process test servers keep answering). */
function runCli(args: string[]): Promise<{ out: string; code: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, "bin/sft.js"), ...args], { cwd: repoRoot });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("close", (code) => resolve({ out, code: code ?? 1 }));
  });
}

/** Checks that every aggregate in report.json is what its per-sample results add up to. */
function checkReportAddsUp(r: EvalResult): void {
  for (const t of r.tasks) {
    const ss = r.samples.filter((s) => s.task === t.task);
    assert.equal(t.n, ss.length);
    close(t.base.score, mean(ss.map((s) => s.base.score)), `${t.task} base`);
    close(t.sft.score, mean(ss.map((s) => s.sft.score)), `${t.task} sft`);
    close(t.improvement, t.sft.score - t.base.score, `${t.task} improvement`);
    close(t.sft.pass_rate, mean(ss.map((s) => (s.sft.pass ? 1 : 0))), `${t.task} pass`);
    close(t.sft.if_score, mean(ss.map((s) => s.sft.if_score.score)), `${t.task} if`);
    assert.equal(t.needs_attention, t.improvement < r.attention_threshold);
  }
  close(r.overall.base.score, mean(r.samples.map((s) => s.base.score)), "overall base");
  close(r.overall.sft.score, mean(r.samples.map((s) => s.sft.score)), "overall sft");
  close(r.overall.improvement, r.overall.sft.score - r.overall.base.score, "overall improvement");
  assert.equal(r.overall.samples_improved, r.samples.filter((s) => s.improvement > 0).length);
  const best = [...r.tasks].sort((a, b) => b.improvement - a.improvement)[0];
  assert.equal(r.best_task?.task, best.task);
  assert.deepEqual(
    r.attention_tasks.map((t) => t.task),
    r.tasks.filter((t) => t.improvement < 0.1).map((t) => t.task),
  );
  for (const s of r.samples) {
    const p = s.sft.if_score;
    close(p.score, 0.3 * p.format + 0.4 * p.relevance + 0.2 * p.completeness + 0.1 * p.quality, `${s.id} IF`);
  }
}

describe("sft eval", () => {
  it("sft eval ifeval writes the contract JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-eval-cli-"));
    const fx = writeEvalFixture(dir);
    const responses = join(dir, "ifeval-responses.jsonl");
    writeFileSync(
      responses,
      IFEVAL_PROMPTS.map((p) => JSON.stringify({ prompt: p.prompt, response: sftAnswerFor(p.prompt) })).join(
        "\n",
      ),
    );
    const out = join(dir, "ifeval.json");
    const res = await runCli([
      "eval",
      "ifeval",
      "--prompts",
      fx.ifeval,
      "--responses",
      responses,
      "--out",
      out,
    ]);
    assert.equal(res.code, 0, res.out);
    const r = JSON.parse(readFileSync(out, "utf8"));
    // no_comma ✓; 2 bullets ✓; JSON ✗ strict (preamble) ✓ loose, end "Done." ✗ both
    assert.deepEqual(
      r.rows.map((x: { strict: { follow_instruction_list: boolean[] } }) => x.strict.follow_instruction_list),
      [[true], [true], [false, false]],
    );
    assert.deepEqual(r.rows[2].loose.follow_instruction_list, [true, false]);
    assert.equal(r.accuracy.prompt_strict, 2 / 3);
    assert.equal(r.accuracy.instruction_loose, 3 / 4);
    assert.match(res.out, /prompt-level strict 66\.7%/);
  });

  it("sft eval CONFIG.yaml runs a precomputed base against an OpenAI-protocol SFT server with a judge, and the report adds up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-eval-cli-"));
    writeEvalFixture(dir);
    const sftServer = await startOpenAiServer({
      answer: (b) => sftAnswerFor(b.messages.at(-1)?.content ?? ""),
    });
    // a judge that prefers the answer that is longer (deterministic)
    const judgeServer = await startOpenAiServer({
      answer: (b) => {
        const t = b.messages.at(-1)?.content ?? "";
        const a = /\[Answer A\]\n([\s\S]*?)\n\[End of answer A\]/.exec(t)?.[1] ?? "";
        const bb = /\[Answer B\]\n([\s\S]*?)\n\[End of answer B\]/.exec(t)?.[1] ?? "";
        return a.length === bb.length ? "[[C]]" : a.length > bb.length ? "[[A]]" : "[[B]]";
      },
    });
    try {
      const cfg = join(dir, "eval.yaml");
      writeFileSync(
        cfg,
        [
          "base: { kind: responses, path: base.jsonl, name: base-model }",
          `sft: { kind: openai, base_url: "${sftServer.url}", model: sft-model, max_retries: 0 }`,
          "suites: [suite.jsonl]",
          "ifeval: { prompts: ifeval.jsonl }",
          `judge: { llm: { base_url: "${judgeServer.url}", model: judge } }`,
          "generation: { max_tokens: 128, concurrency: 2 }",
          "out: report",
        ].join("\n"),
      );
      const res = await runCli(["eval", cfg, "--quiet"]);
      assert.equal(res.code, 0, res.out);
      const r = JSON.parse(readFileSync(join(dir, "report", "report.json"), "utf8")) as EvalResult;
      assert.equal(r.samples.length, SAMPLES.length + IFEVAL_PROMPTS.length);
      assert.deepEqual(r.models, { base: "base-model", sft: "sft-model" });
      checkReportAddsUp(r);
      // the scripted answers make these exact
      const task = (name: string) => r.tasks.find((t) => t.task === name)!;
      close(task("math").base.score, 1 / 3, "math base");
      close(task("math").sft.score, 1, "math sft");
      close(task("mcq").improvement, -0.5, "mcq");
      assert.equal(task("mcq").needs_attention, true);
      close(task("code").sft.score, 1, "code sft");
      close(task("code").base.score, 0, "code base");
      assert.ok(r.ifeval);
      close(r.ifeval!.base.instruction_strict, 1 / 4, "ifeval base");
      close(r.ifeval!.sft.instruction_loose, 3 / 4, "ifeval sft loose");
      assert.ok(r.judge && r.judge.pairs.length === r.samples.length);
      close(r.judge!.win_rate!, mean(r.judge!.pairs.map((p) => p.outcome!)), "judge win rate");
      assert.ok(r.suggestions.some((s) => s.includes('"mcq" regressed')));
      const html = readFileSync(join(dir, "report", "report.html"), "utf8");
      assert.match(html, /Best improved task: <b>/);
      assert.ok(html.includes(`${r.overall.base.score.toFixed(3)} → ${r.overall.sft.score.toFixed(3)}`));
      assert.match(res.out, /wrote .*report\.json/);
    } finally {
      await sftServer.close();
      await judgeServer.close();
    }
  });

  it("sft eval judge pairs two response files and judges both orders", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-eval-cli-"));
    const rows = (answers: string[]) =>
      answers.map((a, i) => JSON.stringify({ prompt: `q${i}`, response: a })).join("\n");
    writeFileSync(join(dir, "a.jsonl"), rows(["wrong", "correct", "wrong", "same"]));
    writeFileSync(join(dir, "b.jsonl"), rows(["correct", "wrong", "correct", "same"]));
    // this judge prefers the answer saying "correct" and calls identical answers a tie
    const judge = await startOpenAiServer({
      answer: (b) => {
        const t = b.messages.at(-1)?.content ?? "";
        const a = /\[Answer A\]\n([\s\S]*?)\n\[End of answer A\]/.exec(t)?.[1] ?? "";
        const bb = /\[Answer B\]\n([\s\S]*?)\n\[End of answer B\]/.exec(t)?.[1] ?? "";
        return a === bb ? "[[C]]" : a === "correct" ? "[[A]]" : "[[B]]";
      },
    });
    try {
      const out = join(dir, "judge.json");
      const res = await runCli([
        "eval",
        "judge",
        "--base",
        join(dir, "a.jsonl"),
        "--sft",
        join(dir, "b.jsonl"),
        "--base-url",
        judge.url,
        "--model",
        "j",
        "--out",
        out,
      ]);
      assert.equal(res.code, 0, res.out);
      const s = JSON.parse(readFileSync(out, "utf8"));
      assert.deepEqual([s.wins, s.ties, s.losses], [2, 1, 1]);
      assert.equal(s.win_rate, 2.5 / 4);
      assert.equal(judge.log.length, 8);
      assert.match(res.out, /win rate 62\.5%/);
    } finally {
      await judge.close();
    }
  });

  it("sft eval judge fails on a judge that returns garbage, quoting its replies", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-eval-cli-"));
    const rows = (answers: string[]) =>
      answers.map((a, i) => JSON.stringify({ prompt: `q${i}`, response: a })).join("\n");
    writeFileSync(join(dir, "a.jsonl"), rows(["one", "two", "three", "four"]));
    writeFileSync(join(dir, "b.jsonl"), rows(["uno", "dos", "tres", "cuatro"]));
    const judge = await startOpenAiServer({ answer: () => "lorem ipsum, no verdict here" });
    try {
      const out = join(dir, "judge.json");
      const args = ["--base-url", judge.url, "--model", "j", "--out", out];
      const res = await runCli([
        "eval",
        "judge",
        "--base",
        join(dir, "a.jsonl"),
        "--sft",
        join(dir, "b.jsonl"),
        ...args,
      ]);
      assert.notEqual(res.code, 0, res.out);
      assert.match(res.out, /gave no verdict in 8 of 8 replies/);
      assert.match(res.out, /"lorem ipsum, no verdict here"/);
      assert.doesNotMatch(res.out, /win rate 50\.0%/);
      assert.throws(() => readFileSync(out), "no summary is written for an unusable judge");
    } finally {
      await judge.close();
    }
  });

  it("the eval report counts unparsed verdicts and leaves them out of the rate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-eval-cli-"));
    writeEvalFixture(dir);
    // the judge names the longer answer when it is shown first, and rambles otherwise:
    // one order of each unequal pair has no verdict (half of them, not most)
    const judgeServer = await startOpenAiServer({
      answer: (b) => {
        const t = b.messages.at(-1)?.content ?? "";
        const a = /\[Answer A\]\n([\s\S]*?)\n\[End of answer A\]/.exec(t)?.[1] ?? "";
        const bb = /\[Answer B\]\n([\s\S]*?)\n\[End of answer B\]/.exec(t)?.[1] ?? "";
        return a.length >= bb.length ? "[[A]]" : "hmm, hard to say";
      },
    });
    try {
      const cfg = join(dir, "eval.yaml");
      writeFileSync(
        cfg,
        [
          "base: { kind: responses, path: base.jsonl, name: base-model }",
          "sft: { kind: responses, path: sft.jsonl, name: sft-model }",
          "suites: [suite.jsonl]",
          `judge: { llm: { base_url: "${judgeServer.url}", model: judge } }`,
          "out: report",
        ].join("\n"),
      );
      const res = await runCli(["eval", cfg, "--quiet"]);
      assert.equal(res.code, 0, res.out);
      const r = JSON.parse(readFileSync(join(dir, "report", "report.json"), "utf8")) as EvalResult;
      const j = r.judge!;
      assert.ok(j.unparsed_verdicts > 0);
      assert.equal(j.total_verdicts, 2 * j.pairs.length);
      const parsed = j.pairs.filter((p) => p.outcome !== null);
      assert.equal(j.judged, parsed.length);
      close(j.win_rate!, mean(parsed.map((p) => p.outcome!)), "win rate over parsed prompts");
      assert.match(res.out, new RegExp(`unparsed verdicts ${j.unparsed_verdicts} of ${j.total_verdicts}`));
      const html = readFileSync(join(dir, "report", "report.html"), "utf8");
      assert.ok(html.includes(`${j.unparsed_verdicts} of ${j.total_verdicts}`));
    } finally {
      await judgeServer.close();
    }
  });

  it("bad configs and missing inputs are one-line errors with file and field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-eval-cli-"));
    writeEvalFixture(dir);
    const cfg = join(dir, "bad.yaml");
    writeFileSync(
      cfg,
      "base: { kind: responses, path: base.jsonl }\nsft: { kind: nope }\nsuites: [suite.jsonl]\n",
    );
    let res = await runCli(["eval", cfg, "--quiet"]);
    assert.equal(res.code, 1);
    assert.match(res.out, /unknown generator kind "nope"/);
    writeFileSync(
      cfg,
      "base: { kind: responses, path: base.jsonl }\nsft: { kind: responses, path: sft.jsonl }\nsuites: [suite.jsonl]\ntypo: 1\n",
    );
    res = await runCli(["eval", cfg, "--quiet"]);
    assert.equal(res.code, 1);
    assert.match(res.out, /bad\.yaml:4/);
    res = await runCli(["eval"]);
    assert.equal(res.code, 1);
    assert.match(res.out, /needs a config file or a subcommand/);
  });
});
