/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core):
 * a short `sft train` on stories260K writes into --runs while the page is open, and the loss
 * chart gains points live from the event stream, next to an earlier run. Screenshots at 1280
 * and 390 px go to a temporary folder (printed), never into the repository.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chromium, type Page } from "playwright-core";
import { startUiServer } from "../../../src/ui/server.js";
import { spawnSft } from "../../helpers/spawn-sft.js";
import { STORIES_GGUF, writeInstructionSet } from "../../train/instruction-set.js";

const CHROMIUM = "/usr/bin/chromium";

const points = (page: Page, metric: string, run: string) =>
  page
    .locator(`.chart[data-metric="${metric}"] path[data-run="${run}"]`)
    .getAttribute("data-points", { timeout: 1000 })
    .then(Number)
    .catch(() => 0);

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 120000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("the loss chart of a running `sft train` gains points live; two runs share a chart", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`,
  timeout: 600000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "ui-browser-"));
  const runs = join(dir, "runs");
  mkdirSync(runs);
  const data = writeInstructionSet(dir, "qa.json", 24);
  const trainArgs = (name: string, steps: number) => [
    "train",
    "--model",
    STORIES_GGUF,
    "--data",
    data,
    "--out",
    join(runs, name),
    "--max-steps",
    String(steps),
    "--logging-steps",
    "1",
    "--batch-size",
    "2",
    "--save-steps",
    "1000",
  ];
  const earlier = await spawnSft(trainArgs("earlier", 4), dir).done;
  assert.equal(earlier.code, 0, earlier.err);

  const ui = await startUiServer({ runsDir: runs, port: 0 });
  const shots = mkdtempSync(join(tmpdir(), "sft-ui-shots-"));
  // a fresh profile each time, so nothing from an earlier run of the browser leaks in
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "ui-chromium-")), {
    executablePath: CHROMIUM,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const problems: string[] = [];
  try {
    const page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    page.on("requestfailed", (r) => {
      // the event stream is cut when the page closes; anything else failing is a fault
      if (!r.url().endsWith("/api/events")) problems.push(`request failed: ${r.url()}`);
    });
    await page.goto(ui.url);
    assert.doesNotMatch(page.url(), /token=/, "the token leaves the address bar");
    await page.locator("#status", { hasText: "live" }).waitFor();
    await waitFor(
      "the earlier run's 4 loss points",
      async () => (await points(page, "loss", "earlier")) === 4,
    );

    const live = spawnSft(trainArgs("live", 40), dir);
    const row = page.locator('.run[data-run="live"]');
    await row.locator(".state", { hasText: "running" }).waitFor({ timeout: 120000 });
    await waitFor("a first live loss point", async () => (await points(page, "loss", "live")) >= 1);
    const first = await points(page, "loss", "live");
    await waitFor("more live loss points", async () => (await points(page, "loss", "live")) > first + 2);
    const later = await points(page, "loss", "live");
    const stateMeanwhile = await row.locator(".state").textContent();
    const exit = await live.done;
    assert.equal(exit.code, 0, exit.err);
    // points arrived while the trainer was still writing, not only at its end
    assert.ok(later < 40, `only ${later} of 40 points were on the chart before the run ended`);
    assert.equal(stateMeanwhile, "running");
    await row.locator(".state", { hasText: "finished" }).waitFor({ timeout: 30000 });
    await waitFor("all 40 live loss points", async () => (await points(page, "loss", "live")) === 40);
    const lines = readFileSync(join(runs, "live", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n");
    assert.equal(lines.filter((l) => "loss" in JSON.parse(l)).length, 40);
    for (const metric of ["learning_rate", "grad_norm", "tokens_per_second"]) {
      assert.equal(await points(page, metric, "live"), 40, metric);
      assert.equal(await points(page, metric, "earlier"), 4, metric);
    }
    await page.screenshot({ path: join(shots, "dashboard-1280.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(shots, "dashboard-390.png"), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
    process.stdout.write(`# screenshots: ${shots}\n`);
  } finally {
    await context.close();
    await ui.close();
  }
  assert.deepEqual(problems, []);
});
