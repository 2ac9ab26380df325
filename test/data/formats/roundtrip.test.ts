import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { recordToRow } from "../../../src/data/formats/index.js";
import { readConvertedRows, readRecords, readRows, writeRecords } from "../../../src/data/io/index.js";
import type { SftRecord } from "../../../src/record/record.js";

const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const sft = (name: string) => resolve(repoRoot, "../shared/data/sft", name);
const tmp = () => mkdtempSync(join(tmpdir(), "sft-fmt-"));

const SHARED = {
  "alpaca_en_demo.json": { format: "alpaca", rows: 999 },
  "alpaca_zh_demo.json": { format: "alpaca", rows: 1000 },
  "identity.json": { format: "alpaca", rows: 91 },
  "glaive_toolcall_en_demo.json": { format: "sharegpt", rows: 300 },
  "v1_sft_demo.jsonl": { format: "openai", rows: 500 },
} as const;

async function rawRows(path: string): Promise<unknown[]> {
  const rows: unknown[] = [];
  for await (const { row } of readRows(path)) rows.push(row);
  return rows;
}

async function records(path: string, opts = {}): Promise<SftRecord[]> {
  const out: SftRecord[] = [];
  for await (const r of readRecords(path, opts)) out.push(r);
  return out;
}

for (const [name, expected] of Object.entries(SHARED)) {
  test(`${name}: every row → record → ${expected.format} row again, field by field`, async () => {
    const path = sft(name);
    const raw = await rawRows(path);
    let i = 0;
    for await (const { record, format } of readConvertedRows(path)) {
      assert.equal(format, expected.format);
      assert.deepEqual(recordToRow(record, format), raw[i], `row ${i} (${record.id})`);
      i++;
    }
    assert.equal(i, expected.rows);
    assert.equal(raw.length, expected.rows);
  });
}

test("Alpaca: instruction and input form the user turn, output the assistant turn; ids are stable", async () => {
  const path = sft("alpaca_en_demo.json");
  const raw = (await rawRows(path)) as { instruction: string; input: string; output: string }[];
  const recs = await records(path);
  const withInput = raw.findIndex((r) => r.input !== "");
  assert.ok(withInput >= 0);
  assert.deepEqual(recs[withInput].messages, [
    { role: "user", content: `${raw[withInput].instruction}\n\n${raw[withInput].input}` },
    { role: "assistant", content: raw[withInput].output },
  ]);
  assert.equal(recs[withInput].id, `alpaca_en_demo-${withInput}`);
  assert.equal(recs[withInput].meta.source, "alpaca_en_demo.json");
  const again = await records(path);
  assert.deepEqual(
    again.map((r) => r.id),
    recs.map((r) => r.id),
  );
  assert.equal(new Set(recs.map((r) => r.id)).size, recs.length);
});

test("v1_sft_demo: per-turn loss_weight becomes train flags and survives other formats", async () => {
  const path = sft("v1_sft_demo.jsonl");
  const raw = (await rawRows(path)) as { messages: { role: string; loss_weight: number }[] }[];
  const recs = await records(path);
  const rawFlags = raw.flatMap((r) => r.messages.map((m) => `${m.role}:${m.loss_weight}`));
  const recFlags = recs.flatMap((r) => r.messages.map((m) => `${m.role}:${m.train ? 1 : 0}`));
  assert.deepEqual(recFlags, rawFlags);
  assert.ok(recs.every((r) => r.messages.every((m) => typeof m.train === "boolean")));
  const dir = tmp();
  for (const [to, file] of [
    ["sharegpt", "v1.sharegpt.json"],
    ["openai", "v1.openai.parquet"],
    ["prompt-completion", "v1.pc.jsonl"],
    ["record", "v1.records.csv"],
  ] as const) {
    const out = join(dir, file);
    assert.deepEqual(await writeRecords(out, recs, { to }), { count: 500 });
    const back = await records(out);
    assert.deepEqual(
      back.map((r) => r.messages),
      recs.map((r) => r.messages),
      `${to} via ${file}`,
    );
  }
});

test("glaive tool calls: function_call/observation turns become tool_calls and tool turns, in every direction", async () => {
  const path = sft("glaive_toolcall_en_demo.json");
  const raw = (await rawRows(path)) as { conversations: { from: string; value: string }[]; tools: string }[];
  const recs = await records(path);
  const calls = raw.flatMap((r) => r.conversations.filter((t) => t.from === "function_call"));
  const recCalls = recs.flatMap((r) => r.messages.filter((m) => m.tool_calls?.length));
  assert.equal(recCalls.length, calls.length);
  for (let k = 0; k < calls.length; k++) {
    const parsed = JSON.parse(calls[k].value) as { name: string; arguments: unknown };
    const call = recCalls[k].tool_calls![0];
    assert.equal(call.function.name, parsed.name);
    assert.deepEqual(JSON.parse(call.function.arguments), parsed.arguments);
  }
  assert.equal(
    recs.flatMap((r) => r.messages.filter((m) => m.role === "tool")).length,
    raw.flatMap((r) => r.conversations.filter((t) => t.from === "observation")).length,
  );
  assert.deepEqual(
    recs.map((r) => r.meta.tools),
    raw.map((r) => r.tools),
  );
  // sharegpt → openai file → sharegpt rows: the original rows come back.
  const dir = tmp();
  const openaiFile = join(dir, "glaive.openai.jsonl");
  await writeRecords(openaiFile, recs, { to: "openai" });
  const viaOpenai = await records(openaiFile);
  assert.deepEqual(
    viaOpenai.map((r) => recordToRow(r, "sharegpt")),
    raw,
  );
});

test("every container keeps records exactly (record format in JSONL, JSON, CSV, Parquet)", async () => {
  const recs = [
    ...(await records(sft("glaive_toolcall_en_demo.json"))).slice(0, 40),
    ...(await records(sft("v1_sft_demo.jsonl"))).slice(0, 40),
    ...(await records(sft("alpaca_zh_demo.json"))).slice(0, 40),
  ];
  const dir = tmp();
  for (const ext of ["jsonl", "json", "csv", "parquet"]) {
    const out = join(dir, `all.${ext}`);
    await writeRecords(out, recs);
    assert.deepEqual(await records(out), recs, ext);
  }
});

test("Alpaca with system and history, written back from records and through CSV", async () => {
  const dir = tmp();
  const rows = [
    {
      instruction: "And then?",
      input: "",
      output: "Then stop.",
      system: "Be brief.",
      history: [
        ["Start?", "Start here."],
        ["Next?", "Go on."],
      ],
      task: "qa",
    },
    { id: 7, instruction: "Translate", input: "chat", output: "cat" },
  ];
  const src = join(dir, "src.jsonl");
  const { writeJsonl } = await import("../../../src/data/io/index.js");
  await writeJsonl(src, rows);
  const recs = await records(src);
  assert.deepEqual(recs[0].messages, [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Start?" },
    { role: "assistant", content: "Start here." },
    { role: "user", content: "Next?" },
    { role: "assistant", content: "Go on." },
    { role: "user", content: "And then?" },
    { role: "assistant", content: "Then stop." },
  ]);
  assert.equal(recs[0].meta.task, "qa");
  assert.equal(recs[1].id, "7");
  assert.deepEqual(
    recs.map((r) => recordToRow(r, "alpaca")),
    rows,
  );
  const csv = join(dir, "out.csv");
  await writeRecords(csv, recs, { to: "alpaca" });
  const back = await records(csv);
  assert.deepEqual(
    back.map((r) => r.messages),
    recs.map((r) => r.messages),
  );
});

test("OpenAI rows with tool_calls, null content and tool_call_id round-trip exactly", async () => {
  const dir = tmp();
  const row = {
    id: "t1",
    messages: [
      { role: "system", content: "You can call tools." },
      { role: "user", content: "Weather in Paris?", weight: 0 },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
        ],
        weight: 0,
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temp": 21}' },
      { role: "assistant", content: "21 °C in Paris.", weight: 1 },
    ],
    tools: [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }],
  };
  const src = join(dir, "tools.jsonl");
  const { writeJsonl } = await import("../../../src/data/io/index.js");
  await writeJsonl(src, [row]);
  const [rec] = await records(src);
  assert.equal(rec.messages[2].train, false);
  assert.equal(rec.messages[3].tool_call_id, "call_1");
  assert.deepEqual(rec.meta.tools, row.tools);
  assert.deepEqual(recordToRow(rec, "openai"), row);
  // through ShareGPT and back: ids, flags and calls survive
  const sg = join(dir, "tools.sharegpt.jsonl");
  await writeRecords(sg, [rec], { to: "sharegpt" });
  const [viaSharegpt] = await records(sg);
  assert.deepEqual(viaSharegpt.messages, rec.messages);
});

test("prompt/completion and text rows", async () => {
  const dir = tmp();
  const { writeJsonl } = await import("../../../src/data/io/index.js");
  const pc = join(dir, "pc.jsonl");
  const pcRows = [
    { prompt: "2+2=", completion: "4" },
    {
      prompt: [
        { role: "system", content: "math" },
        { role: "user", content: "3+3=" },
      ],
      completion: [{ role: "assistant", content: "6" }],
    },
  ];
  await writeJsonl(pc, pcRows);
  const recs = await records(pc);
  assert.deepEqual(recs[0].messages, [
    { role: "user", content: "2+2=" },
    { role: "assistant", content: "4" },
  ]);
  assert.equal(recs[1].messages.length, 3);
  assert.deepEqual(
    recs.map((r) => recordToRow(r, "prompt-completion")),
    pcRows,
  );
  const txt = join(dir, "t.csv");
  const { writeRows } = await import("../../../src/data/io/index.js");
  await writeRows(txt, [{ text: "Once upon a time", topic: "story" }]);
  const [t] = await records(txt);
  assert.deepEqual(t.messages, [{ role: "assistant", content: "Once upon a time" }]);
  assert.equal(t.meta.topic, "story");
  assert.deepEqual(recordToRow(t, "text"), { text: "Once upon a time", topic: "story" });
});

test("JSON-array datasets written back in their own format are byte-identical to the originals", async () => {
  const { readFileSync } = await import("node:fs");
  const dir = tmp();
  for (const [name, to] of [
    ["alpaca_en_demo.json", "alpaca"],
    ["identity.json", "alpaca"],
    ["glaive_toolcall_en_demo.json", "sharegpt"],
  ] as const) {
    const out = join(dir, name);
    await writeRecords(out, readRecords(sft(name)), { to });
    assert.ok(readFileSync(out).equals(readFileSync(sft(name))), name);
  }
});
