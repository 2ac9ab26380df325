/**
 * Pairwise judging of base vs fine-tuned answers through any LlmBackend.
 *
 * Each prompt is judged twice, once with the base answer shown first and once with the
 * fine-tuned answer first, so a judge that favours a position cancels out. The judge
 * answers `[[A]]`, `[[B]]` or `[[C]]` (tie). Per order the fine-tuned answer scores 1
 * (win), 0.5 (tie) or 0 (loss); a prompt's outcome is the mean of its two orders, so a
 * verdict that flips with the order is a tie.
 *
 * A reply with no verdict in it is "unparsed": it is not a tie and counts for nothing. A
 * prompt's outcome is the mean of its parsed orders; with none parsed the prompt has no
 * outcome and is left out of every rate. Unparsed verdicts are counted, and when more than
 * half of all verdicts are unparsed the judge is unusable: judging fails, quoting the first
 * raw replies, instead of reporting a rate computed from a few (or no) verdicts.
 *
 * Raw win rate = mean outcome over prompts with an outcome (ties count half); null when no
 * prompt has one.
 *
 * Length-controlled win rate: judges prefer longer answers, so the win rate is also given
 * at equal length. A logistic model outcome ≈ σ(α + β·d) is fitted over all judged orders,
 * with d = tanh((len_sft − len_base) / s) the length difference in word units scaled by s,
 * the standard deviation of the differences (tanh bounds the influence of outliers). It is
 * fitted by Newton's method with a small ridge penalty on β; the length-controlled win
 * rate is σ(α), the predicted win rate when both answers are equally long. When all
 * lengths are equal it equals the raw rate.
 */
import { SftError } from "../errors.js";
import type { LlmBackend } from "../llm/types.js";
import { countLength } from "../text/tokenize.js";

export type Verdict = "sft" | "base" | "tie" | "unparsed";

export interface JudgedPair {
  id: string;
  /** verdict with the base answer shown as A */
  baseFirst: Verdict;
  /** verdict with the fine-tuned answer shown as A */
  sftFirst: Verdict;
  /** 1 win, 0.5 tie, 0 loss for the fine-tuned model, averaged over the parsed orders; null when neither parsed */
  outcome: number | null;
  lengthBase: number;
  lengthSft: number;
  unparsed: number;
  /** the raw replies that held no verdict, in order (base-first, then sft-first) */
  unparsed_replies?: string[];
}

export interface JudgeSummary {
  judge: string;
  pairs: JudgedPair[];
  wins: number;
  ties: number;
  losses: number;
  /** prompts with at least one parsed verdict: the denominator of the win rates */
  judged: number;
  win_rate: number | null;
  length_controlled_win_rate: number | null;
  /** fitted coefficient of the length difference (positive: the judge likes longer answers) */
  length_coefficient: number;
  /** share of prompts, among those with both orders parsed, whose two verdicts disagreed; null when none */
  position_inconsistency: number | null;
  unparsed_verdicts: number;
  /** all single-order verdicts asked (2 per prompt) */
  total_verdicts: number;
}

const SYSTEM = `You are an impartial judge of AI assistant answers. Compare two answers to the same user request on helpfulness, correctness, relevance, completeness and how well they follow the request's instructions. Do not let the order of the answers or their length influence you. Explain briefly, then give your verdict on the last line as exactly one of: [[A]] if answer A is better, [[B]] if answer B is better, [[C]] for a tie.`;

export function judgePrompt(question: string, answerA: string, answerB: string): string {
  return `[User request]\n${question}\n\n[Answer A]\n${answerA}\n[End of answer A]\n\n[Answer B]\n${answerB}\n[End of answer B]`;
}

/** The last [[A]] / [[B]] / [[C]] in the judge's reply; null when there is none. */
export function parseVerdict(reply: string): "A" | "B" | "C" | null {
  const all = [...reply.matchAll(/\[\[\s*([ABC])\s*\]\]/gi)];
  if (all.length) return all[all.length - 1][1].toUpperCase() as "A" | "B" | "C";
  const m = /(?:verdict|winner|better answer)\s*(?:is|:)?\s*\**\s*(?:answer\s+)?([AB]|tie)\b/i.exec(reply);
  if (!m) return null;
  return m[1].toLowerCase() === "tie" ? "C" : (m[1].toUpperCase() as "A" | "B");
}

function score(v: Exclude<Verdict, "unparsed">): number {
  return v === "sft" ? 1 : v === "tie" ? 0.5 : 0;
}

/** A prompt's outcome: the mean score of its parsed orders, null when neither parsed. */
export function pairOutcome(baseFirst: Verdict, sftFirst: Verdict): number | null {
  const parsed = [baseFirst, sftFirst].filter((v): v is Exclude<Verdict, "unparsed"> => v !== "unparsed");
  return parsed.length ? parsed.reduce((a, v) => a + score(v), 0) / parsed.length : null;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Fits y ≈ σ(α + β·x) by Newton's method (y may be 0, 0.5 or 1: the binomial deviance is
 * still convex). Ridge `lambda` on β only. Returns [α, β].
 */
export function fitLogistic(x: number[], y: number[], lambda = 1e-2): [number, number] {
  let a = 0;
  let b = 0;
  for (let iter = 0; iter < 50; iter++) {
    let ga = 0;
    let gb = -lambda * b;
    let haa = 1e-9;
    let hab = 0;
    let hbb = lambda + 1e-9;
    for (let i = 0; i < x.length; i++) {
      const p = sigmoid(a + b * x[i]);
      const r = y[i] - p;
      const w = p * (1 - p);
      ga += r;
      gb += r * x[i];
      haa += w;
      hab += w * x[i];
      hbb += w * x[i] * x[i];
    }
    const det = haa * hbb - hab * hab;
    if (Math.abs(det) < 1e-12) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    // keep steps bounded: an all-wins sample pushes α to infinity
    a += Math.max(-2, Math.min(2, da));
    b += Math.max(-2, Math.min(2, db));
    if (Math.abs(da) < 1e-9 && Math.abs(db) < 1e-9) break;
    if (Math.abs(a) > 12) break;
  }
  return [a, b];
}

/** Win rates from already-judged pairs (see the module comment). */
export function summarizeJudgements(judge: string, pairs: JudgedPair[]): JudgeSummary {
  const judged = pairs.filter((p): p is JudgedPair & { outcome: number } => p.outcome !== null);
  const n = judged.length;
  const wins = judged.filter((p) => p.outcome > 0.5).length;
  const losses = judged.filter((p) => p.outcome < 0.5).length;
  const winRate = n ? judged.reduce((a, p) => a + p.outcome, 0) / n : null;
  const diffs = judged.map((p) => p.lengthSft - p.lengthBase);
  const mean = n ? diffs.reduce((a, b) => a + b, 0) / n : 0;
  const sd = n ? Math.sqrt(diffs.reduce((a, d) => a + (d - mean) ** 2, 0) / n) : 0;
  let lc = winRate;
  let beta = 0;
  if (n > 0 && sd > 0) {
    const xs: number[] = [];
    const ys: number[] = [];
    for (const p of judged) {
      const x = Math.tanh((p.lengthSft - p.lengthBase) / sd);
      for (const v of [p.baseFirst, p.sftFirst]) {
        if (v === "unparsed") continue;
        xs.push(x);
        ys.push(score(v));
      }
    }
    const [alpha, b] = fitLogistic(xs, ys);
    lc = sigmoid(alpha);
    beta = b;
  }
  const bothParsed = judged.filter((p) => p.baseFirst !== "unparsed" && p.sftFirst !== "unparsed");
  const inconsistent = bothParsed.filter((p) => p.baseFirst !== p.sftFirst).length;
  return {
    judge,
    pairs,
    wins,
    ties: n - wins - losses,
    losses,
    judged: n,
    win_rate: winRate,
    length_controlled_win_rate: lc,
    length_coefficient: beta,
    position_inconsistency: bothParsed.length ? inconsistent / bothParsed.length : null,
    unparsed_verdicts: pairs.reduce((a, p) => a + p.unparsed, 0),
    total_verdicts: 2 * pairs.length,
  };
}

/** Fails when more than half of the verdicts are unparsed, quoting the first raw replies. */
export function assertJudgeUsable(s: JudgeSummary, quote = 3): void {
  if (s.total_verdicts === 0 || s.unparsed_verdicts * 2 <= s.total_verdicts) return;
  const replies = s.pairs.flatMap((p) => (p.unparsed_replies ?? []).map((r) => ({ id: p.id, r })));
  const shown = replies
    .slice(0, quote)
    .map(({ id, r }) => `  prompt ${id}: ${JSON.stringify(r.length > 300 ? `${r.slice(0, 300)}…` : r)}`)
    .join("\n");
  throw new SftError(
    `the judge (${s.judge}) gave no verdict in ${s.unparsed_verdicts} of ${s.total_verdicts} replies; the first ones were:\n${shown}`,
    {
      hint: "the judge must end its reply with [[A]], [[B]] or [[C]]: use a stronger instruction-following judge model, or raise the judge's max_tokens if replies are cut off",
    },
  );
}

export interface JudgeOptions {
  /** judge calls in flight at once (default 4) */
  concurrency?: number;
  max_tokens?: number;
  temperature?: number;
}

/** Judges every prompt in both orders with `judge`; fails when most verdicts are unparsed. */
export async function judgePairs(
  judge: LlmBackend,
  items: { id: string; prompt: string; base: string; sft: string }[],
  opts: JudgeOptions = {},
): Promise<JudgeSummary> {
  const ask = async (q: string, a: string, b: string) => {
    const r = await judge.chat(
      [
        { role: "system", content: SYSTEM },
        { role: "user", content: judgePrompt(q, a, b) },
      ],
      { temperature: opts.temperature ?? 0, max_tokens: opts.max_tokens ?? 512 },
    );
    const text = r.choices[0]?.text ?? "";
    return { verdict: parseVerdict(text), text };
  };
  // both orders of every pair, `concurrency` calls in flight at once (not pairs: calls)
  const asks = items.flatMap((it) => [
    [it.prompt, it.base, it.sft],
    [it.prompt, it.sft, it.base],
  ]);
  const replies: { verdict: ReturnType<typeof parseVerdict>; text: string }[] = new Array(asks.length);
  let next = 0;
  const worker = async () => {
    while (next < asks.length) {
      const k = next++;
      const [q, a, b] = asks[k];
      replies[k] = await ask(q, a, b);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, asks.length) }, worker));
  const pairs: JudgedPair[] = items.map((it, i) => {
    const [r1, r2] = [replies[2 * i], replies[2 * i + 1]];
    const v1 = r1.verdict;
    const v2 = r2.verdict;
    // order 1: A = base; order 2: A = sft
    const baseFirst: Verdict = v1 === null ? "unparsed" : v1 === "A" ? "base" : v1 === "B" ? "sft" : "tie";
    const sftFirst: Verdict = v2 === null ? "unparsed" : v2 === "A" ? "sft" : v2 === "B" ? "base" : "tie";
    const unparsedReplies = [r1, r2].filter((r) => r.verdict === null).map((r) => r.text);
    return {
      id: it.id,
      baseFirst,
      sftFirst,
      outcome: pairOutcome(baseFirst, sftFirst),
      lengthBase: countLength(it.base).units,
      lengthSft: countLength(it.sft).units,
      unparsed: unparsedReplies.length,
      ...(unparsedReplies.length ? { unparsed_replies: unparsedReplies } : {}),
    };
  });
  const summary = summarizeJudgements(judge.id, pairs);
  assertJudgeUsable(summary);
  return summary;
}
