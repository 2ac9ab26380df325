import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SftError } from "../../src/errors.js";
import {
  backoffDelay,
  CachedBackend,
  createLlmBackend,
  LlmStore,
  OpenAiBackend,
  parseRetryAfter,
  RequestLimiter,
  UsageMeter,
} from "../../src/llm/index.js";
import { type Fault, startOpenAiServer } from "../helpers/openai-server.js";

const fastRetry = { maxRetries: 4, baseDelayMs: 10, maxDelayMs: 5000 };

test("chat against a real HTTP server returns the scripted answer, usage and options", async () => {
  const server = await startOpenAiServer({ answer: (b, i) => `echo:${b.messages.at(-1)?.content}:${i}` });
  try {
    const meter = new UsageMeter({ prompt_per_million: 1000, completion_per_million: 2000 });
    const be = new OpenAiBackend({ baseUrl: server.url, model: "m1", retry: fastRetry, meter });
    const r = await be.chat([{ role: "user", content: "hello" }], {
      n: 2,
      temperature: 0.5,
      seed: 7,
      json: true,
      stop: ["\n\n"],
    });
    assert.deepEqual(
      r.choices.map((c) => c.text),
      ["echo:hello:0", "echo:hello:1"],
    );
    const sent = server.log[0].body!;
    assert.equal(sent.model, "m1");
    assert.equal(sent.n, 2);
    assert.equal(sent.seed, 7);
    assert.deepEqual(sent.response_format, { type: "json_object" });
    assert.deepEqual(sent.stop, ["\n\n"]);
    const s = meter.summary();
    assert.equal(s.requests, 1);
    assert.ok(s.prompt_tokens > 0 && s.completion_tokens > 0);
    assert.ok(Math.abs(s.cost - (s.prompt_tokens * 1000 + s.completion_tokens * 2000) / 1e6) < 1e-12);
    // complete() is one user turn on servers that only speak chat
    const c = await be.complete("plain prompt", { max_tokens: 5 });
    assert.equal(c.choices[0].text, "echo:plain prompt:0");
    assert.deepEqual(server.log[1].body!.messages, [{ role: "user", content: "plain prompt" }]);
    assert.equal(server.log[1].body!.max_tokens, 5);
  } finally {
    await server.close();
  }
});

for (const fault of [{ kind: "500" }, { kind: "malformed" }, { kind: "cut" }, { kind: "hang" }] as Fault[]) {
  test(`a ${fault.kind} fault is retried and the call succeeds`, async () => {
    const server = await startOpenAiServer({
      answer: () => "ok",
      fault: (k) => (k <= 2 ? fault : undefined),
    });
    try {
      const meter = new UsageMeter();
      const be = new OpenAiBackend({
        baseUrl: server.url,
        model: "m",
        retry: fastRetry,
        timeoutMs: 300,
        meter,
      });
      const r = await be.chat([{ role: "user", content: "x" }]);
      assert.equal(r.choices[0].text, "ok");
      assert.equal(server.log.length, 3, "two faulty attempts and one good one");
      assert.equal(meter.summary().retries, 2);
    } finally {
      await server.close();
    }
  });
}

test("429 with Retry-After waits at least that long before retrying", async () => {
  const server = await startOpenAiServer({
    answer: () => "ok",
    fault: (k) => (k === 1 ? { kind: "429", retryAfterS: 1 } : undefined),
  });
  try {
    const be = new OpenAiBackend({ baseUrl: server.url, model: "m", retry: fastRetry });
    await be.chat([{ role: "user", content: "x" }]);
    assert.equal(server.log.length, 2);
    const waited = server.log[1].at - server.log[0].at;
    assert.ok(waited >= 950, `waited only ${waited} ms`);
  } finally {
    await server.close();
  }
});

test("gives up with an SftError after max retries; 400 is not retried", async () => {
  const server = await startOpenAiServer({ fault: () => ({ kind: "500" }) });
  try {
    const be = new OpenAiBackend({ baseUrl: server.url, model: "m", retry: { ...fastRetry, maxRetries: 2 } });
    await assert.rejects(be.chat([{ role: "user", content: "x" }]), (e: unknown) => {
      assert.ok(e instanceof SftError);
      assert.match(e.message, /to openai:m@http:\/\/127.0.0.1:\d+\/v1 failed after 3 attempts/);
      return true;
    });
    assert.equal(server.log.length, 3);
  } finally {
    await server.close();
  }
  const bad = await startOpenAiServer({ fault: () => ({ kind: "400" }) });
  try {
    const be = new OpenAiBackend({ baseUrl: bad.url, model: "m", retry: fastRetry });
    await assert.rejects(be.chat([{ role: "user", content: "x" }]), /400/);
    assert.equal(bad.log.length, 1);
  } finally {
    await bad.close();
  }
});

test("the API key comes from the named env var, and a missing one is a clear error", async () => {
  const server = await startOpenAiServer({ answer: () => "ok" });
  try {
    process.env.SFT_TEST_KEY_1 = "sk-secret-123";
    const be = new OpenAiBackend({ baseUrl: server.url, model: "m", apiKeyEnv: "SFT_TEST_KEY_1" });
    await be.chat([{ role: "user", content: "x" }]);
    assert.equal(server.log[0].authorization, "Bearer sk-secret-123");
    // the key is never written: not into the cache/job database, not into errors
    const dir = mkdtempSync(join(tmpdir(), "sft-key-"));
    const store = new LlmStore(join(dir, "s.sqlite"));
    const cached = createLlmBackend(
      {
        base_url: server.url,
        model: "m",
        api_key_env: "SFT_TEST_KEY_1",
        timeout_s: 5,
        max_retries: 0,
        retry_base_ms: 1,
        retry_max_ms: 1,
        concurrency: 1,
      },
      { store },
    );
    await cached.chat([{ role: "user", content: "y" }]);
    store.close();
    for (const f of readdirSync(dir))
      assert.ok(!readFileSync(join(dir, f)).includes("sk-secret-123"), `key found in ${f}`);
    assert.throws(
      () => new OpenAiBackend({ baseUrl: server.url, model: "m", apiKeyEnv: "SFT_TEST_KEY_UNSET_X" }),
      /SFT_TEST_KEY_UNSET_X is not set/,
    );
  } finally {
    await server.close();
  }
});

test("concurrency limit: never more requests in flight than allowed", async () => {
  const server = await startOpenAiServer({ answer: () => "ok", delayMs: 40 });
  try {
    const be = new OpenAiBackend({ baseUrl: server.url, model: "m", limits: { concurrency: 2 } });
    await Promise.all(Array.from({ length: 6 }, (_, i) => be.chat([{ role: "user", content: `q${i}` }])));
    const times = server.log.map((e) => e.at).sort((a, b) => a - b);
    // with 2 at a time and 40 ms each, 6 requests take at least 3 rounds
    assert.ok(times[5] - times[0] >= 70, `requests too close: ${times[5] - times[0]} ms`);
  } finally {
    await server.close();
  }
});

test("requests-per-minute limit holds back requests beyond the budget", async () => {
  let now = 0;
  const limiter = new RequestLimiter({ concurrency: 10, requestsPerMinute: 2 }, () => now);
  const a = await limiter.acquire(1);
  const b = await limiter.acquire(1);
  a.release();
  b.release();
  let third = false;
  const p = limiter.acquire(1).then((s) => {
    third = true;
    s.release();
  });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(third, false, "third request must wait for the window");
  now = 61_000;
  await p;
  assert.equal(third, true);
});

test("tokens-per-minute limit waits until the window has room, using the real usage", async () => {
  let now = 0;
  const limiter = new RequestLimiter({ concurrency: 10, tokensPerMinute: 1000 }, () => now);
  const a = await limiter.acquire(800);
  a.release(300); // the request used less than estimated: the window is corrected
  const b = await limiter.acquire(600);
  b.release(600);
  let third = false;
  const p = limiter.acquire(200).then((s) => {
    third = true;
    s.release();
  });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(third, false, "300 + 600 + 200 > 1000 must wait");
  now = 60_001;
  await p;
  assert.equal(third, true);
});

test("backoff grows exponentially with jitter and Retry-After parses seconds and dates", () => {
  const p = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(
    backoffDelay(0, p, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(0, p, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(3, p, () => 1),
    800,
  );
  assert.equal(
    backoffDelay(10, p, () => 1),
    1000,
  );
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
  assert.equal(parseRetryAfter(undefined), undefined);
});

test("the SQLite cache answers a repeated request without a second HTTP call", async () => {
  const server = await startOpenAiServer({ answer: (b) => `a:${b.messages[0].content}` });
  const dir = mkdtempSync(join(tmpdir(), "sft-llm-"));
  try {
    const store = new LlmStore(join(dir, "state.sqlite"));
    const meter = new UsageMeter();
    const be = createLlmBackend(
      {
        base_url: server.url,
        model: "m",
        timeout_s: 5,
        max_retries: 2,
        retry_base_ms: 10,
        retry_max_ms: 100,
        concurrency: 2,
      },
      { store, meter },
    );
    assert.ok(be instanceof CachedBackend);
    const r1 = await be.chat([{ role: "user", content: "q" }], { temperature: 0 });
    const r2 = await be.chat([{ role: "user", content: "q" }], { temperature: 0 });
    const r3 = await be.chat([{ role: "user", content: "q" }], { temperature: 0.5 });
    assert.equal(r1.choices[0].text, "a:q");
    assert.equal(r2.cached, true);
    assert.equal(r3.cached, undefined);
    assert.equal(server.log.length, 2);
    store.close();
    // a fresh process (new store object on the same file) still hits the cache
    const store2 = new LlmStore(join(dir, "state.sqlite"));
    const be2 = createLlmBackend(
      {
        base_url: server.url,
        model: "m",
        timeout_s: 5,
        max_retries: 2,
        retry_base_ms: 10,
        retry_max_ms: 100,
        concurrency: 2,
      },
      { store: store2, meter },
    );
    assert.equal((await be2.chat([{ role: "user", content: "q" }], { temperature: 0 })).cached, true);
    assert.equal(server.log.length, 2);
    assert.equal(meter.summary().cached_requests, 2);
    store2.close();
  } finally {
    await server.close();
  }
});

test("HTTP 401 and 403 stop at once with the key variable and the endpoint, never retried", async () => {
  for (const kind of ["401", "403"] as const) {
    const server = await startOpenAiServer({ fault: () => ({ kind }) });
    try {
      process.env.SFT_TEST_KEY_AUTH = "sk-wrong";
      const be = new OpenAiBackend({
        baseUrl: server.url,
        model: "m",
        apiKeyEnv: "SFT_TEST_KEY_AUTH",
        retry: { maxRetries: 8, baseDelayMs: 1000, maxDelayMs: 60_000 },
      });
      const t0 = Date.now();
      await assert.rejects(be.chat([{ role: "user", content: "x" }]), (e: unknown) => {
        assert.ok(e instanceof SftError, String(e));
        assert.equal(e.code, "E_LLM_AUTH");
        const what = kind === "401" ? "rejected" : "is not allowed access with";
        assert.match(
          e.message,
          new RegExp(`^HTTP ${kind} from ${server.url}: the server ${what} the API key in SFT_TEST_KEY_AUTH`),
        );
        assert.match(e.hint ?? "", /SFT_TEST_KEY_AUTH holds a valid key/);
        assert.ok(!e.format().includes("sk-wrong"), "the key is never shown");
        return true;
      });
      assert.equal(server.log.length, 1, "no retry");
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      await server.close();
    }
  }
});

test("connection refused: a few quick tries, then 'nothing listens at URL' (not minutes of backoff)", async () => {
  // a port that was just open and is now closed
  const server = await startOpenAiServer();
  const url = server.url;
  await server.close();
  const retries: number[] = [];
  const be = new OpenAiBackend({
    baseUrl: url,
    model: "m",
    retry: { maxRetries: 8, baseDelayMs: 5000, maxDelayMs: 60_000 },
    onRetry: (r) => retries.push(r.delayMs),
  });
  const t0 = Date.now();
  await assert.rejects(be.chat([{ role: "user", content: "x" }]), (e: unknown) => {
    assert.ok(e instanceof SftError, String(e));
    assert.equal(e.code, "E_LLM_UNREACHABLE");
    assert.equal(e.message, `nothing listens at ${url} (connection refused, 3 tries)`);
    assert.equal(e.where.field, "llm.base_url");
    return true;
  });
  assert.deepEqual(retries, [500, 500]);
  assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
});
