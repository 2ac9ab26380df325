/**
 * Crash safety: `sft data build` is started as a child process, SIGKILLed after some rows
 * are cached, and restarted; the result must equal an uninterrupted run byte for byte, with
 * no row lost or duplicated and (almost) no request paid twice.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { LlmStore } from "../../../src/llm/index.js";
import { type RunningServer, startOpenAiServer } from "../../helpers/openai-server.js";
import { spawnSft } from "../../helpers/spawn-sft.js";

const seeds = resolve(new URL("../../../../shared/data/seeds", import.meta.url).pathname);

function spawnBuild(config: string, cwd: string) {
  return spawnSft(["data", "build", config, "--quiet"], cwd);
}

function writeConfig(dir: string, url: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "build.yaml");
  writeFileSync(
    file,
    `out: out.jsonl
seed: 11
llm:
  base_url: ${url}
  model: scripted
  concurrency: 2
  retry_base_ms: 20
${body}`,
  );
  return file;
}

async function killAfter(server: RunningServer, answered: number, config: string, cwd: string) {
  const run = spawnBuild(config, cwd);
  const start = server.answered();
  while (server.answered() - start < answered) {
    if (run.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  run.child.kill("SIGKILL");
  const r = await run.done;
  assert.equal(r.signal, "SIGKILL", "the child must be killed mid-way, not finish first");
}

for (const [mode, body, killAt] of [
  ["topics", "topics: [astronomy, cooking, chess]\nper_topic: 3\n", 30],
  [
    "self-instruct",
    `mode: self-instruct\nself_instruct:\n  seed_tasks: ${join(seeds, "alpaca_seed_tasks.jsonl")}\n  num_instructions: 24\n  batch_size: 6\n`,
    22,
  ],
] as const) {
  test(`${mode}: a build SIGKILLed mid-way and restarted equals an uninterrupted build`, async () => {
    const root = mkdtempSync(join(tmpdir(), "sft-resume-"));
    const server = await startOpenAiServer({ delayMs: 25 });
    try {
      const killedDir = join(root, "killed");
      const cfgKilled = writeConfig(killedDir, server.url, body);
      await killAfter(server, killAt, cfgKilled, killedDir);
      assert.equal(existsSync(join(killedDir, "out.jsonl")), false, "no output before the job finishes");
      const store = new LlmStore(join(killedDir, "out.state.sqlite"));
      const cachedAtKill = store.cacheSize();
      store.close();
      assert.ok(cachedAtKill >= killAt - 2, `only ${cachedAtKill} answers cached`);

      const before = server.log.length;
      const resumed = await spawnBuild(cfgKilled, killedDir).done;
      assert.equal(resumed.code, 0, resumed.err);
      const resumedRequests = server.log.length - before;
      const summary = JSON.parse(resumed.out) as {
        resumed: number;
        written: number;
        rejected: number;
        usage: { requests: number };
      };
      // accounting is per job: the killed run's paid requests are counted too
      assert.ok(
        summary.usage.requests > resumedRequests &&
          summary.usage.requests <= resumedRequests + cachedAtKill + 2,
        `job usage ${summary.usage.requests}, this run ${resumedRequests}, cached ${cachedAtKill}`,
      );

      const freshDir = join(root, "fresh");
      const cfgFresh = writeConfig(freshDir, server.url, body);
      const before2 = server.log.length;
      const fresh = await spawnBuild(cfgFresh, freshDir).done;
      assert.equal(fresh.code, 0, fresh.err);
      const freshRequests = server.log.length - before2;

      const a = readFileSync(join(killedDir, "out.jsonl"), "utf8");
      const b = readFileSync(join(freshDir, "out.jsonl"), "utf8");
      assert.equal(a, b, "resumed output differs from the uninterrupted one");
      assert.equal(
        readFileSync(join(killedDir, "out.rejects.jsonl"), "utf8"),
        readFileSync(join(freshDir, "out.rejects.jsonl"), "utf8"),
      );
      const ids = a
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).id as string);
      assert.equal(new Set(ids).size, ids.length, "duplicate rows");
      if (mode === "topics") {
        assert.equal(summary.written + summary.rejected, 36);
        assert.ok(summary.resumed > 0, "the restarted job must skip the slots already done");
      } else assert.equal(summary.written, 24);
      // the cached answers were not paid for again: the resumed run made about
      // (fresh − cached) requests; at most the two in flight at the kill are repeated
      assert.ok(
        resumedRequests <= freshRequests - cachedAtKill + 2,
        `resumed run made ${resumedRequests} requests; fresh ${freshRequests}, cached ${cachedAtKill}`,
      );
    } finally {
      await server.close();
    }
  });
}

test("augment: SIGKILLed mid-way and restarted equals an uninterrupted run", async () => {
  const root = mkdtempSync(join(tmpdir(), "sft-aug-resume-"));
  const server = await startOpenAiServer({ delayMs: 25 });
  const alpaca = JSON.parse(readFileSync(resolve(seeds, "../sft/alpaca_en_demo.json"), "utf8")) as Array<{
    instruction: string;
    input: string;
    output: string;
  }>;
  const parents = alpaca.slice(0, 20).map((r, i) => ({
    id: `a${i}`,
    messages: [
      { role: "user", content: r.input ? `${r.instruction}\n\n${r.input}` : r.instruction },
      { role: "assistant", content: r.output },
    ],
    meta: { source: "alpaca_en_demo" },
  }));
  const setup = (name: string) => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "in.jsonl"), parents.map((p) => JSON.stringify(p)).join("\n") + "\n");
    writeFileSync(
      join(dir, "aug.yaml"),
      `in: in.jsonl\nout: out.jsonl\nseed: 4\nmultiplier: 3\nllm:\n  base_url: ${server.url}\n  model: scripted\n  concurrency: 2\n`,
    );
    return dir;
  };
  const spawnAugment = (dir: string) => spawnSft(["data", "augment", "aug.yaml", "--quiet"], dir);
  try {
    const killed = setup("killed");
    const run = spawnAugment(killed);
    const start = server.answered();
    while (server.answered() - start < 25 && run.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 5));
    run.child.kill("SIGKILL");
    assert.equal((await run.done).signal, "SIGKILL");
    assert.equal(existsSync(join(killed, "out.jsonl")), false);
    assert.equal((await spawnAugment(killed).done).code, 0);
    const fresh = setup("fresh");
    assert.equal((await spawnAugment(fresh).done).code, 0);
    const a = readFileSync(join(killed, "out.jsonl"), "utf8");
    assert.equal(a, readFileSync(join(fresh, "out.jsonl"), "utf8"));
    const rows = a
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; meta: { parent?: string } });
    assert.equal(rows.length, 60);
    assert.equal(new Set(rows.map((r) => r.id)).size, 60);
    assert.equal(rows.filter((r) => r.meta.parent).length, 40);
  } finally {
    await server.close();
  }
});
