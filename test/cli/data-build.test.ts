/**
 * `sft data build` fails cleanly on what only the user can fix: a bad config (unset key
 * variable, missing taxonomy) before any output folder or state database exists; an HTTP
 * 401/403 at once, naming the key variable and the endpoint; a port where nothing listens
 * after a few quick tries. Real child processes against real 127.0.0.1 servers.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
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

const SEEDS = new URL("../../../shared/data/seeds/alpaca_seed_tasks.jsonl", import.meta.url).pathname;

function selfInstructConfig(dir: string, url: string, extra: string, price = ""): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "build.yaml");
  writeFileSync(
    file,
    `out: data/out.jsonl
seed: 1
llm: { base_url: "${url}", model: scripted, concurrency: 1, max_retries: 0${price} }
mode: self-instruct
self_instruct: { seed_tasks: "${SEEDS}", num_instructions: 5, batch_size: 2, max_rounds: 50 }
${extra}`,
  );
  return file;
}

// a proposer that keeps repeating one seed task (ROUGE-L rejects every copy) after its first idea
const repetitive = () =>
  startOpenAiServer({
    answer: (body) => {
      if (!body.messages[0].content.includes("Come up with a new task")) return "A complete answer about it.";
      return "Instruction: Is there anything I can eat for a breakfast that doesn't include eggs, yet includes protein?";
    },
  });

test("budget.max_requests stops self-instruct: no request past the budget, exit 3, progress with rejects by reason", async () => {
  const server = await repetitive();
  try {
    const dir = mkdtempSync(join(tmpdir(), "sft-build-budget-"));
    const file = selfInstructConfig(dir, server.url, "budget: { max_requests: 7 }\n");
    const r = await spawnSft(["data", "build", file], dir).done;
    assert.equal(r.code, 3, r.err);
    assert.equal(server.log.length, 7, "exactly the budget was sent");
    assert.match(r.err, /built 0 of 5 rows: budget\.max_requests 7 reached \(7 requests sent\)/);
    assert.match(r.err, /propose: 0\/5; kept 0; rejects rouge-l \d+; requests \d+; ETA/);
    const result = JSON.parse(r.out.trim().split("\n").at(-1)!);
    assert.equal(result.target, 5);
    assert.match(result.stopped_by, /max_requests/);
    assert.ok(result.rejected >= 6, "every judged proposal is in the rejects file");
    // rerun with the same budget: cached answers are free, so it goes 7 requests further
    const again = await spawnSft(["data", "build", file, "--quiet"], dir).done;
    assert.equal(again.code, 3, again.err);
    assert.equal(server.log.length, 14);
  } finally {
    await server.close();
  }
});

test("a self-instruct shortfall after max_rounds exits 3 with the count; max_tokens and max_cost stop a build", async () => {
  const server = await repetitive();
  try {
    const dir = mkdtempSync(join(tmpdir(), "sft-build-short-"));
    const file = join(dir, "build.yaml");
    writeFileSync(
      file,
      `out: data/out.jsonl
llm: { base_url: "${server.url}", model: scripted, concurrency: 1, max_retries: 0 }
mode: self-instruct
self_instruct: { seed_tasks: "${SEEDS}", num_instructions: 3, batch_size: 2, max_rounds: 3 }
`,
    );
    const r = await spawnSft(["data", "build", file, "--quiet"], dir).done;
    assert.equal(r.code, 3, r.err);
    assert.match(
      r.err,
      /built 0 of 3 rows: max_rounds 3 reached with 0 of 3 instructions kept \(6 proposals\)/,
    );
    assert.equal(server.log.length, 6);

    // the scripted server reports usage per request: a token budget ends the build
    const t = join(dir, "t");
    const tokens = selfInstructConfig(t, server.url, "budget: { max_tokens: 1 }\n");
    const before = server.log.length;
    const rt = await spawnSft(["data", "build", tokens, "--quiet"], t).done;
    assert.equal(rt.code, 3, rt.err);
    assert.match(rt.err, /budget\.max_tokens 1 reached/);
    // the first answer spent it; only the requests already in flight (2 slots at concurrency 1) were sent
    assert.ok(server.log.length - before <= 2, String(server.log.length - before));

    const c = join(dir, "c");
    const cost = selfInstructConfig(
      c,
      server.url,
      "budget: { max_cost: 0.000001 }\n",
      ", price: { prompt_per_million: 1, completion_per_million: 1 }",
    );
    const rc = await spawnSft(["data", "build", cost, "--quiet"], c).done;
    assert.equal(rc.code, 3, rc.err);
    assert.match(rc.err, /budget\.max_cost 0\.000001 reached/);
  } finally {
    await server.close();
  }
});

test("max_cost without a price is a config error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-build-cost-"));
  const file = selfInstructConfig(dir, "http://127.0.0.1:9/v1", "budget: { max_cost: 1 }\n");
  const r = await spawnSft(["data", "build", file, "--quiet"], dir).done;
  assert.equal(r.code, 1);
  assert.match(r.err, /max_cost needs llm\.price/);
});
