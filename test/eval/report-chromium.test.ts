/**
 * The HTML report renders in headless Chromium with no console errors. Chromium is
 * driven over the DevTools protocol (WebSocket via the `ws` package). CI installs Debian's
 * `chromium`; where it is absent outside CI the test is skipped, in CI it fails.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";
import { evalConfigSchema } from "../../src/config/eval.js";
import { writeReport } from "../../src/eval/report/index.js";
import { runEvaluation } from "../../src/eval/runner.js";
import { writeEvalFixture } from "./eval-fixture.js";

const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI)
  throw new Error(`${CHROMIUM} is missing; CI must install Debian's chromium`);

interface PageProblems {
  console: string[];
  exceptions: string[];
  log: string[];
}

class DevToolsPage {
  private nextId = 1;
  private pending = new Map<number, (r: { result?: unknown; error?: { message: string } }) => void>();
  private listeners: ((method: string, params: Record<string, unknown>) => void)[] = [];
  problems: PageProblems = { console: [], exceptions: [], log: [] };

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as {
        id?: number;
        method?: string;
        params?: Record<string, unknown>;
      };
      if (msg.id !== undefined) {
        this.pending.get(msg.id)?.(msg as never);
        this.pending.delete(msg.id);
      } else if (msg.method) {
        const p = msg.params ?? {};
        if (msg.method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(String(p.type)))
          this.problems.console.push(JSON.stringify(p.args));
        if (msg.method === "Runtime.exceptionThrown")
          this.problems.exceptions.push(JSON.stringify(p.exceptionDetails));
        if (msg.method === "Log.entryAdded") {
          const entry = p.entry as { level: string; text: string };
          if (entry.level === "error") this.problems.log.push(entry.text);
        }
        for (const l of this.listeners) l(msg.method, p);
      }
    });
  }

  static async connect(url: string): Promise<DevToolsPage> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new DevToolsPage(ws);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) =>
        r.error ? reject(new Error(r.error.message)) : resolve(r.result as Record<string, unknown>),
      );
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  waitFor(method: string, timeoutMs = 15000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${method}`)), timeoutMs);
      this.listeners.push((m) => {
        if (m === method) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Loads a URL, waits for `load` and a moment for late errors, returns a value computed in the page. */
  async load(url: string, expression: string): Promise<unknown> {
    this.problems = { console: [], exceptions: [], log: [] };
    const loaded = this.waitFor("Page.loadEventFired");
    await this.send("Page.navigate", { url });
    await loaded;
    await new Promise((r) => setTimeout(r, 300));
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    return (r.result as { value: unknown }).value;
  }

  close(): void {
    this.ws.close();
  }
}

describe("HTML report in headless Chromium", {
  skip: available ? false : `${CHROMIUM} not installed`,
}, () => {
  let browser: ChildProcess;
  let page: DevToolsPage;
  let profile: string;
  let dir: string;

  before(async () => {
    profile = mkdtempSync(join(tmpdir(), "sft-chromium-"));
    browser = spawn(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      { stdio: "ignore" },
    );
    // Chromium writes the port it picked into DevToolsActivePort
    const portFile = join(profile, "DevToolsActivePort");
    const deadline = Date.now() + 30000;
    while (!existsSync(portFile) || readFileSync(portFile, "utf8").split("\n").length < 2) {
      if (Date.now() > deadline) throw new Error("chromium did not start its DevTools endpoint");
      await new Promise((r) => setTimeout(r, 100));
    }
    const port = readFileSync(portFile, "utf8").split("\n")[0].trim();
    type Target = { type: string; webSocketDebuggerUrl: string };
    let target: Target | undefined;
    while (!target) {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[];
      target = list.find((t) => t.type === "page");
      if (!target) await new Promise((r) => setTimeout(r, 100));
    }
    page = await DevToolsPage.connect(target.webSocketDebuggerUrl);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.send("Log.enable");

    dir = mkdtempSync(join(tmpdir(), "sft-report-"));
    const fx = writeEvalFixture(dir);
    const config = evalConfigSchema.parse({
      base: { kind: "responses", path: fx.base, name: "base <model>" },
      sft: { kind: "responses", path: fx.sft, name: "sft & co" },
      suites: [fx.suite],
      ifeval: { prompts: fx.ifeval },
    });
    writeReport(await runEvaluation(config, { baseDir: dir }), join(dir, "out"));
  });

  after(() => {
    page?.close();
    browser?.kill("SIGKILL");
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("renders every chart with no console errors, exceptions or failed loads", async () => {
    const html = join(dir, "out", "report.html");
    const info = (await page.load(
      pathToFileURL(html).href,
      `JSON.stringify({
        title: document.title,
        svgs: document.querySelectorAll("svg").length,
        drawn: [...document.querySelectorAll("svg")].filter((s) => s.getBoundingClientRect().width > 100 && s.querySelectorAll("rect").length > 0).length,
        tables: document.querySelectorAll("table").length,
        external: [...document.querySelectorAll("[src],link[href]")].length,
        text: document.body.innerText.slice(0, 4000)
      })`,
    )) as string;
    const v = JSON.parse(info) as {
      title: string;
      svgs: number;
      drawn: number;
      tables: number;
      external: number;
      text: string;
    };
    assert.deepEqual(page.problems, { console: [], exceptions: [], log: [] });
    assert.equal(v.svgs, 4);
    assert.equal(v.drawn, 4);
    assert.ok(v.tables >= 4);
    assert.equal(v.external, 0);
    assert.equal(v.title, "SFT evaluation: sft & co vs base <model>");
    assert.match(v.text, /Best improved task/);
    assert.match(v.text, /Tasks needing attention/);
  });

  it("the harness does catch console errors (control)", async () => {
    const bad = join(dir, "bad.html");
    writeFileSync(
      bad,
      "<!DOCTYPE html><title>x</title><script>console.error('boom'); undefinedFn();</script>",
    );
    await page.load(pathToFileURL(bad).href, "1");
    assert.equal(page.problems.console.length, 1);
    assert.equal(page.problems.exceptions.length, 1);
  });
});
