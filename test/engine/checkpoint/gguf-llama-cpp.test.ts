/**
 * The exported GGUF files as llama.cpp itself reads them (node-llama-cpp's prebuilt
 * llama.cpp, CPU): for a small random model of every family with a real tokenizer of that
 * family, llama.cpp's tokenization equals @huggingface/tokenizers', and its greedy decoding
 * equals `sft generate`'s token for token (F32, F16); Q8_0/Q4_0 agreement is measured.
 */

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { exportModel } from "../../../src/engine/checkpoint/export.js";
import { FAMILY_CASES } from "../../helpers/families.js";
import { type Llama, startLlama } from "../../helpers/llama-cpp.js";
import { randomModelDir } from "../../helpers/random-model.js";
import { spawnSft } from "../../helpers/spawn-sft.js";

const dir = mkdtempSync(join(tmpdir(), "sft-gguf-llama-cpp-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const TEXT = "The quick brown fox, 1234 apples — 你好，世界！今天天气很好。🙂🚀 Done.";
const PROMPT = "Once upon a time, 小明 went to the market 🛒 and";
const NEW_TOKENS = 32;

const started = await startLlama();
after(async () => {
  if ("llama" in started) await started.llama.dispose();
});

/** `sft generate --raw --show-tokens`: the prompt ids and the greedy response ids it printed. */
async function sftGenerate(model: string): Promise<{ prompt: number[]; response: number[] }> {
  const args = [
    "generate",
    "--model",
    model,
    "--raw",
    "--prompt",
    PROMPT,
    "--max-new-tokens",
    String(NEW_TOKENS),
    "--show-tokens",
  ];
  const r = await spawnSft(args, dir).done;
  assert.equal(r.code, 0, r.err);
  const ids = (label: string) => {
    const line = r.err.split("\n").find((l) => l.startsWith(`[prompt] ${label} tokens`));
    assert.ok(line, r.err);
    return [...line.slice(line.indexOf(": [")).matchAll(/[[,] (\d+) "|^: \[(\d+) "/g)].map((m) =>
      Number(m[1] ?? m[2]),
    );
  };
  return { prompt: ids("prompt"), response: ids("response") };
}

async function llamaCppGenerate(llama: Llama, file: string, prompt: number[], text: string) {
  const model = await llama.loadModel({ modelPath: file });
  try {
    const tokens = model.tokenize(text, false).map(Number);
    const context = await model.createContext({
      contextSize: 256,
      threads: 2,
      // The KV cache in F32: llama.cpp's default F16 cache would round what sft keeps in F32.
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
    });
    const out: number[] = [];
    // biome-ignore lint/suspicious/noExplicitAny: node-llama-cpp's Token is a branded number
    for await (const t of context.getSequence().evaluate(prompt as any, { temperature: 0 })) {
      out.push(Number(t));
      if (out.length >= NEW_TOKENS) break;
    }
    await context.dispose();
    return { tokens, generated: out };
  } finally {
    await model.dispose();
  }
}

for (const c of FAMILY_CASES) {
  test(`llama.cpp reads the ${c.name} GGUF: tokenization and greedy decoding equal sftkit's`, async (t) => {
    if ("skip" in started) {
      t.skip(started.skip);
      return;
    }
    const name = c.name.split(" ")[0];
    const { dir: modelDir } = randomModelDir(join(dir, name), c.config, c.tokenizerDir, {
      scale: 10,
      f16Exact: true,
    });
    const hf = new Tokenizer(
      JSON.parse(readFileSync(join(c.tokenizerDir, "tokenizer.json"), "utf8")),
      JSON.parse(readFileSync(join(c.tokenizerDir, "tokenizer_config.json"), "utf8")),
    );
    const wantTokens = hf.encode(TEXT, { add_special_tokens: false }).ids;
    const sft = await sftGenerate(modelDir);
    // Quantised agreement is measured (not asserted) on the SentencePiece and one BPE family only: each
    // file costs a llama.cpp load, and the suite runs on small shared machines.
    const types =
      c.pre === null || (c.pre === "llama-bpe" && c.config.architecture === "llama")
        ? ["F32", "F16", "Q8_0", "Q4_0"]
        : ["F32", "F16"];
    for (const type of types) {
      const file = join(dir, `${name}-${type}.gguf`);
      exportModel({ model: modelDir, out: file, format: "gguf", dtype: type });
      const got = await llamaCppGenerate(started.llama, file, sft.prompt, TEXT);
      assert.deepEqual(
        got.tokens,
        wantTokens,
        `${type}: llama.cpp's tokenization of ${JSON.stringify(TEXT)}`,
      );
      const n = sft.response.length;
      let same = 0;
      while (same < n && got.generated[same] === sft.response[same]) same++;
      t.diagnostic(
        `${name} ${type}: ${same}/${n} greedy tokens equal sft generate's before the first difference`,
      );
      if (type === "F32" || type === "F16")
        assert.deepEqual(got.generated.slice(0, n), sft.response, `${type}: greedy tokens`);
    }
  });
}
