/** `sft data render`, `sft data check`, `sft data inspect` run as the user runs them. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { SftRecord } from "../../src/record/record.js";
import { IGNORE_INDEX } from "../../src/tokenize/mask.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { runSft } from "../helpers/spawn-sft.js";
import { alpacaRecords, storiesGguf, tokenizerDir } from "../tokenize/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "sft-data-render-"));
const records: SftRecord[] = [
  ...alpacaRecords("alpaca_en_demo.json", 3),
  {
    id: "no-answer",
    messages: [
      { role: "user", content: "Hello?" },
      { role: "assistant", content: "Hi.", train: false },
    ],
    meta: { source: "test" },
  },
];
const input = join(dir, "in.jsonl");
writeFileSync(input, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
const clean = join(dir, "clean.jsonl");
writeFileSync(
  clean,
  records
    .slice(0, 3)
    .map((r) => JSON.stringify(r))
    .join("\n") + "\n",
);

describe("sft data render", () => {
  test("writes { id, input_ids, labels, text } per record; a record with nothing to train is reported", async () => {
    const out = join(dir, "rendered.jsonl");
    const res = runSft([
      "data",
      "render",
      "--tokenizer",
      tokenizerDir("qwen3"),
      "--in",
      input,
      "--out",
      out,
      "--chat-template",
    ]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stderr,
      /rejected: record no-answer: no trained tokens: every assistant turn has train: false/,
    );
    assert.match(res.stderr, /rendered 3 record\(s\) to .*rendered.jsonl, 1 rejected \(not written\)/);
    const rows = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 3);
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    rows.forEach((row, i) => {
      assert.deepEqual(Object.keys(row), ["id", "input_ids", "labels", "text"]);
      assert.equal(row.id, records[i].id);
      assert.equal(row.input_ids.length, row.labels.length);
      assert.deepEqual(tok.encode(row.text), row.input_ids, "text is what was tokenized");
      const trained = row.input_ids.filter((_: number, k: number) => row.labels[k] !== IGNORE_INDEX);
      assert.equal(tok.decode(trained), `${records[i].messages[1].content}<|im_end|>`);
    });
  });

  test("--template with a GGUF vocabulary, --max-seq-length truncation, and bad flags", () => {
    const out = join(dir, "gguf.jsonl");
    const render = (tokenizer: string, from: string, to: string, ...flags: string[]) =>
      runSft(["data", "render", "--tokenizer", tokenizer, "--in", from, "--out", to, ...flags]);
    const res = render(storiesGguf, clean, out, "--template", "alpaca", "--max-seq-length", "160");
    const invalid = join(dir, "invalid.jsonl");
    writeFileSync(invalid, `${JSON.stringify({ id: "x", messages: [{ role: "user", content: "q" }] })}\n`);
    const inv = render(storiesGguf, invalid, join(dir, "inv.jsonl"));
    assert.equal(inv.code, 1);
    assert.match(inv.stderr, /invalid row: .*invalid.jsonl:1: .*no assistant turn/);
    assert.equal(res.code, 0, res.stderr);
    const rows = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.input_ids[0], 1, "BOS");
      assert.ok(row.input_ids.length <= 160);
    }
    assert.match(res.stderr, /truncated: record alpaca_en_demo.json:1: response of message 1 cut/);
    const bad = render(storiesGguf, clean, out, "--template", "nope");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown template "nope"/);
    const jinja = join(dir, "plain.jinja");
    writeFileSync(
      jinja,
      "{% for m in messages %}{{ m.role + ': ' + m.content + eos_token }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}",
    );
    const custom = render(storiesGguf, clean, out, "--chat-template", jinja);
    assert.equal(custom.code, 0, custom.stderr);
    const first = JSON.parse(readFileSync(out, "utf8").split("\n")[0]);
    assert.ok(first.text.startsWith(`user: ${records[0].messages[0].content}</s>assistant: `), first.text);
    const both = render(tokenizerDir("qwen3"), clean, out, "--template", "alpaca", "--chat-template");
    assert.match(both.stderr, /--template and --chat-template exclude each other/);
  });
});

describe("sft data check", () => {
  test("passes clean data and fails, naming the record, on a record with nothing to train", () => {
    const ok = runSft([
      "data",
      "check",
      "--tokenizer",
      tokenizerDir("llama3"),
      "--in",
      clean,
      "--pack",
      "--max-seq-length",
      "1024",
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /3 record\(s\), 3 sample\(s\), 0 truncated/);
    assert.match(ok.stdout, /ok {3}packing/);
    assert.match(ok.stdout, /all checks passed/);
    const bad = runSft(["data", "check", "--tokenizer", storiesGguf, "--in", input, "--template", "alpaca"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stdout,
      /FAIL trained-tokens: record no-answer: no trained tokens: every assistant turn has train: false/,
    );
    assert.match(bad.stdout, /pre-flight FAILED/);
    const json = runSft(["data", "check", "--tokenizer", storiesGguf, "--in", input, "--json"]);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.counts["trained-tokens"], 1);
  });
});

describe("sft data inspect", () => {
  test("highlights trained tokens in the terminal (⟦ ⟧ without colour) and writes the HTML view", () => {
    const html = join(dir, "view.html");
    const res = runSft([
      "data",
      "inspect",
      "--tokenizer",
      storiesGguf,
      "--in",
      clean,
      "--template",
      "simple",
      "--limit",
      "2",
      "--html",
      html,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const answer = records[0].messages[1].content;
    assert.ok(res.stdout.includes(`⟦${answer.replaceAll("\n", "↵\n")}</s>⟧`), res.stdout.slice(0, 500));
    assert.match(res.stdout, /── alpaca_en_demo.json:2 \(\d+ tokens, \d+ trained\)/);
    const page = readFileSync(html, "utf8");
    assert.match(page, /^<!doctype html>/);
    assert.equal((page.match(/<section>/g) ?? []).length, 2);
    assert.match(page, /<span class="t trained special" title="2 \(trained\)">&lt;\/s&gt;<\/span>/);
  });
});
