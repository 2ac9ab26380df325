import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { runExport } from "../../../src/cli/export.js";
import { loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import { buildModelfile, ollamaFormatOf } from "../../../src/engine/checkpoint/ollama.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const tokenizers = resolve(repoRoot, "../shared/tokenizers");
const asset = join(repoRoot, "assets/models/stories260K");
const dir = mkdtempSync(join(tmpdir(), "sft-ollama-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const config = (name: string) =>
  JSON.parse(readFileSync(join(tokenizers, name, "tokenizer_config.json"), "utf8")) as {
    chat_template?: string;
  };

test("real chat templates: Llama 3's and Qwen3's render as Ollama's llama3 and chatml formats, DeepSeek-V3's as neither", () => {
  assert.equal(ollamaFormatOf(config("llama3").chat_template!, "<|begin_of_text|>")?.name, "llama3");
  assert.equal(ollamaFormatOf(config("qwen3").chat_template!, null)?.name, "chatml");
  assert.equal(ollamaFormatOf(config("deepseek_v3").chat_template!, "<｜begin▁of▁sentence｜>"), null);
  assert.equal(ollamaFormatOf("{{ not jinja", null), null);
});

test("Modelfile: FROM, ADAPTER, Go TEMPLATE, stops and SYSTEM", () => {
  const mf = buildModelfile({
    from: "./model.gguf",
    adapter: "./adapter.gguf",
    chatTemplate: config("qwen3").chat_template!,
    bosToken: null,
    endTokens: ["<|im_end|>", "<|endoftext|>"],
    system: "You answer in one line.",
  });
  assert.equal(mf.format, "chatml");
  assert.equal(
    mf.text,
    [
      "FROM ./model.gguf",
      "ADAPTER ./adapter.gguf",
      'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}',
      "{{ .Content }}<|im_end|>",
      "{{ end }}<|im_start|>assistant",
      '"""',
      'PARAMETER stop "<|im_end|>"',
      'PARAMETER stop "<|im_start|>"',
      'PARAMETER stop "<|endoftext|>"',
      'SYSTEM """You answer in one line."""',
      "",
    ].join("\n"),
  );
});

test("sft export --ollama DIR writes model.gguf and a Modelfile that names it", () => {
  const out = join(dir, "stories");
  const files = runExport({ model: asset, ollama: out, system: "Tell a story." });
  assert.deepEqual(files, [join(out, "model.gguf"), join(out, "Modelfile")]);
  assert.equal(loadCheckpoint(join(out, "model.gguf")).config.numLayers, 5);
  const text = readFileSync(join(out, "Modelfile"), "utf8");
  assert.match(text, /^FROM \.\/model\.gguf\n/);
  assert.match(text, /\nPARAMETER stop "<\/s>"\n/);
  assert.match(text, /\nSYSTEM """Tell a story\."""\n$/);
});
