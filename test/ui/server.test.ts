/** The dashboard server on a real 127.0.0.1 port: the token guard, confinement, the API and the event stream. */
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startUiServer } from "../../src/ui/server.js";

const TOKEN = "t0ken-for-tests";

function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function makeRuns(): { runs: string; outside: string } {
  const root = mkdtempSync(join(tmpdir(), "ui-server-"));
  const runs = join(root, "runs");
  const outside = join(root, "secret-run");
  mkdirSync(join(runs, "a"), { recursive: true });
  writeFileSync(join(runs, "a", "config.yaml"), "model: m.gguf\nmax_steps: 4\n");
  writeFileSync(join(runs, "a", "metrics.jsonl"), `${JSON.stringify({ step: 1, epoch: 0.1, loss: 3.5 })}\n`);
  mkdirSync(outside);
  writeFileSync(join(outside, "config.yaml"), "model: secret.gguf\n");
  writeFileSync(join(outside, "metrics.jsonl"), `${JSON.stringify({ step: 1, loss: 9 })}\n`);
  symlinkSync(outside, join(runs, "escape"));
  return { runs, outside };
}

test("every request needs the token; ?token= sets a cookie and redirects it out of the URL", async () => {
  const { runs } = makeRuns();
  const ui = await startUiServer({ runsDir: runs, port: 0, token: TOKEN });
  try {
    const base = new URL(ui.url).origin;
    assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=t0ken-for-tests$/);
    for (const path of ["/", "/api/runs", "/api/runs/a/metrics", "/api/events"]) {
      assert.equal((await get(base, path)).status, 401, path);
      assert.equal((await get(base, path, { "x-sft-token": "wrong" })).status, 403, path);
    }
    const first = await get(base, `/?token=${TOKEN}`);
    assert.equal(first.status, 302);
    assert.equal(first.headers.location, "/");
    const cookie = String(first.headers["set-cookie"]).split(";")[0];
    assert.match(cookie, /^sft_ui_token=t0ken-for-tests$/);
    const page = await get(base, "/", { cookie });
    assert.equal(page.status, 200);
    assert.match(page.body, /<script>/);
    assert.doesNotMatch(
      page.body,
      /<script src=|https?:\/\/(?!www\.w3\.org)/,
      "the page loads nothing from elsewhere",
    );
    assert.equal((await get(base, "/api/runs", { authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await get(base, "/api/runs", { cookie: "sft_ui_token=wrong" })).status, 403);
  } finally {
    await ui.close();
  }
});

test("run ids are confined to --runs: `..` and symlinks that lead outside are refused", async () => {
  const { runs } = makeRuns();
  const ui = await startUiServer({ runsDir: runs, port: 0, token: TOKEN });
  const h = { "x-sft-token": TOKEN };
  try {
    const base = new URL(ui.url).origin;
    const list = JSON.parse((await get(base, "/api/runs", h)).body) as { runs: { id: string }[] };
    assert.deepEqual(
      list.runs.map((r) => r.id),
      ["a"],
    );
    for (const path of [
      "/api/runs/escape/metrics",
      "/api/runs/escape",
      "/api/runs/%2E%2E/metrics",
      "/api/runs/..%2Fsecret-run/metrics",
      "/api/runs/a%2F..%2F..%2Fsecret-run/metrics",
      "/api/runs/%ZZ/metrics",
    ]) {
      const r = await get(base, path, h);
      assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      assert.doesNotMatch(r.body, /secret\.gguf|"loss":9/);
    }
    const m = JSON.parse((await get(base, "/api/runs/a/metrics", h)).body);
    assert.deepEqual(m.entries, [{ step: 1, epoch: 0.1, loss: 3.5 }]);
    assert.equal(m.offset, Buffer.byteLength(`${JSON.stringify({ step: 1, epoch: 0.1, loss: 3.5 })}\n`));
  } finally {
    await ui.close();
  }
});

test("the event stream sends metric lines as they are appended, a partial line only once complete", async () => {
  const { runs } = makeRuns();
  const ui = await startUiServer({ runsDir: runs, port: 0, token: TOKEN });
  const metrics = join(runs, "a", "metrics.jsonl");
  try {
    const events: { event: string; data: Record<string, unknown> }[] = [];
    let buffered = "";
    let notify = () => {};
    const req = request(`${new URL(ui.url).origin}/api/events`, { headers: { "x-sft-token": TOKEN } });
    req.on("response", (res) => {
      assert.equal(res.headers["content-type"], "text/event-stream; charset=utf-8");
      res.on("data", (c) => {
        buffered += c;
        let cut = buffered.indexOf("\n\n");
        while (cut >= 0) {
          const block = buffered.slice(0, cut);
          buffered = buffered.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
          cut = buffered.indexOf("\n\n");
        }
        notify();
      });
    });
    req.end();
    const until = (ok: () => boolean) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out; events: ${JSON.stringify(events)}`)), 10000);
        notify = () => {
          if (ok()) {
            clearTimeout(t);
            resolve();
          }
        };
        notify();
      });
    await until(() => events.some((e) => e.event === "runs"));
    const metricEvents = () => events.filter((e) => e.event === "metric");
    appendFileSync(metrics, `${JSON.stringify({ step: 2, loss: 3.1 })}\n{"step": 3, "lo`);
    await until(() => metricEvents().length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(metricEvents().length, 1, "the half-written line is not sent");
    appendFileSync(metrics, `ss": 2.9}\n`);
    await until(() => metricEvents().length === 2);
    const [e2, e3] = metricEvents().map((e) => e.data);
    assert.deepEqual(e2.entry, { step: 2, loss: 3.1 });
    assert.deepEqual(e3.entry, { step: 3, loss: 2.9 });
    assert.equal(e2.run, "a");
    assert.ok((e3.offset as number) > (e2.offset as number));
    // a new run directory is announced without any request
    mkdirSync(join(runs, "b"));
    writeFileSync(join(runs, "b", "config.yaml"), "model: m.gguf\n");
    await until(() =>
      events.some((e) => e.event === "runs" && (e.data.runs as { id: string }[]).some((r) => r.id === "b")),
    );
    req.destroy();
  } finally {
    await ui.close();
  }
});
