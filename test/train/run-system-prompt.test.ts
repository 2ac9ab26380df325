/**
 * The system prompt a run trained with reaches the Ollama Modelfile: recorded in the run's
 * datasets.json by `sft train`, written as SYSTEM by `sft export --ollama` only when every
 * training record had the same one, and otherwise left out with the reason.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runExport } from "../../src/cli/export.js";
import { train } from "../../src/train/index.js";
import { runDirOf, systemPromptCounts, trainedSystemPrompt } from "../../src/train/run-system-prompt.js";
import { STORIES_GGUF } from "./instruction-set.js";

const dir = mkdtempSync(join(tmpdir(), "sft-run-system-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function runWith(name: string, counts: Map<string, number>): string {
  const run = join(dir, name);
  mkdirSync(join(run, "adapter"), { recursive: true });
  writeFileSync(join(run, "datasets.json"), JSON.stringify({ system_prompts: systemPromptCounts(counts) }));
  return run;
}

test("one system prompt on every record is used; mixed or partial prompts are not, and say why", () => {
  const same = runWith("same", new Map([["Answer in French.", 30]]));
  assert.equal(runDirOf(join(same, "adapter")), same);
  const used = trainedSystemPrompt(same);
  assert.equal(used.system, "Answer in French.");
  assert.match(used.note ?? "", /all 30 training records/);

  const mixed = trainedSystemPrompt(
    runWith(
      "mixed",
      new Map([
        ["A", 5],
        ["B", 3],
        ["", 2],
      ]),
    ),
  );
  assert.equal(mixed.system, null);
  assert.match(mixed.note ?? "", /2 different system prompts and 2 records without one/);
  assert.match(mixed.note ?? "", /--system TEXT/);

  const none = trainedSystemPrompt(runWith("none", new Map([["", 12]])));
  assert.deepEqual(none, { system: null, note: null });
  assert.equal(runDirOf(join(dir, "elsewhere")), null);
});

test("sft train records the system prompts; sft export --ollama writes the run's one as SYSTEM", async () => {
  const system = "You are a storyteller.";
  const data = join(dir, "chat.jsonl");
  const rows = Array.from({ length: 8 }, (_, i) => ({
    messages: [
      { role: "system", content: system },
      { role: "user", content: `Who has the ball ${i}?` },
      { role: "assistant", content: "Lily has the ball." },
    ],
  }));
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join("\n"));
  const out = join(dir, "run");
  await train(
    {
      model: STORIES_GGUF,
      data,
      output_dir: out,
      chat_template: "chatml",
      // stories260K's vocabulary has no <|im_end|> token, which pre-flight rightly reports
      preflight: false,
      max_steps: 2,
      per_device_train_batch_size: 4,
      lora: { r: 4, alpha: 8, dropout: 0 },
    },
    { quiet: true, stdout: { write: () => true } as unknown as NodeJS.WritableStream },
  );
  const datasets = JSON.parse(readFileSync(join(out, "datasets.json"), "utf8"));
  assert.deepEqual(datasets.system_prompts, { records: 8, distinct: 1, top: [{ system, records: 8 }] });

  const ollama = join(dir, "ollama");
  runExport({ model: STORIES_GGUF, adapter: join(out, "adapter"), ollama });
  assert.match(readFileSync(join(ollama, "Modelfile"), "utf8"), /\nSYSTEM """You are a storyteller\."""\n$/);
  // an explicit --system wins over the run's
  const explicit = join(dir, "ollama-explicit");
  runExport({ model: STORIES_GGUF, adapter: join(out, "adapter"), ollama: explicit, system: "Be brief." });
  assert.match(readFileSync(join(explicit, "Modelfile"), "utf8"), /\nSYSTEM """Be brief\."""\n$/);
});
