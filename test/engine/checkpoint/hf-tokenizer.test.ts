import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { readGgufTokenizer } from "../../../src/engine/checkpoint/gguf.js";
import { convertToHfDir, loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import { hfTokenizerFromGguf } from "../../../src/engine/checkpoint/hf-tokenizer.js";
import { spmEncode } from "../../helpers/spm-encode.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const shared = resolve(repoRoot, "../shared");
const storiesGguf = join(shared, "models/stories260K/stories260K.gguf");
const asset = join(repoRoot, "assets/models/stories260K");
const dir = mkdtempSync(join(tmpdir(), "sft-tok-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function sampleTexts(): string[] {
  const shakespeare = readFileSync(join(shared, "data/corpus/tinyshakespeare.txt"), "utf8");
  const poems = readFileSync(join(shared, "data/corpus/fortunes-zh-tang300.txt"), "utf8");
  const texts = [
    "Once upon a time, there was a little girl named Lily.",
    "",
    " leading space",
    "two  spaces and\ttab\nnewline",
    "héllo wörld 🙂 naïve café",
    'Lily\'s dog said: "Woof!" (3 times)',
  ];
  for (let i = 0; i < 20; i++) texts.push(shakespeare.slice(i * 997, i * 997 + 300));
  for (let i = 0; i < 5; i++) texts.push(poems.slice(i * 301, i * 301 + 80));
  return texts;
}

test("tokenizer.json built from the GGUF vocabulary encodes exactly like SentencePiece and decodes back", () => {
  const info = readGgufTokenizer(storiesGguf)!;
  const files = hfTokenizerFromGguf(info);
  const hf = new Tokenizer(files.tokenizer, files.tokenizerConfig);
  let tokens = 0;
  for (const text of sampleTexts()) {
    const want = spmEncode(info, text);
    const got = hf.encode(text, { add_special_tokens: false }).ids;
    assert.deepEqual(got, want, JSON.stringify(text.slice(0, 60)));
    if (got.length > 0) assert.equal(hf.decode(got, { skip_special_tokens: true }), text);
    tokens += got.length;
  }
  assert.ok(tokens > 1000);
  // With special tokens: BOS only, as llama's SentencePiece setup.
  assert.deepEqual(hf.encode("Once").ids, [1, ...spmEncode(info, "Once")]);
  assert.equal(files.tokenizerConfig.bos_token, "<s>");
  assert.equal(files.tokenizerConfig.eos_token, "</s>");
  assert.equal(files.tokenizerConfig.add_bos_token, true);
});

test("the built-in stories260K asset is exactly what converting the GGUF produces, and loads", () => {
  const fresh = join(dir, "stories260K");
  convertToHfDir(storiesGguf, fresh, { dtype: "F32" });
  for (const name of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
    assert.ok(
      readFileSync(join(asset, name)).equals(readFileSync(join(fresh, name))),
      `${name} differs from a fresh conversion`,
    );
  }
  assert.ok(readFileSync(join(asset, "stories260K.gguf")).equals(readFileSync(storiesGguf)));
  assert.match(readFileSync(join(asset, "LICENSE"), "utf8"), /MIT License/);
  const fromDir = loadCheckpoint(asset);
  const fromGguf = loadCheckpoint(storiesGguf);
  assert.deepEqual(fromDir.config, fromGguf.config);
  assert.equal(fromDir.tensors.size, 48);
  for (const [name, t] of fromGguf.tensors) assert.deepEqual(fromDir.tensors.get(name)?.data, t.data, name);
  const json = JSON.parse(readFileSync(join(asset, "tokenizer.json"), "utf8"));
  const hf = new Tokenizer(json, JSON.parse(readFileSync(join(asset, "tokenizer_config.json"), "utf8")));
  assert.equal(hf.decode([1, 403, 407, 261, 378, 432], { skip_special_tokens: true }), "Once upon a time,");
});
