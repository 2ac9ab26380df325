/**
 * The self-contained HTML report: inline CSS and inline SVG, no scripts, no external
 * assets, so it opens from disk, in mail, or in CI artifacts alike.
 */
import type { EvalResult, SampleResult } from "../runner.js";
import { passAtKBlock, sandboxBlock } from "./code.js";
import { binEdges, esc, groupedBarChart, histogram, lengthEdges } from "./svg.js";

const BASE = "#8da0cb";
const SFT = "#fc8d62";
const MAX_SAMPLE_ROWS = 300;

const f3 = (x: number) => x.toFixed(3);
const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;

function table(headers: string[], rows: (string | number)[][], cls = ""): string {
  return `<table class="${cls}"><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${typeof c === "number" ? esc(f3(c)) : c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

function sampleRow(s: SampleResult): string {
  const cls = s.improvement > 0 ? "up" : s.improvement < 0 ? "down" : "";
  return `<tr class="${cls}"><td>${esc(s.id)}</td><td>${esc(s.task)}</td><td>${esc(s.checker)}</td><td>${f3(s.base.score)}</td><td>${f3(s.sft.score)}</td><td>${signed(s.improvement)}</td><td><details><summary>${esc(s.prompt.slice(0, 80))}${s.prompt.length > 80 ? "…" : ""}</summary><p><b>Prompt</b></p><pre>${esc(s.prompt)}</pre>${s.expected !== undefined ? `<p><b>Expected</b></p><pre>${esc(typeof s.expected === "string" ? s.expected : JSON.stringify(s.expected))}</pre>` : ""}<p><b>Base</b> ${esc(s.base.detail ?? "")}</p><pre>${esc(s.base.response)}</pre><p><b>SFT</b> ${esc(s.sft.detail ?? "")}</p><pre>${esc(s.sft.response)}</pre></details></td></tr>`;
}

export function renderReportHtml(r: EvalResult): string {
  const tasks = r.tasks;
  const taskChart = groupedBarChart({
    title: "Score per task: base vs fine-tuned",
    categories: tasks.map((t) => t.task),
    series: [
      { name: `base (${r.models.base})`, color: BASE, values: tasks.map((t) => t.base.score) },
      { name: `SFT (${r.models.sft})`, color: SFT, values: tasks.map((t) => t.sft.score) },
    ],
    yMin: 0,
    yMax: 1,
  });
  const improvements = r.samples.map((s) => s.improvement);
  const improvementChart = histogram({
    title: "Distribution of per-sample improvement (SFT − base)",
    series: [{ name: "samples", color: SFT, values: improvements }],
    edges: binEdges(improvements, 20, -1, 1),
    xLabel: "improvement in task score",
  });
  const lengths = r.samples.flatMap((s) => [s.base.length, s.sft.length]);
  const lengthChart = histogram({
    title: "Response length distribution (word units)",
    series: [
      { name: "base", color: BASE, values: r.samples.map((s) => s.base.length) },
      { name: "SFT", color: SFT, values: r.samples.map((s) => s.sft.length) },
    ],
    // whole-number bin widths, so the axis reads 0, 5, 10, … rather than 0, 0.63, 1.3, …
    edges: lengthEdges(lengths, 16),
    xLabel: "length (words + CJK characters / 1.5)",
  });
  const parts = ["format", "relevance", "completeness", "quality"] as const;
  const ifChart = groupedBarChart({
    title: "Instruction-following score parts",
    categories: [...parts, "weighted IF"],
    series: [
      {
        name: "base",
        color: BASE,
        values: [...parts.map((p) => r.format.base.if_parts[p]), r.overall.base.if_score],
      },
      {
        name: "SFT",
        color: SFT,
        values: [...parts.map((p) => r.format.sft.if_parts[p]), r.overall.sft.if_score],
      },
    ],
    yMin: 0,
    yMax: 1,
  });
  const taskRows = tasks.map((t) => [
    esc(t.task),
    String(t.n),
    t.base.score,
    t.sft.score,
    `<span class="${t.improvement < 0 ? "neg" : "pos"}">${signed(t.improvement)}</span>`,
    pct(t.base.pass_rate),
    pct(t.sft.pass_rate),
    t.base.if_score,
    t.sft.if_score,
    t.needs_attention ? '<span class="flag">needs attention</span>' : "",
  ]);
  const fmtRows = (["structure", "length", "style", "fluency"] as const).map((k) => [
    esc(k),
    r.format.base[k] === null ? "n/a" : f3(r.format.base[k] as number),
    r.format.sft[k] === null ? "n/a" : f3(r.format.sft[k] as number),
  ]);
  const ifevalBlock = r.ifeval
    ? `<h2>IFEval (${r.ifeval.n} prompts)</h2>${table(
        ["accuracy", "base", "SFT"],
        (["prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"] as const).map((k) => [
          esc(k),
          pct(r.ifeval!.base[k]),
          pct(r.ifeval!.sft[k]),
        ]),
      )}`
    : "";
  const judgeBlock = r.judge
    ? `<h2>Pairwise judge (${esc(r.judge.judge)})</h2>${table(
        ["measure", "value"],
        [
          ["prompts judged (both orders)", `${r.judge.judged} of ${r.judge.pairs.length}`],
          ["SFT wins / ties / losses", `${r.judge.wins} / ${r.judge.ties} / ${r.judge.losses}`],
          ["win rate (ties count half)", pct(r.judge.win_rate)],
          ["length-controlled win rate", pct(r.judge.length_controlled_win_rate)],
          ["verdicts changed by answer order", pct(r.judge.position_inconsistency)],
          [
            "unparsed verdicts (left out of the rates)",
            `${r.judge.unparsed_verdicts} of ${r.judge.total_verdicts}`,
          ],
        ],
      )}`
    : "";
  const best = r.best_task
    ? `<p class="best">Best improved task: <b>${esc(r.best_task.task)}</b> (${signed(r.best_task.improvement)})</p>`
    : "";
  const attention = r.attention_tasks.length
    ? `<p class="attention">Tasks needing attention (improvement &lt; ${esc(r.attention_threshold)}): ${r.attention_tasks
        .map((t) => `<b>${esc(t.task)}</b> (${signed(t.improvement)})`)
        .join(", ")}</p>`
    : `<p>No task improved by less than ${esc(r.attention_threshold)}.</p>`;
  const shown = r.samples.slice(0, MAX_SAMPLE_ROWS);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SFT evaluation: ${esc(r.models.sft)} vs ${esc(r.models.base)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem;display:block;max-width:100%;overflow-x:auto}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f6}.pos{color:#1a7f37}.neg{color:#cf222e}.flag{color:#9a6700;font-weight:600}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:150px}
.card .v{font-size:1.4rem;font-weight:600}.best{color:#1a7f37}.attention{color:#9a6700}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f8f8f8;padding:.4rem;max-height:20rem;overflow:auto}
tr.up td:nth-child(6){color:#1a7f37}tr.down td:nth-child(6){color:#cf222e}svg{max-width:100%;height:auto}
</style>
</head>
<body>
<h1>SFT evaluation report</h1>
<p>Base: <b>${esc(r.models.base)}</b> · Fine-tuned: <b>${esc(r.models.sft)}</b> · ${r.overall.n} samples in ${tasks.length} tasks · ${esc(r.created_at)}</p>
<div class="cards">
<div class="card"><div>task score (base → SFT)</div><div class="v">${f3(r.overall.base.score)} → ${f3(r.overall.sft.score)}</div></div>
<div class="card"><div>improvement</div><div class="v ${r.overall.improvement < 0 ? "neg" : "pos"}">${signed(r.overall.improvement)}</div></div>
<div class="card"><div>weighted IF score</div><div class="v">${f3(r.overall.base.if_score)} → ${f3(r.overall.sft.if_score)}</div></div>
<div class="card"><div>samples improved / regressed</div><div class="v">${r.overall.samples_improved} / ${r.overall.samples_regressed}</div></div>
</div>
${best}
${attention}
<h2>Suggestions</h2>
<ul>${r.suggestions.map((s) => `<li>${esc(s)}</li>`).join("")}</ul>
<h2>Per-task scores</h2>
${taskChart}
${table(["task", "n", "base", "SFT", "improvement", "base pass", "SFT pass", "base IF", "SFT IF", ""], taskRows)}
<h2>Improvement distribution</h2>
${improvementChart}
<h2>Response lengths</h2>
<p>Mean length: base ${r.overall.base.mean_length.toFixed(1)}, SFT ${r.overall.sft.mean_length.toFixed(1)} word units.</p>
${lengthChart}
<h2>Instruction following and format</h2>
<p>Weighted IF score = 0.3·format + 0.4·relevance + 0.2·completeness + 0.1·quality.</p>
${ifChart}
${table(["format measure", "base", "SFT"], fmtRows)}
${ifevalBlock}
${judgeBlock}
${passAtKBlock(r)}
${sandboxBlock(r)}
<h2>Samples${r.samples.length > shown.length ? ` (first ${shown.length} of ${r.samples.length}; all are in report.json)` : ""}</h2>
<table class="samples"><thead><tr><th>id</th><th>task</th><th>checker</th><th>base</th><th>SFT</th><th>Δ</th><th>prompt and answers</th></tr></thead><tbody>
${shown.map(sampleRow).join("\n")}
</tbody></table>
</body>
</html>
`;
}
