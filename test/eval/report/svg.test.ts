import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countTicks, groupedBarChart, histogram, lengthEdges } from "../../../src/eval/report/svg.js";

const viewBoxWidth = (svg: string) => Number(/viewBox="0 0 ([\d.]+) /.exec(svg)?.[1]);

describe("report charts", () => {
  it("count axes step in whole 1/2/5 × 10^k units without repeats", () => {
    assert.deepEqual(countTicks(1), [0, 1]);
    assert.deepEqual(countTicks(2), [0, 1, 2]);
    assert.deepEqual(countTicks(5), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(countTicks(6), [0, 2, 4, 6]);
    assert.deepEqual(countTicks(11), [0, 5, 10, 15]);
    assert.deepEqual(countTicks(240), [0, 50, 100, 150, 200, 250]);
    for (let m = 1; m < 500; m++) {
      const t = countTicks(m);
      assert.ok(t.at(-1)! >= m && t.length <= 6 && new Set(t).size === t.length, `${m}: ${t}`);
    }
  });

  it("a histogram bar of count 1 is exactly as high as the label 1", () => {
    const svg = histogram({
      title: "t",
      series: [{ name: "s", color: "#000", values: [0.5, 1.5, 1.6, 2.5, 2.6, 2.7, 2.8, 2.9] }],
      edges: [0, 1, 2, 3],
      xLabel: "x",
    });
    const zero = Number(/y="([\d.]+)" font-size="11" text-anchor="end">0</.exec(svg)?.[1]) - 4;
    const one = Number(/y="([\d.]+)" font-size="11" text-anchor="end">1</.exec(svg)?.[1]) - 4;
    const bar = /data-count="1"[^>]*height="([\d.]+)"/.exec(svg);
    assert.ok(bar);
    assert.ok(Math.abs(Number(bar[1]) - (zero - one)) < 1e-9, `${bar[1]} vs ${zero - one}`);
  });

  it("a one-category chart is wide enough for every legend entry", () => {
    const svg = groupedBarChart({
      title: "t",
      categories: ["math"],
      series: [
        { name: "base (SmolLM2-135M-Instruct)", color: "#111", values: [0.2] },
        { name: "SFT (SmolLM2-135M-Instruct + adapter)", color: "#222", values: [0.9] },
      ],
    });
    const width = viewBoxWidth(svg);
    for (const m of svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" font-size="12">([^<]*)</g)) {
      const right = Number(m[1]) + 7 * m[2].length;
      assert.ok(right <= width, `legend "${m[2]}" ends at ${right}, chart is ${width} wide`);
    }
    assert.match(svg, /SFT \(SmolLM2-135M-Instruct \+ adapter\)/);
  });

  it("length bins have one whole-number width and cover the longest answer", () => {
    assert.deepEqual(lengthEdges([0, 3, 7], 16), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const e = lengthEdges([5, 100, 431.5], 16);
    const w = e[1] - e[0];
    assert.ok(Number.isInteger(w) && e.length <= 17 && e.at(-1)! > 431.5, String(e));
    assert.ok(e.every((x, i) => x === i * w));
  });
});
