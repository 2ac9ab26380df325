/**
 * One job per dataset output: while `sft data build` writes out.jsonl, a second build or an
 * augment into the same output is refused (real processes), naming the holder; nothing of
 * the first job's output, rejects or state is touched by them.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { lockPathFor } from "../../../src/data/build/output-lock.js";
import { startOpenAiServer } from "../../helpers/openai-server.js";
import { spawnSft } from "../../helpers/spawn-sft.js";

test("a second data build or augment into an output in use is refused with the holder's pid", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-build-lock-"));
  const server = await startOpenAiServer({ delayMs: 20 });
  try {
    const out = join(dir, "out.jsonl");
    const config = join(dir, "build.yaml");
    writeFileSync(
      config,
      `out: out.jsonl\nseed: 3\nllm:\n  base_url: ${server.url}\n  model: scripted\n  concurrency: 1\ntopics: [chess, tea]\nper_topic: 3\n`,
    );
    writeFileSync(
      join(dir, "in.jsonl"),
      `${JSON.stringify({ instruction: "Say hi.", output: "Hi there." })}\n`,
    );
    writeFileSync(
      join(dir, "aug.yaml"),
      "in: in.jsonl\nout: out.jsonl\nmultiplier: 2\nmethods: { paraphrase: 0, difficulty: 0, context: 0, format: 1 }\n",
    );
    const first = spawnSft(["data", "build", config, "--quiet"], dir);
    while (server.answered() < 1) {
      assert.equal(first.child.exitCode, null, "the first build ended early");
      await new Promise((r) => setTimeout(r, 5));
    }
    // paused while the others start, so it surely still holds the output
    first.child.kill("SIGSTOP");
    const holder = JSON.parse(readFileSync(lockPathFor(out), "utf8")) as { pid: number; since: string };
    assert.equal(holder.pid, first.child.pid);
    const state = join(dir, "out.state.sqlite");
    const stateBefore = statSync(state).mtimeMs;
    const [build, augment] = await Promise.all([
      spawnSft(["data", "build", config, "--quiet"], dir).done,
      spawnSft(["data", "augment", join(dir, "aug.yaml"), "--quiet"], dir).done,
    ]);
    for (const [r, name] of [
      [build, "build"],
      [augment, "augment"],
    ] as const) {
      assert.equal(r.code, 1, `${name}: ${r.err}`);
      assert.match(
        r.err,
        new RegExp(
          `output .*out\\.jsonl is in use: pid ${first.child.pid} \\(sft data build\\) has held it since ${holder.since}`,
        ),
        name,
      );
    }
    assert.equal(statSync(state).mtimeMs, stateBefore, "the refused jobs did not open the state database");
    first.child.kill("SIGCONT");
    const done = await first.done;
    assert.equal(done.code, 0, done.err);
    assert.equal(existsSync(lockPathFor(out)), false, "released at the end");
    const rows = readFileSync(out, "utf8").trim().split("\n");
    assert.ok(rows.length > 0);
    for (const row of rows) assert.ok((JSON.parse(row) as { id?: string }).id, "every row whole");
  } finally {
    await server.close();
  }
});
