/** `sft ui` on the command line: a missing --runs folder, and the printed URL guarding the API. */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { spawnSft } from "../helpers/spawn-sft.js";

test("a missing --runs folder is a clear error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-ui-"));
  const r = await spawnSft(["ui", "--runs", "nowhere"], dir).done;
  assert.equal(r.code, 1);
  assert.match(r.err, /--runs nowhere is not a folder/);
  assert.match(r.err, /mkdir -p nowhere/);
});

test("prints a 127.0.0.1 URL with a token; the API answers it, and 401 without; SIGTERM stops it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-ui-"));
  const ui = spawnSft(["ui", "--runs", dir, "--port", "0"], dir);
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 60000);
    ui.child.stdout?.on("data", (c) => {
      out += c;
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48})\n/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
  });
  const u = new URL(url);
  const token = u.searchParams.get("token") ?? "";
  assert.equal((await fetch(`${u.origin}/api/runs`)).status, 401);
  const ok = await fetch(`${u.origin}/api/runs`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { runs: [] });
  ui.child.kill("SIGTERM");
  const exit = await ui.done;
  assert.equal(exit.code, 0, exit.err);
});
