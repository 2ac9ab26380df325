/// <reference lib="dom" />
/**
 * The dashboard script (runs in the browser, bundled by esbuild): the runs list and one SVG
 * chart per metric with a line per run, fed by the server's event stream. Metric lines are
 * fetched once per run; afterwards only the stream adds to them (no polling).
 */

interface RunSummary {
  id: string;
  state: string;
  config: Record<string, unknown> | null;
  global_step: number | null;
  max_steps: number | null;
  last: Record<string, unknown> | null;
  updated: string | null;
}
type Entry = Record<string, unknown>;
interface Series {
  entries: Entry[];
  /** bytes of metrics.jsonl already held; stream events at or before it are duplicates */
  offset: number;
  loaded: boolean;
}

const METRICS: { key: string; title: string }[] = [
  { key: "loss", title: "train loss" },
  { key: "eval_loss", title: "eval loss" },
  { key: "learning_rate", title: "learning rate" },
  { key: "grad_norm", title: "grad norm" },
  { key: "tokens_per_second", title: "tokens/s" },
];
const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#e16f24", "#57606a"];

const runs = new Map<string, RunSummary>();
const series = new Map<string, Series>();
const shown = new Set<string>();
const colorOf = new Map<string, string>();

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v: unknown): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "–";
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/** Seconds left from the pace of the logged steps so far; undefined when it cannot be known. */
function eta(id: string): number | undefined {
  const r = runs.get(id);
  const s = series.get(id);
  if (r?.state !== "running" || !r.max_steps || !s) return undefined;
  const timed = s.entries.filter((e) => typeof e.step === "number" && typeof e.time === "string");
  if (timed.length < 2) return undefined;
  const a = timed[0];
  const b = timed[timed.length - 1];
  const steps = (b.step as number) - (a.step as number);
  const secs = (Date.parse(b.time as string) - Date.parse(a.time as string)) / 1000;
  if (steps <= 0 || !(secs > 0)) return undefined;
  return ((r.max_steps - (b.step as number)) * secs) / steps;
}

function renderRuns(): void {
  const box = $("runs");
  box.replaceChildren();
  if (runs.size === 0) {
    box.append(el("div", "empty-list", "No runs yet: `sft train --out <runs folder>/<name>` starts one."));
    return;
  }
  for (const r of runs.values()) {
    const row = el("label", "run");
    row.dataset.run = r.id;
    const check = el("input");
    check.type = "checkbox";
    check.checked = shown.has(r.id);
    check.addEventListener("change", () => {
      if (check.checked) shown.add(r.id);
      else shown.delete(r.id);
      renderCharts();
    });
    const name = el("span", "name");
    const sw = el("span", "swatch");
    sw.style.background = colorOf.get(r.id) ?? "#999";
    name.append(sw, document.createTextNode(r.id));
    const state = el("span", `state ${r.state}`, r.state);
    const c = r.config ?? {};
    const step = r.global_step === null ? "–" : String(r.global_step);
    const left = eta(r.id);
    const parts = [
      `step ${step}${r.max_steps ? `/${r.max_steps}` : ""}`,
      `loss ${fmt(r.last?.loss)}`,
      typeof c.finetuning_type === "string" ? c.finetuning_type : "",
      typeof c.model === "string" ? c.model.split("/").slice(-2).join("/") : "",
      left === undefined ? "" : `ETA ${Math.round(left)} s`,
    ].filter(Boolean);
    row.append(check, name, state, el("span", "meta", parts.join(" · ")));
    box.append(row);
  }
}

function chart(key: string, title: string): HTMLElement {
  const box = el("div", "chart");
  box.dataset.metric = key;
  box.append(el("h3", undefined, title));
  const lines: { id: string; pts: [number, number][] }[] = [];
  for (const id of shown) {
    const s = series.get(id);
    if (!s) continue;
    const pts: [number, number][] = [];
    for (const e of s.entries) {
      const x = e.step;
      const y = e[key];
      if (typeof x === "number" && typeof y === "number" && Number.isFinite(y)) pts.push([x, y]);
    }
    if (pts.length) lines.push({ id, pts });
  }
  if (!lines.length) {
    box.append(el("div", "empty", `no ${key} logged (yet)`));
    return box;
  }
  const W = 320;
  const H = 180;
  const L = 44;
  const B = 20;
  const all = lines.flatMap((l) => l.pts);
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - 6);
  const sy = (y: number) => 6 + (1 - (y - y0) / (y1 - y0)) * (H - B - 6);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  const add = (tag: string, attrs: Record<string, string | number>, text?: string) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    add("line", { x1: L, x2: W - 6, y1: sy(y), y2: sy(y), class: "grid" });
    add("text", { x: L - 4, y: sy(y) + 3, "text-anchor": "end", class: "axis" }, fmt(y));
  }
  add("text", { x: L, y: H - 6, class: "axis" }, `step ${fmt(x0)}`);
  add("text", { x: W - 6, y: H - 6, "text-anchor": "end", class: "axis" }, fmt(x1));
  for (const l of lines) {
    const d = l.pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
    const path = add("path", { d, fill: "none", stroke: colorOf.get(l.id) ?? "#999", "stroke-width": 1.6 });
    path.setAttribute("data-run", l.id);
    path.setAttribute("data-points", String(l.pts.length));
    if (l.pts.length === 1)
      add("circle", { cx: sx(l.pts[0][0]), cy: sy(l.pts[0][1]), r: 2.5, fill: colorOf.get(l.id) ?? "#999" });
  }
  box.append(svg);
  return box;
}

/** The fixed charts, plus one per task for multi-task runs (`eval_<task>_loss`). */
function renderCharts(): void {
  const tasks = new Set<string>();
  for (const id of shown)
    for (const e of series.get(id)?.entries ?? [])
      for (const k of Object.keys(e)) if (/^eval_.+_loss$/.test(k)) tasks.add(k);
  const extra = [...tasks].sort().map((k) => ({ key: k, title: `eval loss: ${k.slice(5, -5)}` }));
  $("charts").replaceChildren(...[...METRICS, ...extra].map((m) => chart(m.key, m.title)));
}

let pending = false;
/** Coalesces redraws: many metric lines can arrive in one burst. */
function redraw(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    renderRuns();
    renderCharts();
  });
}

async function load(id: string): Promise<void> {
  const res = await fetch(`/api/runs/${encodeURIComponent(id)}/metrics`);
  if (!res.ok) throw new Error(`GET metrics of ${id}: HTTP ${res.status}`);
  const body = (await res.json()) as { entries: Entry[]; offset: number };
  const s = series.get(id);
  if (!s) return;
  // events that came while this was in flight and lie past the file read are kept
  s.entries = body.entries.concat(
    s.entries.filter((e) => ((e as { __end?: number }).__end ?? 0) > body.offset),
  );
  s.offset = Math.max(s.offset, body.offset);
  s.loaded = true;
  redraw();
}

function setRuns(list: RunSummary[]): void {
  runs.clear();
  for (const r of list) {
    runs.set(r.id, r);
    if (!colorOf.has(r.id)) colorOf.set(r.id, COLORS[colorOf.size % COLORS.length]);
    if (!series.has(r.id)) {
      series.set(r.id, { entries: [], offset: 0, loaded: false });
      shown.add(r.id);
      void load(r.id).catch(report);
    }
  }
  redraw();
}

function report(e: unknown): void {
  $("status").textContent = `error: ${(e as Error).message ?? String(e)}`;
}

function connect(): void {
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => {
    $("status").textContent = "live";
  });
  es.addEventListener("error", () => {
    $("status").textContent = "reconnecting…";
  });
  es.addEventListener("runs", (ev) =>
    setRuns((JSON.parse((ev as MessageEvent).data) as { runs: RunSummary[] }).runs),
  );
  es.addEventListener("metric", (ev) => {
    const m = JSON.parse((ev as MessageEvent).data) as { run: string; offset: number; entry: Entry };
    const s = series.get(m.run);
    if (!s || m.offset <= s.offset) return;
    if (s.loaded) s.offset = m.offset;
    s.entries.push({ ...m.entry, __end: m.offset });
    const r = runs.get(m.run);
    if (r) {
      r.last = m.entry;
      if (typeof m.entry.step === "number") r.global_step = Math.max(r.global_step ?? 0, m.entry.step);
    }
    redraw();
  });
  es.addEventListener("reset", (ev) => {
    const { run } = JSON.parse((ev as MessageEvent).data) as { run: string };
    series.set(run, { entries: [], offset: 0, loaded: false });
    void load(run).catch(report);
  });
}

renderRuns();
renderCharts();
connect();
