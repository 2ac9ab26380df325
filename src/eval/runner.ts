/**
 * `sft eval CONFIG.yaml`: generate with the base and the fine-tuned model over the suites
 * (and IFEval prompts), score every sample, aggregate per task, optionally judge pairwise,
 * and derive the report's findings. Everything the report shows is computed here from the
 * per-sample results kept in `samples`, so report.json can be re-checked by anyone.
 */
import { type EvalConfig, readEvalConfig } from "../config/eval.js";
import { SftError } from "../errors.js";
import { createLlmBackend } from "../llm/index.js";
import type { LlmBackend } from "../llm/types.js";
import { type CheckerOptions, runChecker } from "./checkers/checkers.js";
import { meanPassAtKs, passAtKs } from "./code/pass-at-k.js";
import { analyzeFormats, type FormatAnalysis, type PerplexityScorer } from "./format.js";
import {
  configDir,
  createGenerator,
  type GenerationRequest,
  PrecomputedGenerator,
  resolvePath,
} from "./generators.js";
// registers the `local` generator kind (the package's own engine)
import "./generators-local.js";
import {
  type FollowResult,
  type IfevalAccuracy,
  ifevalAccuracy,
  scoreIfevalPrompt,
} from "./ifeval/evaluate.js";
import { type IfScoreParts, instructionFollowingScore } from "./ifscore.js";
import { type JudgeSummary, judgePairs } from "./judge.js";
import { LocalPerplexityScorer } from "./perplexity-local.js";
import { type EvalItem, readIfevalAsItems, readSuite } from "./suite.js";

export interface ModelSample {
  response: string;
  /** length in word units (words + CJK characters / 1.5) */
  length: number;
  /** task score in [0, 1]: the checker's score, or the strict IFEval instruction share */
  score: number;
  pass: boolean;
  detail?: string;
  /** code checker: what the sandbox could not isolate for this run */
  sandbox_gaps?: string[];
  ifeval?: { strict: FollowResult; loose: FollowResult };
  if_score: IfScoreParts;
  format: FormatAnalysis;
}

export interface SampleResult {
  id: string;
  task: string;
  checker: string;
  prompt: string;
  expected?: unknown;
  base: ModelSample;
  sft: ModelSample;
  /** sft.score − base.score */
  improvement: number;
  /** with `samples: n` > 1: how many of the n samples passed, and pass@k (Chen et al. 2021) */
  pass_at_k?: { n: number; base: SamplePassAtK; sft: SamplePassAtK };
}

export interface SamplePassAtK {
  /** samples (of n) that passed their checker */
  correct: number;
  /** "pass@1", "pass@10", …: null where k > n */
  values: Record<string, number | null>;
}

/** pass@k over problems (suite rows), per task and overall, base vs fine-tuned. */
export interface PassAtKSummary {
  n: number;
  k: number[];
  seed: number;
  overall: { base: Record<string, number | null>; sft: Record<string, number | null> };
  tasks: {
    task: string;
    problems: number;
    base: Record<string, number | null>;
    sft: Record<string, number | null>;
  }[];
}

export interface ModelAggregate {
  score: number;
  pass_rate: number;
  if_score: number;
  mean_length: number;
}

export interface TaskResult {
  task: string;
  n: number;
  base: ModelAggregate;
  sft: ModelAggregate;
  /** sft.score − base.score (mean task score) */
  improvement: number;
  needs_attention: boolean;
}

export interface FormatSummary {
  structure: number;
  length: number;
  style: number;
  fluency: number | null;
  if_parts: { format: number; relevance: number; completeness: number; quality: number };
}

export interface EvalResult {
  version: 1;
  created_at: string;
  models: { base: string; sft: string };
  attention_threshold: number;
  overall: {
    n: number;
    /** mean over samples */
    base: ModelAggregate;
    sft: ModelAggregate;
    improvement: number;
    /** mean over tasks of the per-task improvement */
    macro_improvement: number;
    samples_improved: number;
    samples_regressed: number;
    samples_unchanged: number;
  };
  tasks: TaskResult[];
  ifeval?: { n: number; base: IfevalAccuracy; sft: IfevalAccuracy };
  format: { base: FormatSummary; sft: FormatSummary };
  judge?: JudgeSummary;
  /** with `samples: n` > 1 */
  pass_at_k?: PassAtKSummary;
  /** what the code sandbox could not isolate on this machine (absent when it isolated all) */
  sandbox?: { gaps: string[] };
  best_task: { task: string; improvement: number } | null;
  attention_tasks: { task: string; improvement: number }[];
  suggestions: string[];
  samples: SampleResult[];
}

/** Factory for a fluency scorer from a model path (default: the package's own engine). */
export type PerplexityScorerFactory = (modelPath: string) => Promise<PerplexityScorer>;
let perplexityFactory: PerplexityScorerFactory = (modelPath) => LocalPerplexityScorer.load(modelPath);

export function registerPerplexityScorerFactory(f: PerplexityScorerFactory): void {
  perplexityFactory = f;
}

export interface RunEvalOptions {
  /** directory relative paths in the config refer to (default: cwd) */
  baseDir?: string;
  configFile?: string;
  /** overrides config.fluency */
  perplexity?: PerplexityScorer;
  /** overrides config.judge.llm */
  judge?: LlmBackend;
  log?: (line: string) => void;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const round = (x: number, d = 6) => Math.round(x * 10 ** d) / 10 ** d;

/** Options every code checker gets (the Python interpreter). */
export interface CodeCheckSettings {
  python?: string;
}

function checkerOptions(it: EvalItem, code: CodeCheckSettings): CheckerOptions {
  return it.checker === "code" && code.python !== undefined
    ? { ...it.options, python: code.python }
    : it.options;
}

export async function scoreModel(
  items: EvalItem[],
  responses: string[],
  scorer: PerplexityScorer | undefined,
  code: CodeCheckSettings = {},
): Promise<ModelSample[]> {
  const formats = await analyzeFormats(
    items.map((it, i) => ({ instruction: it.prompt, response: responses[i] })),
    scorer,
  );
  const out: ModelSample[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const response = responses[i];
    const ifeval = it.ifeval
      ? scoreIfevalPrompt(
          {
            key: it.id,
            prompt: it.prompt,
            instruction_id_list: it.ifeval.instruction_id_list,
            kwargs: it.ifeval.kwargs,
          },
          response,
          it.source,
        )
      : undefined;
    const strictShare = ifeval ? mean(ifeval.strict.follow_instruction_list.map(Number)) : undefined;
    let score: number;
    let pass: boolean;
    let detail: string | undefined;
    let gaps: string[] | undefined;
    if (it.checker === "ifeval") {
      score = strictShare ?? 0;
      pass = ifeval?.strict.follow_all_instructions ?? false;
    } else {
      const r = await runChecker(it.checker, response, checkerOptions(it, code));
      score = r.score;
      pass = r.pass;
      detail = r.detail;
      gaps = r.sandbox_gaps;
    }
    const expected = typeof it.options.expected === "string" ? it.options.expected : undefined;
    out.push({
      response,
      length: formats[i].length.units,
      score,
      pass,
      detail,
      ...(gaps ? { sandbox_gaps: gaps } : {}),
      ifeval: ifeval ? { strict: ifeval.strict, loose: ifeval.loose } : undefined,
      if_score: instructionFollowingScore({
        instruction: it.prompt,
        response,
        format: formats[i],
        expected,
        ifevalFollowed: strictShare,
      }),
      format: formats[i],
    });
  }
  return out;
}

function aggregate(samples: ModelSample[]): ModelAggregate {
  return {
    score: mean(samples.map((s) => s.score)),
    pass_rate: mean(samples.map((s) => (s.pass ? 1 : 0))),
    if_score: mean(samples.map((s) => s.if_score.score)),
    mean_length: mean(samples.map((s) => s.length)),
  };
}

function formatSummary(samples: ModelSample[]): FormatSummary {
  const fl = samples.map((s) => s.format.fluency?.score).filter((x): x is number => x !== undefined);
  return {
    structure: mean(samples.map((s) => s.format.structure.score)),
    length: mean(samples.map((s) => s.format.length.score)),
    style: mean(samples.map((s) => s.format.style.score)),
    fluency: fl.length ? mean(fl) : null,
    if_parts: {
      format: mean(samples.map((s) => s.if_score.format)),
      relevance: mean(samples.map((s) => s.if_score.relevance)),
      completeness: mean(samples.map((s) => s.if_score.completeness)),
      quality: mean(samples.map((s) => s.if_score.quality)),
    },
  };
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;

/** Findings a reader can act on, each derived from a number in the result. */
export function deriveSuggestions(r: Omit<EvalResult, "suggestions" | "samples">): string[] {
  const out: string[] = [];
  const { overall } = r;
  if (overall.improvement >= r.attention_threshold)
    out.push(
      `Overall the fine-tuned model scores ${signed(overall.improvement)} over the base (${overall.base.score.toFixed(3)} → ${overall.sft.score.toFixed(3)}); ${overall.samples_improved} of ${overall.n} samples improved.`,
    );
  else
    out.push(
      `Overall improvement is only ${signed(overall.improvement)} (below ${r.attention_threshold}); check that the training data matches these tasks and that training converged (eval loss), or train longer / with a higher learning rate.`,
    );
  for (const t of r.tasks) {
    if (t.improvement < 0)
      out.push(
        `Task "${t.task}" regressed (${signed(t.improvement)} over ${t.n} samples): a sign of forgetting — mix general or task-specific "${t.task}" data back into training, lower the learning rate or the number of epochs, or use a smaller LoRA rank.`,
      );
    else if (t.improvement < r.attention_threshold)
      out.push(
        `Task "${t.task}" barely moved (${signed(t.improvement)}; SFT score ${t.sft.score.toFixed(3)}): add more and more varied "${t.task}" examples to the training set${t.n < 20 ? `, and grow this suite beyond ${t.n} samples so the estimate is reliable` : ""}.`,
      );
  }
  const lenRatio =
    r.overall.base.mean_length > 0 ? r.overall.sft.mean_length / r.overall.base.mean_length : 1;
  if (lenRatio > 1.5)
    out.push(
      `Fine-tuned answers are ${lenRatio.toFixed(1)}× as long as the base's; check length appropriateness (SFT ${r.format.sft.length.toFixed(3)} vs base ${r.format.base.length.toFixed(3)}) and trim verbose training responses if it dropped.`,
    );
  else if (lenRatio < 0.5 && r.overall.base.mean_length > 0)
    out.push(
      `Fine-tuned answers are much shorter (${lenRatio.toFixed(2)}× the base's length); if completeness fell (SFT ${r.format.sft.if_parts.completeness.toFixed(3)} vs base ${r.format.base.if_parts.completeness.toFixed(3)}), add fuller responses to the training data.`,
    );
  if (r.ifeval) {
    const gap = r.ifeval.sft.prompt_loose - r.ifeval.sft.prompt_strict;
    if (gap > 0.1)
      out.push(
        `IFEval loose accuracy exceeds strict by ${pct(gap)} for the fine-tuned model: answers carry preambles, closing lines or markdown asterisks around otherwise compliant text — train on answers without them.`,
      );
    if (r.ifeval.sft.instruction_strict < r.ifeval.base.instruction_strict)
      out.push(
        `IFEval instruction-level strict accuracy fell (${pct(r.ifeval.base.instruction_strict)} → ${pct(r.ifeval.sft.instruction_strict)}): add examples with explicit format constraints (word counts, JSON, bullet lists, no commas).`,
      );
  }
  if (r.format.sft.style < r.format.base.style - 0.05)
    out.push(
      `Style/professionalism dropped (${r.format.base.style.toFixed(3)} → ${r.format.sft.style.toFixed(3)}): look for slang, shouting, boilerplate or repeated sentences in the training responses.`,
    );
  if (r.judge) {
    const j = r.judge;
    const unparsed =
      j.unparsed_verdicts > 0
        ? ` ${j.unparsed_verdicts} of ${j.total_verdicts} judge replies held no verdict and are left out.`
        : "";
    if (j.win_rate !== null)
      out.push(
        `The judge prefers the fine-tuned model in ${pct(j.win_rate)} of ${j.judged} judged prompts (length-controlled ${pct(j.length_controlled_win_rate)}).${unparsed}`,
      );
    if (
      j.win_rate !== null &&
      j.length_controlled_win_rate !== null &&
      j.win_rate - j.length_controlled_win_rate > 0.1
    )
      out.push(
        "Part of the judged win comes from longer answers: the length-controlled rate is over 10 points lower.",
      );
    if (j.position_inconsistency !== null && j.position_inconsistency > 0.3)
      out.push(
        `The judge changed its verdict with the answer order in ${pct(j.position_inconsistency)} of prompts: use a stronger judge model for reliable pairwise results.`,
      );
  }
  return out;
}

/**
 * Generates samples 1 … n−1 of every item (sample 0 is the one scored above) and counts, per
 * item, how many of the n passed their checker.
 */
async function countCorrectSamples(
  gen: { name: string; generate(r: GenerationRequest[]): Promise<string[]> },
  items: EvalItem[],
  requests: GenerationRequest[],
  first: ModelSample[],
  n: number,
  code: CodeCheckSettings,
  log: (line: string) => void,
): Promise<number[]> {
  const extra: GenerationRequest[] = [];
  for (let s = 1; s < n; s++) for (const r of requests) extra.push({ ...r, sample: s });
  log(`generating ${extra.length} more samples (${n} per prompt) with ${gen.name}`);
  const responses = await gen.generate(extra);
  if (responses.length !== extra.length)
    throw new SftError(
      `generator "${gen.name}" returned ${responses.length} responses for ${extra.length} prompts`,
    );
  const counts = first.map((s) => (s.pass ? 1 : 0));
  for (let j = 0; j < extra.length; j++) {
    const i = j % items.length;
    const it = items[i];
    if (it.checker === "ifeval") {
      const r = scoreIfevalPrompt(
        {
          key: it.id,
          prompt: it.prompt,
          instruction_id_list: it.ifeval!.instruction_id_list,
          kwargs: it.ifeval!.kwargs,
        },
        responses[j],
        it.source,
      );
      if (r.strict.follow_all_instructions) counts[i]++;
    } else if ((await runChecker(it.checker, responses[j], checkerOptions(it, code))).pass) counts[i]++;
  }
  return counts;
}

function summarizePassAtK(samples: SampleResult[], n: number, ks: number[], seed: number): PassAtKSummary {
  const of = (ss: SampleResult[], which: "base" | "sft") =>
    meanPassAtKs(
      ss.map((s) => s.pass_at_k![which].values),
      ks,
    );
  const taskNames = [...new Set(samples.map((s) => s.task))];
  return {
    n,
    k: ks,
    seed,
    overall: { base: of(samples, "base"), sft: of(samples, "sft") },
    tasks: taskNames.map((task) => {
      const ss = samples.filter((s) => s.task === task);
      return { task, problems: ss.length, base: of(ss, "base"), sft: of(ss, "sft") };
    }),
  };
}

/** Runs an evaluation from a validated config. */
export async function runEvaluation(config: EvalConfig, opts: RunEvalOptions = {}): Promise<EvalResult> {
  const baseDir = opts.baseDir ?? configDir(opts.configFile);
  const log = opts.log ?? (() => {});
  const items: EvalItem[] = [];
  for (const s of config.suites) {
    const suite = await readSuite(resolvePath(baseDir, s));
    items.push(...(config.max_samples ? suite.slice(0, config.max_samples) : suite));
  }
  if (config.ifeval) {
    const rows = await readIfevalAsItems(resolvePath(baseDir, config.ifeval.prompts));
    items.push(...(config.max_samples ? rows.slice(0, config.max_samples) : rows));
  }
  const ids = new Set<string>();
  for (const it of items) {
    if (ids.has(it.id))
      throw new SftError(`sample id "${it.id}" occurs in more than one suite`, {
        where: it.source,
        hint: "give samples unique `id`s across suites",
      });
    ids.add(it.id);
  }
  const requests: GenerationRequest[] = items.map((it) => ({
    id: it.id,
    prompt: it.prompt,
    system: it.system ?? config.generation.system,
  }));
  let scorer = opts.perplexity;
  if (!scorer && config.fluency) {
    log(`loading the fluency reference model ${config.fluency.model}`);
    scorer = await perplexityFactory(resolvePath(baseDir, config.fluency.model));
  }
  const ctx = { baseDir, generation: config.generation, file: opts.configFile };
  const results: Record<"base" | "sft", { name: string; samples: ModelSample[] }> = {} as never;
  const n = config.samples;
  const ks = config.k ?? [1, 10].filter((k) => k <= n);
  const codeSettings: CodeCheckSettings = { python: config.python };
  if (n > 1 && config.generation.temperature === 0)
    log(
      `samples: ${n} with temperature 0: generators that honour it return ${n} equal answers (pass@k = pass@1)`,
    );
  /** per model: for each item, how many of the n samples passed */
  const correct: Record<"base" | "sft", number[]> = { base: [], sft: [] };
  for (const which of ["base", "sft"] as const) {
    const gen = await createGenerator(config[which], { ...ctx, field: which });
    try {
      log(`generating ${items.length} responses with ${which} (${gen.name})`);
      const responses = await gen.generate(requests);
      if (responses.length !== items.length)
        throw new SftError(
          `generator "${gen.name}" returned ${responses.length} responses for ${items.length} prompts`,
          {
            where: { file: opts.configFile, field: which },
          },
        );
      log(`scoring ${which}`);
      results[which] = {
        name: config[which].name ?? gen.name,
        samples: await scoreModel(items, responses, scorer, codeSettings),
      };
      if (n > 1) {
        correct[which] = await countCorrectSamples(
          gen,
          items,
          requests,
          results[which].samples,
          n,
          codeSettings,
          log,
        );
      }
    } finally {
      await gen.close?.();
    }
  }
  const samples: SampleResult[] = items.map((it, i) => ({
    id: it.id,
    task: it.task,
    checker: it.checker,
    prompt: it.prompt,
    expected: it.options.expected,
    base: results.base.samples[i],
    sft: results.sft.samples[i],
    improvement: round(results.sft.samples[i].score - results.base.samples[i].score),
    ...(n > 1
      ? {
          pass_at_k: {
            n,
            base: { correct: correct.base[i], values: passAtKs(n, correct.base[i], ks) },
            sft: { correct: correct.sft[i], values: passAtKs(n, correct.sft[i], ks) },
          },
        }
      : {}),
  }));
  const gaps = [
    ...new Set(samples.flatMap((s) => [...(s.base.sandbox_gaps ?? []), ...(s.sft.sandbox_gaps ?? [])])),
  ].sort();
  if (gaps.length) log(`code sandbox: ${gaps.join("; ")}`);
  const threshold = config.attention_threshold;
  const taskNames = [...new Set(items.map((it) => it.task))];
  const tasks: TaskResult[] = taskNames.map((task) => {
    const ss = samples.filter((s) => s.task === task);
    const base = aggregate(ss.map((s) => s.base));
    const sft = aggregate(ss.map((s) => s.sft));
    const improvement = sft.score - base.score;
    return { task, n: ss.length, base, sft, improvement, needs_attention: improvement < threshold };
  });
  const baseAll = aggregate(samples.map((s) => s.base));
  const sftAll = aggregate(samples.map((s) => s.sft));
  const ifevalSamples = samples.filter((s) => s.base.ifeval);
  const ifevalRows = (which: "base" | "sft") =>
    ifevalSamples.map((s) => ({
      key: s.id,
      prompt: s.prompt,
      instruction_id_list: [],
      strict: s[which].ifeval!.strict,
      loose: s[which].ifeval!.loose,
    }));
  let judge: JudgeSummary | undefined;
  const judgeBackend = opts.judge ?? (config.judge ? createLlmBackend(config.judge.llm) : undefined);
  if (judgeBackend) {
    const limit = config.judge?.max_samples ?? samples.length;
    log(`judging ${Math.min(limit, samples.length)} pairs in both orders`);
    judge = await judgePairs(
      judgeBackend,
      samples
        .slice(0, limit)
        .map((s) => ({ id: s.id, prompt: s.prompt, base: s.base.response, sft: s.sft.response })),
      { concurrency: config.judge?.concurrency },
    );
  }
  const ranked = [...tasks].sort((a, b) => b.improvement - a.improvement);
  const partial: Omit<EvalResult, "suggestions" | "samples"> = {
    version: 1,
    created_at: new Date().toISOString(),
    models: { base: results.base.name, sft: results.sft.name },
    attention_threshold: threshold,
    overall: {
      n: samples.length,
      base: baseAll,
      sft: sftAll,
      improvement: sftAll.score - baseAll.score,
      macro_improvement: mean(tasks.map((t) => t.improvement)),
      samples_improved: samples.filter((s) => s.improvement > 0).length,
      samples_regressed: samples.filter((s) => s.improvement < 0).length,
      samples_unchanged: samples.filter((s) => s.improvement === 0).length,
    },
    tasks,
    ifeval: ifevalSamples.length
      ? {
          n: ifevalSamples.length,
          base: ifevalAccuracy(ifevalRows("base")),
          sft: ifevalAccuracy(ifevalRows("sft")),
        }
      : undefined,
    format: {
      base: formatSummary(results.base.samples),
      sft: formatSummary(results.sft.samples),
    },
    judge,
    ...(n > 1 ? { pass_at_k: summarizePassAtK(samples, n, ks, config.generation.seed) } : {}),
    ...(gaps.length ? { sandbox: { gaps } } : {}),
    best_task: ranked.length ? { task: ranked[0].task, improvement: ranked[0].improvement } : null,
    attention_tasks: tasks
      .filter((t) => t.needs_attention)
      .map((t) => ({ task: t.task, improvement: t.improvement })),
  };
  return { ...partial, suggestions: deriveSuggestions(partial), samples };
}

/** One task's aggregate of one model's scores (the `tasks` rows of `sft eval suite`). */
export interface SuiteTaskScore {
  task: string;
  n: number;
  score: number;
  pass_rate: number;
  if_score: number;
}

/**
 * Scores one model's precomputed responses on a suite: every sample scored as in a full
 * evaluation, and per-task means through the same aggregation.
 */
export async function scoreResponsesFile(
  suiteFile: string,
  responsesFile: string,
  code: CodeCheckSettings = {},
): Promise<{
  tasks: SuiteTaskScore[];
  samples: ({ id: string; task: string; checker: string } & ModelSample)[];
  gaps: string[];
}> {
  const items = await readSuite(suiteFile);
  const gen = await PrecomputedGenerator.fromFile(responsesFile);
  const responses = await gen.generate(items.map((it) => ({ id: it.id, prompt: it.prompt })));
  const scored = await scoreModel(items, responses, undefined, code);
  const gaps = [...new Set(scored.flatMap((s) => s.sandbox_gaps ?? []))].sort();
  const tasks = [...new Set(items.map((it) => it.task))].map((task) => {
    const a = aggregate(scored.filter((_, i) => items[i].task === task));
    return {
      task,
      n: items.filter((it) => it.task === task).length,
      score: a.score,
      pass_rate: a.pass_rate,
      if_score: a.if_score,
    };
  });
  const samples = items.map((it, i) => ({ id: it.id, task: it.task, checker: it.checker, ...scored[i] }));
  return { tasks, samples, gaps };
}

/** Reads CONFIG.yaml and runs it. */
export async function runEvaluationFile(configFile: string, opts: RunEvalOptions = {}): Promise<EvalResult> {
  const config = readEvalConfig(configFile);
  return runEvaluation(config, { configFile, ...opts });
}
