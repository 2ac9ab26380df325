/**
 * Over-long samples (max_seq_length): truncate_response (the default, as TRL) keeps the prompt
 * and cuts the response; keep_whole_turns cuts after the last whole trained turn; drop rejects.
 * A record whose prompt fills the limit is rejected in every mode. Truncated samples pass the
 * pre-flight checks: a cut response trains on what it keeps and has no end token.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SftRecord } from "../../src/record/record.js";
import {
  IGNORE_INDEX,
  SampleRejectedError,
  tokenizeRecord,
  tryTokenizeRecord,
} from "../../src/tokenize/mask.js";
import { preflight } from "../../src/tokenize/preflight.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { alpacaRecords, tokenizerDir } from "./helpers.js";

const conv: SftRecord = {
  id: "c",
  messages: [
    { role: "user", content: "Name a fruit." },
    { role: "assistant", content: "An apple." },
    { role: "user", content: "Describe it at length." },
    {
      role: "assistant",
      content: "It is round, red or green, crisp and sweet, and grows on trees in orchards.",
    },
  ],
  meta: { source: "test" },
};

const trained = (s: { labels: number[] }) => s.labels.filter((l) => l !== IGNORE_INDEX).length;

describe("truncation modes", () => {
  test("default truncate_response: the second reply is cut at the limit, without an end token", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const full = tokenizeRecord(conv, tok, { chatTemplate: true });
    const max = full.inputIds.length - 6;
    const s = tokenizeRecord(conv, tok, { chatTemplate: true, maxSeqLength: max });
    assert.equal(s.inputIds.length, max);
    assert.deepEqual(s.inputIds, full.inputIds.slice(0, max));
    assert.match(
      s.truncation ?? "",
      /^response of message 3 cut: \d+ tokens to \d+ \(max_seq_length\); its end token is not trained$/,
    );
    // The first reply keeps its end token; the cut one trains on what is left of it.
    assert.equal(trained(s), trained(full) - 5);
    assert.notEqual(tok.decode(s.inputIds.slice(-1)), "<|im_end|>");
    const r = await preflight([conv], tok, { chatTemplate: true, maxSeqLength: max });
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.equal(r.truncated.length, 1);
  });

  test("keep_whole_turns ends after the first reply; drop rejects the record", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const full = tokenizeRecord(conv, tok, { chatTemplate: true });
    const max = full.inputIds.length - 6;
    const whole = tokenizeRecord(conv, tok, {
      chatTemplate: true,
      maxSeqLength: max,
      truncation: "keep_whole_turns",
    });
    assert.equal(tok.decode(whole.inputIds.slice(-1)), "<|im_end|>");
    assert.match(whole.truncation ?? "", /1 later trained turn\(s\) dropped/);
    const dropped = tryTokenizeRecord(conv, tok, {
      chatTemplate: true,
      maxSeqLength: max,
      truncation: "drop",
    });
    assert.equal(dropped.ok, false);
    assert.ok(!dropped.ok);
    assert.equal(dropped.kind, "too-long");
    assert.equal(
      dropped.reason,
      `${full.inputIds.length} tokens, longer than max_seq_length ${max} (truncation: drop)`,
    );
    // keep_whole_turns with no whole trained turn that fits rejects instead of cutting.
    const firstReply = full.spans[0].start;
    assert.ok(full.spans[0].end > firstReply + 2);
    assert.throws(
      () =>
        tokenizeRecord(conv, tok, {
          chatTemplate: true,
          maxSeqLength: firstReply + 2,
          truncation: "keep_whole_turns",
        }),
      (e: unknown) =>
        e instanceof SampleRejectedError &&
        e.kind === "too-long" &&
        /first trained turn ends at token/.test(e.reason),
    );
  });

  test("a prompt that fills the limit leaves nothing to train: rejected as too long in every mode", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    for (const truncation of ["truncate_response", "keep_whole_turns", "drop"] as const) {
      const r = tryTokenizeRecord(conv, tok, { chatTemplate: true, maxSeqLength: 4, truncation });
      assert.ok(!r.ok);
      assert.equal(r.kind, "too-long", truncation);
    }
  });

  test("the Alpaca demo at 128 tokens (Llama 3): most long samples are truncated, not dropped, and all pass pre-flight", async () => {
    const tok = await loadTokenizer(tokenizerDir("llama3"));
    const data = alpacaRecords("alpaca_en_demo.json", 200);
    const r = await preflight(data, tok, { chatTemplate: true, maxSeqLength: 128 });
    assert.equal(r.ok, true, JSON.stringify(r.failures.slice(0, 3)));
    assert.ok(r.truncated.length > 50, `${r.truncated.length} truncated`);
    assert.ok(r.dropped.length < 10, `${r.dropped.length} dropped`);
    assert.equal(r.samples + r.dropped.length, 200);
    const old = await preflight(data, tok, { chatTemplate: true, maxSeqLength: 128, truncation: "drop" });
    assert.equal(old.dropped.length, r.truncated.length + r.dropped.length);
  });
});
