/**
 * `sft quickstart`: the whole pipeline on the built-in default, in one call.
 *
 *   const r = await runQuickstart({ out: "qs" });
 *   // qs/report.json, qs/report.html; r.headline: task score, IFEval accuracy, eval loss
 *
 * Stages (each reports progress through onStage):
 *   build    built-in tasks (tasks.ts) → held-out split by seed-word combination;
 *            training records → data/built.jsonl
 *   augment  LLM-free format variants (Q/A labels, a greeting turn) → data/augmented.jsonl
 *   clean    quality check, dedup, balance by type × topic → data/clean.jsonl, data/rejects.jsonl
 *   check    pre-flight checks on every sample (fails loudly), then data/rendered.jsonl
 *   train    LoRA on the built-in model → run/ (adapter/, trainer_state.json, metrics, TensorBoard)
 *   eval     base vs fine-tuned on the held-out prompts (eval/*.jsonl suites, IFEval constraints
 *            on the format tasks) → report.json + report.html
 *
 * Two limits of the built-in model shape the setup (see also tasks.ts):
 *  - its output rows for `</s>` and ~167 tokens it never saw in pretraining are identical,
 *    so a LoRA with the output layer frozen cannot teach it to emit EOS. The quickstart's own
 *    template (template.yaml) ends every trained answer with a newline before EOS, and the
 *    evaluation stops generation at the newline.
 *  - the same holds for UTF-8 continuation bytes, so it cannot write Chinese characters: the
 *    Chinese tasks ask in Chinese and answer in English.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type AugmentConfig, augmentConfigSchema } from "../config/augment.js";
import { balanceConfigSchema, dedupConfigSchema, qualityConfigSchema } from "../config/build.js";
import { evalConfigSchema } from "../config/eval.js";
import { augmentRecords } from "../data/augment/index.js";
import { balanceRecords } from "../data/balance.js";
import { dedupRecords } from "../data/dedup/index.js";
import { writeJsonl } from "../data/io/index.js";
import { checkRecords, QualityChecker } from "../data/quality/index.js";
import { SftError } from "../errors.js";
import { writeReport } from "../eval/report/index.js";
import { type EvalResult, runEvaluation } from "../eval/runner.js";
import { LlmStore } from "../llm/store.js";
import { openTokenizer } from "../model/open.js";
import type { SftRecord } from "../record/record.js";
import { preflight, tryTokenizeRecord } from "../tokenize/index.js";
import { train } from "../train/index.js";
import type { OutputStream } from "../train/progress.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { enumerateTask, isHeldOut, TASK_NAMES, type TaskExample, type TaskName, toRecord } from "./tasks.js";

export {
  enumerateTask,
  isHeldOut,
  SEEDS,
  TASK_NAMES,
  type TaskExample,
  type TaskName,
  toRecord,
} from "./tasks.js";

/** The built-in base model, shipped with the package (MIT, licence beside it). */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL("../../assets/models/stories260K", import.meta.url));

export type QuickstartStage = "build" | "augment" | "clean" | "check" | "train" | "eval" | "report";

export interface StageEvent {
  stage: QuickstartStage;
  message: string;
}

export interface QuickstartOptions {
  /** output directory (created; must not hold an earlier quickstart run) */
  out: string;
  /** "full" (the default) or "test": fewer rows, steps and eval prompts, for the test suite */
  scale?: "full" | "test";
  seed?: number;
  /** optimizer steps (default: the scale's) */
  steps?: number;
  onStage?: (event: StageEvent) => void;
  /** where the trainer's progress lines go (default: none) */
  trainOutput?: OutputStream;
}

interface ScaleSettings {
  /** examples enumerated per task (before the held-out split) */
  perTask: number;
  /** held-out prompts evaluated per task */
  evalPerTask: number;
  steps: number;
  /** augmented dataset size as a multiple of the built one (originals included) */
  augmentMultiplier: number;
}

/*
 * Measured on 2 CPU cores (shared with other jobs): the full setting trains in 17–60 s and
 * the whole run takes 20–65 s; the test setting is the same pipeline with half the rows,
 * 120 steps and 8 prompts per task (15–30 s). Both reach a held-out task score above 0.9
 * from a base near 0.
 */
const SCALES: Record<"full" | "test", ScaleSettings> = {
  full: { perTask: 120, evalPerTask: 24, steps: 200, augmentMultiplier: 1.5 },
  test: { perTask: 60, evalPerTask: 8, steps: 120, augmentMultiplier: 1.5 },
};

/** The training recipe (LoRA on every linear layer); measured to learn the tasks in 200 steps. */
const TRAIN_RECIPE = {
  per_device_train_batch_size: 16,
  learning_rate: 1e-2,
  lr_scheduler_type: "cosine" as const,
  warmup_steps: 10,
  lora: { r: 16, alpha: 32, dropout: 0 },
  max_seq_length: 256,
};

/** Generation budget: the longest answer (the short story) is about 22 tokens. */
const MAX_NEW_TOKENS = 40;

export const TEMPLATE_NAME = "quickstart";
/**
 * The answer ends with a newline, then EOS: the model can learn the newline (a token it
 * knows), and generation stops there; EOS stays trained, as the pre-flight checks require.
 */
export const TEMPLATE_YAML = `# The prompt template of sft quickstart (select it with template: FILE#${TEMPLATE_NAME}).
# The built-in model cannot learn to emit </s> (its output row is identical to those of
# tokens it never saw), so each answer ends with a newline before </s> and the evaluation
# stops generation at the newline.
templates:
  - name: ${TEMPLATE_NAME}
    description: "### Question / ### Answer, answers closed by a newline"
    user: "### Question:\\n{content}\\n\\n"
    assistant: "### Answer:\\n{train}{content}\\n{eos}"
    separator: "\\n\\n"
`;

export interface QuickstartHeadline {
  /** mean task score over the held-out prompts */
  task_score: { base: number; sft: number };
  /** IFEval prompt-level strict accuracy on the held-out format prompts */
  ifeval_accuracy: { base: number; sft: number };
  /** eval loss on the held-out records before and after training */
  eval_loss: { before: number; after: number };
}

export interface QuickstartSummary {
  out: string;
  model: string;
  scale: "full" | "test";
  seed: number;
  steps: number;
  rows: {
    built: number;
    held_out: number;
    augmented: number;
    clean: number;
    rejected: Record<string, number>;
    rendered: number;
  };
  /** wall time of each stage (the report's own writing excluded) and of the whole run */
  seconds: Record<Exclude<QuickstartStage, "report">, number> & { total: number };
  headline: QuickstartHeadline;
  files: Record<string, string>;
}

export type QuickstartReport = EvalResult & { quickstart: QuickstartSummary };

export interface QuickstartResult {
  summary: QuickstartSummary;
  report: QuickstartReport;
  reportJson: string;
  reportHtml: string;
}

interface RejectRow {
  id: string;
  stage: string;
  reasons: string[];
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Eval suite rows of one task's held-out examples (the `sft eval` suite format). */
function suiteRows(examples: TaskExample[]): unknown[] {
  return examples.map((ex, i) => ({
    id: `${ex.task}-${i}`,
    instruction: ex.instruction,
    task: ex.task,
    checker: ex.check.checker,
    expected: ex.check.expected,
    ...(ex.check.ifeval ? { instruction_id_list: ex.check.ifeval.ids, kwargs: ex.check.ifeval.kwargs } : {}),
  }));
}

/** At most n examples spread evenly over the list (enumeration order walks the seed lists). */
function evalSelection(list: TaskExample[], n: number): TaskExample[] {
  if (list.length <= n) return list;
  return Array.from({ length: n }, (_, k) => list[Math.floor((k * list.length) / n)]);
}

function fmt(x: number): string {
  return x.toFixed(3);
}

export async function runQuickstart(opts: QuickstartOptions): Promise<QuickstartResult> {
  const t0 = Date.now();
  const out = resolve(opts.out);
  const scaleName = opts.scale ?? "full";
  const scale = SCALES[scaleName];
  const seed = opts.seed ?? 42;
  const steps = opts.steps ?? scale.steps;
  const say = (stage: QuickstartStage, message: string) => opts.onStage?.({ stage, message });
  const seconds = {} as QuickstartSummary["seconds"];
  let stageStart = Date.now();
  const endStage = (stage: Exclude<QuickstartStage, "report">) => {
    seconds[stage] = (Date.now() - stageStart) / 1000;
    stageStart = Date.now();
  };

  const dataDir = join(out, "data");
  const evalDir = join(out, "eval");
  const runDir = join(out, "run");
  if (existsSync(join(runDir, "trainer_state.json")) || existsSync(join(out, "report.json")))
    throw new SftError("the output directory already holds a quickstart run", {
      where: { file: out },
      hint: "choose another --out, or delete the directory first",
      code: "E_INPUT",
    });
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(evalDir, { recursive: true });
  const files = {
    built: join(dataDir, "built.jsonl"),
    held_out: join(dataDir, "held_out.jsonl"),
    augmented: join(dataDir, "augmented.jsonl"),
    augment_rejects: join(dataDir, "augmented.rejects.jsonl"),
    augment_state: join(dataDir, "augment-state.sqlite"),
    clean: join(dataDir, "clean.jsonl"),
    rejects: join(dataDir, "rejects.jsonl"),
    rendered: join(dataDir, "rendered.jsonl"),
    template: join(out, "template.yaml"),
    run: runDir,
    ifeval_prompts: join(evalDir, "ifeval_input_data.jsonl"),
    report_json: join(out, "report.json"),
    report_html: join(out, "report.html"),
  };

  // ---- build -------------------------------------------------------------------------
  say("build", `building ${TASK_NAMES.length} built-in tasks × ${scale.perTask} examples`);
  const trainRecords: SftRecord[] = [];
  const heldOut = new Map<TaskName, TaskExample[]>();
  for (const task of TASK_NAMES) {
    const examples = enumerateTask(task, scale.perTask);
    examples.forEach((ex, i) => {
      if (isHeldOut(ex)) {
        const list = heldOut.get(task) ?? [];
        // the same combination can come up twice; evaluate it once
        if (!list.some((o) => o.instruction === ex.instruction)) list.push(ex);
        heldOut.set(task, list);
      } else trainRecords.push(toRecord(ex, `${task}-${i}`));
    });
  }
  const heldOutAll = TASK_NAMES.flatMap((t) => heldOut.get(t) ?? []);
  await writeJsonl(files.built, trainRecords);
  await writeJsonl(
    files.held_out,
    heldOutAll.map((ex, i) => toRecord(ex, `held-out-${ex.task}-${i}`)),
  );
  say(
    "build",
    `${trainRecords.length} training records → ${files.built}; ${heldOutAll.length} held-out (unseen seed-word combinations) → ${files.held_out}`,
  );
  endStage("build");

  // ---- augment -----------------------------------------------------------------------
  say("augment", "adding format variants (Q/A labels, a greeting turn first)");
  const augmentConfig: AugmentConfig = augmentConfigSchema.parse({
    in: files.built,
    out: files.augmented,
    rejects: files.augment_rejects,
    state: files.augment_state,
    seed,
    multiplier: scale.augmentMultiplier,
    // the LLM-free method only; "structured" (JSON) is left out: braces are tokens the
    // built-in model never saw
    methods: { paraphrase: 0, difficulty: 0, format: 1, context: 0 },
    format: { variants: ["qa", "dialogue"] },
  });
  const store = new LlmStore(files.augment_state);
  let augment: Awaited<ReturnType<typeof augmentRecords>>;
  try {
    augment = await augmentRecords(augmentConfig, trainRecords, { store });
  } finally {
    store.close();
  }
  const augmented = await collect(
    (async function* () {
      for (const line of readFileSync(files.augmented, "utf8").split("\n"))
        if (line.trim()) yield JSON.parse(line) as SftRecord;
    })(),
  );
  say(
    "augment",
    `${augment.originals} originals + ${augment.augmented} variants (${Object.entries(augment.by_method)
      .map(([m, n]) => `${m} ${n}`)
      .join(", ")}) → ${files.augmented}`,
  );
  endStage("augment");

  // ---- quality · dedup · balance -----------------------------------------------------
  say("clean", "quality check, dedup, balance by type × topic");
  const rejects: RejectRow[] = [];
  // The answers are short by design ("The ball is red."), so the length floor is 2 words;
  // every other quality threshold is the default.
  const quality = new QualityChecker(qualityConfigSchema.parse({ length: { min_words: 2 } }));
  const passed: SftRecord[] = [];
  for await (const d of checkRecords(augmented, quality)) {
    if (d.report.passed) passed.push(d.record);
    else rejects.push({ id: d.record.id, stage: "quality", reasons: d.report.reasons });
  }
  // Procedural rows differ by one or two seed words on purpose; the ROUGE-L instruction
  // filter (made for LLM-written data) would call them all near-duplicates, so it is off and
  // MinHash only drops rows that are nearly the same text.
  const dedupConfig = dedupConfigSchema.parse({ rouge: false, near_threshold: 0.9, field: "conversation" });
  const unique: SftRecord[] = [];
  for await (const d of dedupRecords(passed, dedupConfig)) {
    if (d.kept) unique.push(d.record);
    else if (d.reason)
      rejects.push({
        id: d.record.id,
        stage: "dedup",
        reasons: [`${d.reason.stage} duplicate of ${d.reason.duplicate_of} (${d.reason.score.toFixed(2)})`],
      });
  }
  // Cap each type × topic group at 1.5× the mean group size, so no topic dominates.
  const groupSizes = new Map<string, number>();
  for (const r of unique) {
    const k = `${r.meta.type}|${r.meta.topic}`;
    groupSizes.set(k, (groupSizes.get(k) ?? 0) + 1);
  }
  const perGroup = Math.max(1, Math.ceil((1.5 * unique.length) / Math.max(1, groupSizes.size)));
  const balanced = await balanceRecords(unique, balanceConfigSchema.parse({ per_group: perGroup }));
  const keptIds = new Set(balanced.records.map((r) => r.id));
  for (const r of unique)
    if (!keptIds.has(r.id))
      rejects.push({
        id: r.id,
        stage: "balance",
        reasons: [`group ${r.meta.type}|${r.meta.topic} is over its target of ${perGroup} rows`],
      });
  // training order: as built (balance groups its output by key)
  const clean = unique.filter((r) => keptIds.has(r.id));
  await writeJsonl(files.clean, clean);
  await writeJsonl(files.rejects, rejects);
  const rejected: Record<string, number> = {};
  for (const r of rejects) rejected[r.stage] = (rejected[r.stage] ?? 0) + 1;
  say(
    "clean",
    `${clean.length} rows kept → ${files.clean}; rejected: ${
      Object.entries(rejected)
        .map(([s, n]) => `${s} ${n}`)
        .join(", ") || "none"
    } (reasons in ${files.rejects})`,
  );
  endStage("clean");

  // ---- check + render ----------------------------------------------------------------
  writeFileAtomicSync(files.template, TEMPLATE_YAML);
  const template = `${files.template}#${TEMPLATE_NAME}`;
  say("check", `pre-flight checks of every sample (template ${template})`);
  // the same spec the training stage gets, opened the way `sft train` opens it
  const { tokenizer, tokenizeOptions } = await openTokenizer({
    model: BUILTIN_MODEL_DIR,
    template,
    max_seq_length: TRAIN_RECIPE.max_seq_length,
  });
  const check = await preflight(clean, tokenizer, { ...tokenizeOptions, maxFailures: 20 });
  if (!check.ok) {
    const counts = Object.entries(check.counts)
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${c}: ${n}`)
      .join(", ");
    throw new SftError(
      `pre-flight checks failed on ${files.clean} (${counts}):\n  ${check.failures
        .slice(0, 5)
        .map((f) => f.message)
        .join("\n  ")}`,
      { where: { file: files.clean }, hint: "inspect the records with `sft data check`", code: "E_INPUT" },
    );
  }
  const rendered: unknown[] = [];
  for (const r of clean) {
    const res = tryTokenizeRecord(r, tokenizer, tokenizeOptions);
    // preflight passed, so every record tokenizes
    if (res.ok)
      rendered.push({
        id: res.sample.id,
        input_ids: res.sample.inputIds,
        labels: res.sample.labels,
        text: res.sample.text,
      });
  }
  await writeJsonl(files.rendered, rendered);
  say(
    "check",
    `all ${check.samples} samples pass ${Object.keys(check.counts).length} checks${
      check.truncated.length ? ` (${check.truncated.length} truncated)` : ""
    }; rendered → ${files.rendered}`,
  );
  endStage("check");

  // ---- train -------------------------------------------------------------------------
  say("train", `LoRA r=${TRAIN_RECIPE.lora.r} on ${BUILTIN_MODEL_DIR}, ${steps} steps → ${runDir}`);
  const trained = await train(
    {
      model: BUILTIN_MODEL_DIR,
      data: files.clean,
      eval_data: files.held_out,
      output_dir: runDir,
      template,
      max_steps: steps,
      ...TRAIN_RECIPE,
      seed,
      eval_on_start: true,
      logging_steps: Math.max(1, Math.floor(steps / 8)),
      save_steps: 0,
      tensorboard: true,
    },
    {
      stdout: opts.trainOutput,
      quiet: opts.trainOutput === undefined,
      onLog: (e) => {
        const entry = e as { step?: number; loss?: number; eval_loss?: number };
        if (entry.eval_loss !== undefined)
          say("train", `step ${entry.step}: eval loss ${fmt(entry.eval_loss)}`);
        else if (entry.loss !== undefined) say("train", `step ${entry.step}: loss ${fmt(entry.loss)}`);
      },
    },
  );
  const evalLosses = trained.logHistory
    .map((e) => (e as { eval_loss?: number }).eval_loss)
    .filter((x): x is number => typeof x === "number");
  if (evalLosses.length < 2)
    throw new SftError("training logged no eval loss before and after", { where: { file: runDir } });
  const evalLoss = { before: evalLosses[0], after: evalLosses[evalLosses.length - 1] };
  say(
    "train",
    `done in ${trained.seconds.toFixed(1)} s; eval loss ${fmt(evalLoss.before)} → ${fmt(evalLoss.after)}; adapter → ${trained.resultDir}`,
  );
  endStage("train");

  // ---- eval --------------------------------------------------------------------------
  const suites: string[] = [];
  for (const task of TASK_NAMES) {
    const list = evalSelection(heldOut.get(task) ?? [], scale.evalPerTask);
    if (list.length === 0) continue;
    const file = join(evalDir, `${task}.jsonl`);
    writeFileSync(
      file,
      `${suiteRows(list)
        .map((r) => JSON.stringify(r))
        .join("\n")}\n`,
    );
    suites.push(file);
  }
  const evalConfig = evalConfigSchema.parse({
    base: { kind: "local", name: "stories260K (base)", model: BUILTIN_MODEL_DIR, template },
    sft: {
      kind: "local",
      name: "stories260K + LoRA (quickstart)",
      model: BUILTIN_MODEL_DIR,
      adapter: trained.resultDir,
      template,
    },
    suites,
    generation: { max_tokens: MAX_NEW_TOKENS, temperature: 0, stop: ["\n"] },
    out,
  });
  writeFileAtomicSync(join(evalDir, "eval.json"), `${JSON.stringify(evalConfig, null, 2)}\n`);
  say("eval", `base vs fine-tuned on ${suites.length} held-out suites in ${evalDir}`);
  const result = await runEvaluation(evalConfig, {
    baseDir: out,
    log: (line) => say("eval", line),
  });
  // the responses and the format prompts in IFEval's own files, for `sft eval ifeval` / `sft eval suite`
  for (const which of ["base", "sft"] as const)
    await writeJsonl(
      join(evalDir, `responses.${which}.jsonl`),
      result.samples.map((s) => ({ id: s.id, prompt: s.prompt, response: s[which].response })),
    );
  const formatPrompts = TASK_NAMES.flatMap((t) =>
    suiteRows(evalSelection(heldOut.get(t) ?? [], scale.evalPerTask)).filter(
      (r) => (r as { instruction_id_list?: unknown }).instruction_id_list,
    ),
  ) as { id: string; instruction: string; instruction_id_list: string[]; kwargs: unknown[] }[];
  await writeJsonl(
    files.ifeval_prompts,
    formatPrompts.map((r) => ({
      key: r.id,
      prompt: r.instruction,
      instruction_id_list: r.instruction_id_list,
      kwargs: r.kwargs,
    })),
  );
  say(
    "eval",
    `task score ${fmt(result.overall.base.score)} → ${fmt(result.overall.sft.score)}; responses → ${evalDir}/responses.{base,sft}.jsonl`,
  );
  endStage("eval");

  // ---- report ------------------------------------------------------------------------
  const ifeval = result.ifeval;
  const headline: QuickstartHeadline = {
    task_score: { base: result.overall.base.score, sft: result.overall.sft.score },
    ifeval_accuracy: {
      base: ifeval?.base.prompt_strict ?? 0,
      sft: ifeval?.sft.prompt_strict ?? 0,
    },
    eval_loss: evalLoss,
  };
  seconds.total = (Date.now() - t0) / 1000;
  const summary: QuickstartSummary = {
    out,
    model: BUILTIN_MODEL_DIR,
    scale: scaleName,
    seed,
    steps,
    rows: {
      built: trainRecords.length,
      held_out: heldOutAll.length,
      augmented: augmented.length,
      clean: clean.length,
      rejected,
      rendered: rendered.length,
    },
    seconds,
    headline,
    files,
  };
  const report: QuickstartReport = {
    ...result,
    suggestions: [
      `Quickstart: held-out task score ${fmt(headline.task_score.base)} → ${fmt(headline.task_score.sft)}, IFEval prompt-level strict accuracy ${fmt(headline.ifeval_accuracy.base)} → ${fmt(headline.ifeval_accuracy.sft)}, eval loss ${fmt(evalLoss.before)} → ${fmt(evalLoss.after)}.`,
      ...result.suggestions,
    ],
    quickstart: summary,
  };
  const written = writeReport(report, out);
  say("report", `report → ${written.html} (and ${written.json})`);
  return { summary, report, reportJson: written.json, reportHtml: written.html };
}
