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
import { SAMPLES, writeEvalFixture } from "./eval-fixture.js";

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
    // a single-task report: the narrowest per-task chart, where the legend used to be cut off
    const one = join(dir, "one-task.jsonl");
    writeFileSync(
      one,
      SAMPLES.filter((x) => x.row.task === "math")
        .map((x) => JSON.stringify(x.row))
        .join("\n"),
    );
    const oneConfig = evalConfigSchema.parse({
      base: { kind: "responses", path: fx.base, name: "base" },
      sft: { kind: "responses", path: fx.sft, name: "sft" },
      suites: [one],
    });
    writeReport(await runEvaluation(oneConfig, { baseDir: dir }), join(dir, "one"));
  });

  after(async () => {
    page?.close();
    if (browser && browser.exitCode === null) {
      // wait for it to exit: it writes into its profile until then
      const exited = new Promise((r) => browser.once("exit", r));
      browser.kill("SIGKILL");
      await exited;
    }
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

  /**
   * Measures every chart in the page: text boxes against their chart's box, and for each
   * chart the y-axis labels (right-anchored texts) with their positions and the bars whose
   * tooltip gives a count.
   */
  const MEASURE = `JSON.stringify({
    innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    charts: [...document.querySelectorAll("svg")].map((svg) => {
      const box = svg.getBoundingClientRect();
      const scale = box.width / svg.viewBox.baseVal.width;
      const texts = [...svg.querySelectorAll("text")].map((t) => {
        const r = t.getBoundingClientRect();
        return { text: t.textContent, left: r.left - box.left, right: r.right - box.left, top: r.top - box.top, bottom: r.bottom - box.top };
      });
      const ticks = [...svg.querySelectorAll('text[text-anchor="end"]')].map((t) => ({ v: Number(t.textContent), y: Number(t.getAttribute("y")) - 4 }));
      const bars = [...svg.querySelectorAll("rect")].flatMap((r) => {
        const m = /: (\\d+) in \\[/.exec(r.querySelector("title")?.textContent ?? "");
        return m ? [{ count: Number(m[1]), y: Number(r.getAttribute("y")), h: Number(r.getAttribute("height")) }] : [];
      });
      return { title: svg.querySelector("title").textContent, width: box.width, height: box.height, scale, texts, ticks, bars };
    }),
  })`;

  interface Chart {
    title: string;
    width: number;
    height: number;
    texts: { text: string; left: number; right: number; top: number; bottom: number }[];
    ticks: { v: number; y: number }[];
    bars: { count: number; y: number; h: number }[];
  }

  function checkCharts(charts: Chart[], where: string): void {
    for (const c of charts) {
      for (const t of c.texts) {
        const inside = t.left >= -1 && t.right <= c.width + 1 && t.top >= -1 && t.bottom <= c.height + 1;
        assert.ok(
          inside,
          `${where}: "${t.text}" is drawn outside the chart "${c.title}" (${c.width}px wide): ${JSON.stringify(t)}`,
        );
      }
      // y labels: distinct, increasing upwards, and each at the height its value says
      const ticks = [...c.ticks].sort((a, b) => b.y - a.y);
      const values = ticks.map((t) => t.v);
      assert.equal(new Set(values).size, values.length, `${where}: "${c.title}" repeats y labels ${values}`);
      assert.deepEqual(
        values,
        [...values].sort((a, b) => a - b),
        `${where}: "${c.title}" y labels ${values}`,
      );
      if (!c.bars.length) continue;
      const zero = ticks[0];
      assert.equal(zero.v, 0);
      const top = ticks.at(-1)!;
      const perUnit = (zero.y - top.y) / (top.v - zero.v);
      for (const t of ticks)
        assert.ok(
          Math.abs(zero.y - t.y - t.v * perUnit) < 0.01,
          `${where}: "${c.title}" label ${t.v} is off its height`,
        );
      for (const b of c.bars)
        assert.ok(
          Math.abs(b.h - b.count * perUnit) < 0.01,
          `${where}: "${c.title}" bar of ${b.count} is ${b.h / perUnit} high`,
        );
    }
  }

  for (const width of [1280, 390]) {
    it(`at ${width} px: the legends name both models, labels fit, axes read true`, async () => {
      await page.send("Emulation.setDeviceMetricsOverride", {
        width,
        height: 900,
        deviceScaleFactor: 1,
        mobile: width < 600,
      });
      try {
        for (const report of ["out", "one"]) {
          const html = join(dir, report, "report.html");
          const v = JSON.parse((await page.load(pathToFileURL(html).href, MEASURE)) as string) as {
            innerWidth: number;
            scrollWidth: number;
            charts: Chart[];
          };
          assert.deepEqual(page.problems, { console: [], exceptions: [], log: [] });
          assert.equal(v.innerWidth, width);
          assert.ok(v.scrollWidth <= width, `${report} at ${width}: page is ${v.scrollWidth}px wide`);
          const perTask = v.charts.find((c) => c.title.startsWith("Score per task"))!;
          const names = perTask.texts.map((t) => t.text);
          const [b, s] =
            report === "out" ? ["base (base <model>)", "SFT (sft & co)"] : ["base (base)", "SFT (sft)"];
          assert.ok(names.includes(b) && names.includes(s), `${report}: legend ${names}`);
          const lengths = v.charts.find((c) => c.title.startsWith("Response length"))!;
          assert.ok(
            lengths.bars.some((x) => x.count === 1),
            "the fixture has a length bin holding one response",
          );
          checkCharts(v.charts, `${report} at ${width}px`);
          const shots = process.env.SFT_REPORT_SCREENSHOTS;
          if (shots) {
            const shot = await page.send("Page.captureScreenshot", {
              format: "png",
              captureBeyondViewport: true,
            });
            writeFileSync(join(shots, `${report}-${width}.png`), Buffer.from(String(shot.data), "base64"));
          }
        }
      } finally {
        await page.send("Emulation.clearDeviceMetricsOverride");
      }
    });
  }

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
