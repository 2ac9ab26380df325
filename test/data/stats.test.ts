import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import { computeStats, formatStats } from "../../src/data/stats.js";
import { readGgufTokenizer } from "../../src/engine/checkpoint/gguf.js";
import { spmEncode } from "../helpers/spm-encode.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const shared = (p: string) => resolve(repoRoot, "../shared", p);

interface AlpacaRow {
  instruction: string;
  input: string;
  output: string;
}

function nearestRank(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil((p / 100) * s.length) - 1];
}

test("alpaca_zh_demo.json: counts, CJK share, lengths, empties and duplicates match an independent count", async () => {
  const path = shared("data/sft/alpaca_zh_demo.json");
  const raw = JSON.parse(readFileSync(path, "utf8")) as AlpacaRow[];
  // Independent count, character by character over the raw rows.
  let letters = 0;
  let cjk = 0;
  let mostlyCjk = 0;
  for (const r of raw) {
    let l = 0;
    let c = 0;
    for (const ch of r.instruction + r.input + r.output) {
      if (/\p{L}/u.test(ch)) l++;
      const cp = ch.codePointAt(0)!;
      const isCjk =
        /\p{Script=Han}/u.test(ch) || (cp >= 0x3040 && cp <= 0x30ff) || (cp >= 0xac00 && cp <= 0xd7af);
      if (isCjk) c++;
    }
    letters += l;
    cjk += c;
    if (l > 0 && c / l > 0.5) mostlyCjk++;
  }
  const s = await computeStats(path);
  assert.equal(s.format, "alpaca");
  assert.equal(s.rows, raw.length);
  assert.equal(s.rows, 1000);
  assert.equal(s.invalid_rows, 0);
  assert.deepEqual(s.turns_per_record, { min: 2, mean: 2, max: 2 });
  assert.deepEqual(s.messages_by_role, { system: 0, user: 1000, assistant: 1000, tool: 0 });
  assert.ok(
    Math.abs(s.language.cjk_char_share - cjk / letters) < 1e-4,
    `${s.language.cjk_char_share} vs ${cjk / letters}`,
  );
  assert.ok(s.language.cjk_char_share > 0.85 && s.language.cjk_char_share < 0.95);
  assert.equal(s.language.cjk_record_share, mostlyCjk / raw.length);
  assert.equal(s.language.by_script.cjk, mostlyCjk);
  const outputs = raw.map((r) => [...r.output].length);
  assert.equal(s.chars.response.p50, nearestRank(outputs, 50));
  assert.equal(s.chars.response.p90, nearestRank(outputs, 90));
  assert.equal(s.chars.response.p99, nearestRank(outputs, 99));
  assert.equal(s.chars.response.max, Math.max(...outputs));
  assert.deepEqual(s.empty_fields, { input: raw.filter((r) => r.input === "").length });
  const prompts = new Set(raw.map((r) => `${r.instruction}\u0000${r.input}`));
  const whole = new Set(raw.map((r) => `${r.instruction}\u0000${r.input}\u0000${r.output}`));
  assert.deepEqual(s.duplicates, { prompts: raw.length - prompts.size, records: raw.length - whole.size });
  const table = formatStats(s);
  assert.match(table, /^rows +1000 valid, 0 invalid$/m);
  assert.match(table, /^response chars +\d+ +\d+ +\d+ +\d+ +[\d.]+$/m);
});

test("glaive tool-call data: roles and tool calls; token lengths with a real tokenizer", async () => {
  const path = shared("data/sft/glaive_toolcall_en_demo.json");
  const raw = JSON.parse(readFileSync(path, "utf8")) as {
    conversations: { from: string; value: string }[];
  }[];
  const turns = raw.flatMap((r) => r.conversations.map((t) => t.from));
  const n = (from: string) => turns.filter((t) => t === from).length;
  const s = await computeStats(path);
  assert.equal(s.rows, 300);
  assert.deepEqual(s.messages_by_role, {
    system: 0,
    user: n("human"),
    assistant: n("gpt") + n("function_call"),
    tool: n("observation"),
  });
  assert.equal(s.tool_calls, n("function_call"));
  const lengths = raw.map((r) => r.conversations.length);
  assert.equal(s.turns_per_record.min, Math.min(...lengths));
  assert.equal(s.turns_per_record.max, Math.max(...lengths));
  assert.equal(s.language.by_script.latin, 300);

  const dir = shared("tokenizers/qwen3");
  const idPath = shared("data/sft/identity.json");
  const id = JSON.parse(readFileSync(idPath, "utf8")) as AlpacaRow[];
  const tok = new Tokenizer(
    JSON.parse(readFileSync(resolve(dir, "tokenizer.json"), "utf8")),
    JSON.parse(readFileSync(resolve(dir, "tokenizer_config.json"), "utf8")),
  );
  const responseTokens = id.map((r) => tok.encode(r.output, { add_special_tokens: false }).ids.length);
  const withTokens = await computeStats(idPath, { tokenizer: dir });
  assert.equal(withTokens.tokens?.response.max, Math.max(...responseTokens));
  assert.equal(withTokens.tokens?.response.p50, nearestRank(responseTokens, 50));
});

test("token lengths with a GGUF file's vocabulary (the package's one tokenizer loader)", async () => {
  const gguf = shared("models/stories260K/stories260K.gguf");
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const path = resolve(mkdtempSync(resolve(tmpdir(), "sft-stats-")), "s.jsonl");
  const rows = [
    { instruction: "Tell a story.", output: "Once upon a time, there was a little girl named Lily." },
    { instruction: "Who is Tom?", output: "Tom was a big dog. He liked to play in the park with his ball." },
    { instruction: "Say hi.", output: "Hi" },
  ];
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n"));
  const info = readGgufTokenizer(gguf)!;
  const responseTokens = rows.map((r) => spmEncode(info, r.output).length);
  const s = await computeStats(path, { tokenizer: gguf });
  assert.equal(s.tokens?.tokenizer, gguf);
  assert.equal(s.tokens?.response.max, Math.max(...responseTokens));
  assert.equal(s.tokens?.response.p50, nearestRank(responseTokens, 50));
});

test("meta counts per task/topic/type/difficulty", async () => {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(resolve(tmpdir(), "sft-stats-"));
  const path = resolve(dir, "m.jsonl");
  const rows = [
    { instruction: "a", output: "b", task: "qa", difficulty: "easy" },
    { instruction: "c", output: "d", task: "qa", topic: "math" },
    { instruction: "e", output: "f", task: "code", type: "open" },
  ];
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n"));
  const s = await computeStats(path);
  assert.deepEqual(s.meta, {
    task: { qa: 2, code: 1 },
    difficulty: { easy: 1 },
    topic: { math: 1 },
    type: { open: 1 },
  });
});
