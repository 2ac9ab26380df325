/**
 * `sft data build` fails cleanly on what only the user can fix: a bad config (unset key
 * variable, missing taxonomy) before any output folder or state database exists; an HTTP
 * 401/403 at once, naming the key variable and the endpoint; a port where nothing listens
 * after a few quick tries. Real child processes against real 127.0.0.1 servers.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startOpenAiServer } from "../helpers/openai-server.js";
import { spawnSft } from "../helpers/spawn-sft.js";

function config(dir: string, url: string, extra = ""): string {
  const file = join(dir, "build.yaml");
  writeFileSync(
    file,
    `out: data/out.jsonl
seed: 1
llm:
  base_url: ${url}
  model: scripted
  concurrency: 1
  max_retries: 8
  retry_base_ms: 2000
${extra}topics: [astronomy]
per_topic: 2
`,
  );
  return file;
}

const noStack = (err: string) => assert.ok(!/\n\s+at .+:\d+:\d+/.test(err), `stack trace printed:\n${err}`);

test("a config error (unset key variable, missing taxonomy) leaves no output folder or state DB", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-build-config-"));
  const unset = config(dir, "http://127.0.0.1:9/v1", "  api_key_env: SFT_TEST_UNSET_KEY_VAR\n");
  const r = await spawnSft(["data", "build", unset, "--quiet"], dir).done;
  assert.equal(r.code, 1);
  assert.match(r.err, /the API key environment variable SFT_TEST_UNSET_KEY_VAR is not set/);
  assert.equal(existsSync(join(dir, "data")), false, "no output folder");
  writeFileSync(
    join(dir, "build.yaml"),
    `out: data/out.jsonl\nllm: { base_url: "http://127.0.0.1:9/v1", model: m }\ntaxonomy: missing.yaml\ntopics: [a]\n`,
  );
  const t = await spawnSft(["data", "build", join(dir, "build.yaml"), "--quiet"], dir).done;
  assert.equal(t.code, 1);
  assert.match(t.err, /cannot read taxonomy .*missing\.yaml/);
  assert.equal(existsSync(join(dir, "data")), false, "no output folder");
});

test("HTTP 401: one request, a clear error naming the key variable and the endpoint, no stack trace", async () => {
  const server = await startOpenAiServer({ fault: () => ({ kind: "401" }) });
  try {
    const dir = mkdtempSync(join(tmpdir(), "sft-build-401-"));
    const file = config(dir, server.url, "  api_key_env: SFT_TEST_BUILD_KEY\n");
    // the child inherits this environment
    process.env.SFT_TEST_BUILD_KEY = "sk-bad";
    const run = spawnSft(["data", "build", file, "--quiet"], dir);
    delete process.env.SFT_TEST_BUILD_KEY;
    const r = await run.done;
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      new RegExp(
        `HTTP 401 from ${server.url.replace(/[.]/g, "\\.")}: the server rejected the API key in SFT_TEST_BUILD_KEY`,
      ),
    );
    assert.match(r.err, /hint: check that SFT_TEST_BUILD_KEY holds a valid key/);
    assert.ok(!r.err.includes("sk-bad"), "the key is never printed");
    noStack(r.err);
    assert.equal(server.log.length, 1, "stopped at the first 401, no retries");
  } finally {
    await server.close();
  }
});

test("connection refused: 'nothing listens at URL' after a few quick tries, not minutes of backoff", async () => {
  const server = await startOpenAiServer();
  const url = server.url;
  await server.close();
  const dir = mkdtempSync(join(tmpdir(), "sft-build-refused-"));
  const t0 = Date.now();
  const r = await spawnSft(["data", "build", config(dir, url), "--quiet"], dir).done;
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    new RegExp(`nothing listens at ${url.replace(/[.]/g, "\\.")} \\(connection refused, 3 tries\\)`),
  );
  noStack(r.err);
  assert.ok(Date.now() - t0 < 20_000, `${Date.now() - t0} ms`);
});
