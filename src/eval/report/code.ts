/**
 * The report's code-evaluation blocks: pass@k (per task and overall, base vs fine-tuned) and
 * what the code sandbox could not isolate on the machine that ran the evaluation.
 */
import type { EvalResult } from "../runner.js";
import { esc } from "./svg.js";

const val = (x: number | null | undefined) => (x === null || x === undefined ? "n/a" : x.toFixed(3));

export function passAtKBlock(r: EvalResult): string {
  const p = r.pass_at_k;
  if (!p) return "";
  const head = ["task", "problems", ...p.k.flatMap((k) => [`base pass@${k}`, `SFT pass@${k}`])];
  const row = (
    name: string,
    problems: number,
    base: Record<string, number | null>,
    sft: Record<string, number | null>,
  ) =>
    `<tr><td>${esc(name)}</td><td>${problems}</td>${p.k
      .map((k) => `<td>${val(base[`pass@${k}`])}</td><td>${val(sft[`pass@${k}`])}</td>`)
      .join("")}</tr>`;
  return `<h2>pass@k (${p.n} samples per prompt, seed ${p.seed})</h2>
<p>Unbiased estimator of Chen et al. (2021) per problem, averaged over problems.</p>
<table class="pass-at-k"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>
${p.tasks.map((t) => row(t.task, t.problems, t.base, t.sft)).join("\n")}
${row("all", r.overall.n, p.overall.base, p.overall.sft)}
</tbody></table>`;
}

export function sandboxBlock(r: EvalResult): string {
  if (!r.sandbox?.gaps.length) return "";
  return `<p class="attention">Code sandbox on this machine: ${r.sandbox.gaps.map(esc).join("; ")}.</p>`;
}
