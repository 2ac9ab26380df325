import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SentencePieceModel, SPM_TOKEN_TYPE } from "../../src/tokenize/spm.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { HF_TOKENIZERS, repoRoot, storiesGguf, tokenizerDir } from "./helpers.js";

const MIXED = "Hello, world! 你好，世界。Emoji: 🦙🚀 tabs\tand  double  spaces\n\nnew paragraph — ok?";

describe("Hugging Face tokenizer directories", () => {
  for (const name of HF_TOKENIZERS) {
    test(`${name}: round-trips mixed text and reads BOS/EOS/PAD from the config`, async () => {
      const tok = await loadTokenizer(tokenizerDir(name));
      const ids = tok.encode(MIXED);
      assert.ok(ids.length > 10);
      assert.equal(tok.decode(ids), MIXED);
      assert.ok(tok.eosTokenId !== undefined && tok.isSpecial(tok.eosTokenId));
      assert.equal(tok.idToToken(tok.eosTokenId!), tok.eosToken);
      const withSpecial = tok.encode("hi", { addSpecialTokens: true });
      if (tok.addBosToken) assert.equal(withSpecial[0], tok.bosTokenId);
      else assert.notEqual(withSpecial[0], tok.bosTokenId);
    });
  }

  test("per-model facts: Qwen3 has no BOS and pads with <|endoftext|>; DeepSeek pads with EOS", async () => {
    const qwen = await loadTokenizer(tokenizerDir("qwen3"));
    assert.equal(qwen.bosTokenId, undefined);
    assert.equal(qwen.eosToken, "<|im_end|>");
    assert.equal(qwen.idToToken(qwen.padTokenId), "<|endoftext|>");
    assert.ok(qwen.chatTemplate?.includes("<think>"));
    const ds = await loadTokenizer(tokenizerDir("deepseek_v3"));
    assert.equal(ds.padTokenId, ds.eosTokenId);
    assert.equal(ds.addBosToken, true, "add_bos_token: true in its config");
    const mistral = await loadTokenizer(tokenizerDir("mistral"));
    assert.equal(mistral.chatTemplate, undefined);
    assert.deepEqual(mistral.encode("Hello world", { addSpecialTokens: true }).slice(0, 1), [1]);
  });

  test("a special token written in text is the special token", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const ids = tok.encode("a<|im_end|>b");
    assert.ok(ids.includes(tok.eosTokenId!));
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "ab");
  });

  test("missing directory and missing tokenizer.json are SftErrors that say how to fix them", async () => {
    await assert.rejects(loadTokenizer("/nonexistent/dir"), /tokenizer not found: \/nonexistent\/dir/);
    await assert.rejects(loadTokenizer(join(repoRoot, "src")), /no tokenizer.json in .*src/);
  });
});

describe("GGUF SentencePiece vocabulary (stories260K)", () => {
  const greedy = JSON.parse(
    readFileSync(join(repoRoot, "test/tokenize/fixtures/stories260K-greedy.json"), "utf8"),
  ) as { ids: number[] };

  test("decodes the model's own greedy ids from BOS into the story, and re-encodes it to the same ids", async () => {
    const tok = await loadTokenizer(storiesGguf);
    assert.equal(tok.kind, "gguf-spm");
    assert.equal(tok.bosTokenId, 1);
    assert.equal(tok.eosTokenId, 2);
    assert.equal(tok.vocabSize, 512);
    const text = tok.decode(greedy.ids, { skipSpecialTokens: true });
    assert.ok(
      text.startsWith(
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
      ),
      text,
    );
    assert.deepEqual(tok.encode(text, { addSpecialTokens: true }), greedy.ids);
  });

  test("byte fallback round-trips text outside the 512-piece vocabulary", async () => {
    const tok = await loadTokenizer(storiesGguf);
    const ids = tok.encode(MIXED);
    const byteTokens = ids.filter((id) => /^<0x[0-9A-F]{2}>$/.test(tok.idToToken(id) ?? ""));
    assert.ok(byteTokens.length > 10, "Chinese and emoji fall back to bytes");
    assert.equal(tok.decode(ids), MIXED);
  });

  test("control tokens in text are recognised; a '▁' prefix starts each run after one", async () => {
    const tok = await loadTokenizer(storiesGguf);
    const ids = tok.encode("hi</s>there");
    assert.ok(ids.includes(2));
    assert.equal(tok.idToToken(ids[0])?.startsWith("▁"), true);
    assert.equal(tok.idToToken(ids[ids.indexOf(2) + 1])?.startsWith("▁"), true);
  });
});

describe("SentencePiece merges", () => {
  // A hand-made vocabulary: merges follow the score of the merged piece, highest first.
  const tokens = [
    "<unk>",
    "<s>",
    "</s>",
    "▁",
    "a",
    "b",
    "c",
    "ab",
    "bc",
    "▁a",
    "▁ab",
    "<0x78>",
    "<0xC3>",
    "<0xA9>",
  ];
  const types = [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, 6, 6];
  const model = (scores: number[]) =>
    new SentencePieceModel({ tokens, scores, tokenTypes: types, unknownId: 0, addSpacePrefix: true });

  test("the higher-scoring merge wins", () => {
    // "abc": with ab > bc it becomes ▁ab + c …
    const s1 = [0, 0, 0, -5, -5, -5, -5, -1, -2, -3, -0.5, 0, 0, 0];
    assert.deepEqual(
      model(s1)
        .encode("abc")
        .map((i) => tokens[i]),
      ["▁ab", "c"],
    );
    // … with bc the best merge, ▁ then a then bc; ▁a merges before ▁+ab is possible.
    const s2 = [0, 0, 0, -5, -5, -5, -5, -3, -1, -2, -0.5, 0, 0, 0];
    assert.deepEqual(
      model(s2)
        .encode("abc")
        .map((i) => tokens[i]),
      ["▁a", "bc"],
    );
  });

  test("characters outside the vocabulary become their UTF-8 bytes, or <unk> without a byte piece", () => {
    const m = model(new Array(tokens.length).fill(0));
    assert.deepEqual(
      m.encode("é").map((i) => tokens[i]),
      ["▁", "<0xC3>", "<0xA9>"],
    );
    assert.equal(m.decode(m.encode("é"), false), "é");
    assert.deepEqual(
      m.encode("z").map((i) => tokens[i]),
      ["▁", "<unk>"],
    );
    assert.equal(SPM_TOKEN_TYPE.byte, 6);
  });
});
