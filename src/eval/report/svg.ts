/**
 * Minimal inline-SVG charts for the self-contained HTML report: grouped bars and
 * histograms. No scripts, no external assets; every label is escaped.
 */

export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

export interface Series {
  name: string;
  color: string;
  values: number[];
}

const fmt = (x: number) =>
  Number.isInteger(x)
    ? String(x)
    : Math.abs(x) >= 100
      ? x.toFixed(0)
      : Math.abs(x) >= 10
        ? x.toFixed(1)
        : x.toFixed(2);

/** Width a legend entry takes: swatch, label (about 7 px per character at 12 px), gap. */
const entryWidth = (name: string) => 16 + 7 * name.length + 20;

/**
 * Legend rows starting at (x, y), wrapped at `maxWidth`; returns the markup, its width and
 * its height so the chart can be made large enough to show every entry.
 */
function legend(
  series: { name: string; color: string }[],
  x: number,
  y: number,
  maxWidth: number,
): { svg: string; width: number; height: number } {
  let at = x;
  let row = 0;
  let widest = 0;
  const parts = series.map((s) => {
    const w = entryWidth(s.name);
    if (at > x && at - x + w > maxWidth) {
      at = x;
      row++;
    }
    const yy = y + row * 18;
    const entry = `<g class="legend-entry"><rect x="${at}" y="${yy}" width="12" height="12" fill="${s.color}"/><text x="${at + 16}" y="${yy + 11}" font-size="12">${esc(s.name)}</text></g>`;
    at += w;
    widest = Math.max(widest, at - x - 20);
    return entry;
  });
  return { svg: parts.join(""), width: widest, height: (row + 1) * 18 };
}

/**
 * Axis ticks for counts: whole numbers in steps of 1, 2 or 5 × 10^k, at most five steps,
 * ending at or above `max`, so no label repeats and every bar height reads true against
 * the ticks.
 */
export function countTicks(max: number): number[] {
  const m = Math.max(1, Math.ceil(max));
  let step = 1;
  for (let k = 1; ; k *= 10) {
    const s = [1, 2, 5].map((f) => f * k).find((c) => m / c <= 5);
    if (s !== undefined) {
      step = s;
      break;
    }
  }
  const top = step * Math.ceil(m / step);
  return Array.from({ length: top / step + 1 }, (_, i) => i * step);
}

/** Grouped vertical bars: one group per category, one bar per series. */
export function groupedBarChart(opts: {
  title: string;
  categories: string[];
  series: Series[];
  yMin?: number;
  yMax?: number;
  height?: number;
}): string {
  const { categories, series } = opts;
  const all = series.flatMap((s) => s.values);
  const yMax = opts.yMax ?? Math.max(1e-9, ...all);
  const yMin = opts.yMin ?? Math.min(0, ...all);
  const groupW = Math.max(60, 24 * series.length + 24);
  const left = 50;
  const top = 30;
  const plotH = opts.height ?? 220;
  const plotW = groupW * Math.max(1, categories.length);
  // the legend wraps at the plot's width but never below 320 px, and widens the chart if needed
  const leg = legend(series, left, top + plotH + 36, Math.max(320, plotW));
  const width = Math.max(left + plotW + 20, left + leg.width + 10);
  const height = top + plotH + 36 + leg.height + 16;
  const y = (v: number) => top + plotH - ((v - yMin) / (yMax - yMin || 1)) * plotH;
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = yMin + ((yMax - yMin) * t) / 4;
    parts.push(
      `<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  const barW = (groupW - 24) / series.length;
  categories.forEach((c, ci) => {
    const gx = left + ci * groupW + 12;
    series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const y0 = y(Math.max(0, yMin));
      const y1 = y(v);
      parts.push(
        `<rect x="${gx + si * barW}" y="${Math.min(y0, y1)}" width="${barW - 2}" height="${Math.max(0.5, Math.abs(y0 - y1))}" fill="${s.color}"><title>${esc(`${c} — ${s.name}: ${fmt(v)}`)}</title></rect>`,
      );
    });
    const label = c.length > 14 ? `${c.slice(0, 13)}…` : c;
    parts.push(
      `<text x="${gx + (groupW - 24) / 2}" y="${top + plotH + 16}" font-size="11" text-anchor="middle">${esc(label)}</text>`,
    );
  });
  parts.push(leg.svg);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${esc(opts.title)}</title>${parts.join("")}</svg>`;
}

/** Bin edges shared by several histograms. */
export function binEdges(values: number[], bins: number, lo?: number, hi?: number): number[] {
  const min = lo ?? Math.min(...values, 0);
  let max = hi ?? Math.max(...values, 1);
  if (max <= min) max = min + 1;
  return Array.from({ length: bins + 1 }, (_, i) => min + ((max - min) * i) / bins);
}

/** At most `bins` bins of one whole-number width from 0 past the largest value. */
export function lengthEdges(values: number[], bins: number): number[] {
  const max = Math.max(1, ...values);
  const width = Math.max(1, Math.ceil((Math.floor(max) + 1) / bins));
  const n = Math.max(1, Math.ceil((Math.floor(max) + 1) / width));
  return Array.from({ length: n + 1 }, (_, i) => i * width);
}

export function binCounts(values: number[], edges: number[]): number[] {
  const counts = new Array(edges.length - 1).fill(0);
  for (const v of values) {
    let i = edges.findIndex((e, k) => k < edges.length - 1 && v >= e && v < edges[k + 1]);
    if (i === -1) i = v >= edges[edges.length - 1] ? edges.length - 2 : 0;
    counts[i]++;
  }
  return counts;
}

/** Histogram(s) over shared bins; several series are drawn side by side within each bin. */
export function histogram(opts: {
  title: string;
  series: Series[];
  edges: number[];
  xLabel: string;
}): string {
  const { series, edges } = opts;
  const counts = series.map((s) => binCounts(s.values, edges));
  const ticks = countTicks(Math.max(...counts.flat(), 1));
  const maxC = ticks[ticks.length - 1];
  const left = 45;
  const top = 20;
  const plotH = 180;
  const binW = Math.max(16, Math.min(40, 640 / (edges.length - 1)));
  const plotW = binW * (edges.length - 1);
  const leg = legend(series, left, top + plotH + 45, Math.max(320, plotW));
  const width = Math.max(left + plotW + 20, left + leg.width + 10);
  const height = top + plotH + 45 + leg.height + 12;
  const parts: string[] = [];
  for (const v of ticks) {
    const yy = top + plotH - (v / maxC) * plotH;
    parts.push(
      `<line x1="${left}" x2="${width - 10}" y1="${yy}" y2="${yy}" stroke="#eee"/><text class="y-tick" x="${left - 6}" y="${yy + 4}" font-size="11" text-anchor="end">${v}</text>`,
    );
  }
  const w = (binW - 2) / series.length;
  for (let b = 0; b < edges.length - 1; b++) {
    series.forEach((s, si) => {
      const c = counts[si][b];
      const h = (c / maxC) * plotH;
      parts.push(
        `<rect class="bar" data-count="${c}" x="${left + b * binW + si * w}" y="${top + plotH - h}" width="${Math.max(1, w - 1)}" height="${h}" fill="${s.color}"><title>${esc(`${s.name}: ${c} in [${fmt(edges[b])}, ${fmt(edges[b + 1])})`)}</title></rect>`,
      );
    });
  }
  const step = Math.max(1, Math.ceil((edges.length - 1) / 8));
  for (let b = 0; b < edges.length; b += step) {
    parts.push(
      `<text x="${left + b * binW}" y="${top + plotH + 15}" font-size="10" text-anchor="middle">${fmt(edges[b])}</text>`,
    );
  }
  parts.push(
    `<text x="${left + (binW * (edges.length - 1)) / 2}" y="${top + plotH + 32}" font-size="11" text-anchor="middle">${esc(opts.xLabel)}</text>`,
  );
  parts.push(leg.svg);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${esc(opts.title)}</title>${parts.join("")}</svg>`;
}
