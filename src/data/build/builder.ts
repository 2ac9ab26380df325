/**
 * The instruction-data builder (`sft data build`). Two modes:
 *  - topics: every (topic, prompt type, k < per_topic) is one slot; a slot draws its point in
 *    the taxonomy (stratified, seeded), asks the LLM for an instruction, then for a response.
 *  - self-instruct: rounds of `batch_size` slots propose new tasks from seed tasks plus tasks
 *    kept in earlier rounds; the ROUGE-L filter drops near copies; kept tasks get responses.
 * Every LLM call goes through the response cache and every finished slot is committed to the
 * job store, so reruns resume; the output is written atomically in slot order.
 *
 * A `budget` (requests, tokens, cost of this run) is checked before every request; when it
 * is spent no further request is sent, what was finished is written, and the result says
 * why the build stopped. The result always gives the target row count, so a shortfall is
 * reported (the CLI exits 3) instead of passing as success.
 */
import { createHash } from "node:crypto";
import type { BuildConfig, PromptType } from "../../config/build.js";
import type { UsageMeter, UsageSummary } from "../../llm/accounting.js";
import { type LlmStore, stableHash } from "../../llm/store.js";
import type { ChatMessage, LlmBackend } from "../../llm/types.js";
import type { SftRecord } from "../../record/record.js";
import { countLength } from "../../text/tokenize.js";
import { RougeFilter } from "../dedup/rouge-filter.js";
import { writeJsonl } from "../io/index.js";
import { drawFromTaxonomy, loadTaxonomy, type Taxonomy } from "../taxonomy/taxonomy.js";
import { runSlots, type SlotJobProgress } from "./job.js";
import { defaultPrompts, type PromptSet, parseInstructionReply, renderPrompt, userTurn } from "./prompts.js";
import { makeRng, sample, seedFrom } from "./rng.js";
import { loadSeedTasks, type SeedTask } from "./seeds.js";

export interface BuildProgress extends SlotJobProgress {
  phase: string;
  /** rows kept so far (propose: instructions kept; generate/respond: rows written) */
  kept: number;
  /** rejected candidates so far, by reason kind */
  rejects: Record<string, number>;
  /** requests sent by this run (retries included; cached answers are not requests) */
  requests: number;
}

export interface BuildRuntime {
  backend: LlmBackend;
  store: LlmStore;
  meter?: UsageMeter;
  onProgress?: (p: BuildProgress) => void;
}

/** Thrown by the request guard when the build's budget is spent. */
export class BudgetSpent extends Error {}

/** The kind of a reject reason, without its numbers: "rouge-l", "empty instruction", … */
export function rejectKind(reason: string): string {
  return (
    reason
      .split(/[:,(]|\s[\d.<>]/)[0]
      .trim()
      .slice(0, 40) || reason.slice(0, 40)
  );
}

export interface BuildResult {
  job: string;
  out: string;
  rejects: string;
  written: number;
  rejected: number;
  /** slots already done when this run started (non-zero after a resume) */
  resumed: number;
  /** rows the config asks for: topics × prompt types × per_topic, or num_instructions */
  target: number;
  /** why the build stopped before trying every row (a spent budget, max_rounds) */
  stopped_by?: string;
  usage?: UsageSummary;
}

/** A rejected candidate as written to a rejects file: the row (or what there was of it) and why. */
export interface RejectedRow {
  id: string;
  stage: string;
  reasons: string[];
  record?: SftRecord;
  candidate?: unknown;
}

export function rejectsPathFor(out: string): string {
  return out.replace(/(\.jsonl?)?$/, ".rejects.jsonl");
}

export function statePathFor(out: string): string {
  return out.replace(/(\.jsonl?)?$/, ".state.sqlite");
}

function promptSet(config: BuildConfig): PromptSet {
  const base = defaultPrompts(config.language);
  const p = config.prompts ?? {};
  return {
    instruction_system: base.instruction_system,
    types: {
      qa: p.qa ?? base.types.qa,
      task: p.task ?? base.types.task,
      reasoning: p.reasoning ?? base.types.reasoning,
      creative: p.creative ?? base.types.creative,
    },
    response_system: p.response_system ?? base.response_system,
    self_instruct: p.self_instruct ?? base.self_instruct,
  };
}

/** Identifies a job by everything that shapes its rows (not paths, not concurrency). */
function jobIdOf(config: BuildConfig, taxonomy: Taxonomy, seedTasks: SeedTask[] | undefined): string {
  const shape = {
    ...config,
    out: undefined,
    rejects: undefined,
    state: undefined,
    llm: {
      base_url: config.llm.base_url,
      model: config.llm.model,
      extra_body: config.llm.extra_body,
      // a local model's answers also depend on its adapter and prompt template; these are all
      // undefined for kind openai, so the ids of those jobs stay as they were
      ...(config.llm.kind === "local"
        ? {
            kind: config.llm.kind,
            adapter: config.llm.adapter,
            tokenizer: config.llm.tokenizer,
            template: config.llm.template,
            chat_template: config.llm.chat_template,
          }
        : {}),
    },
    taxonomy,
    seedTasks: seedTasks ? createHash("sha256").update(JSON.stringify(seedTasks)).digest("hex") : undefined,
  };
  return `build-${stableHash(shape).slice(0, 16)}`;
}

export async function buildInstructionData(config: BuildConfig, rt: BuildRuntime): Promise<BuildResult> {
  const taxonomy = loadTaxonomy(config.taxonomy);
  const seedTasks =
    config.mode === "self-instruct" ? loadSeedTasks(config.self_instruct!.seed_tasks) : undefined;
  const job = jobIdOf(config, taxonomy, seedTasks);
  const prompts = promptSet(config);
  const idPrefix = job.slice(6, 14);
  const saveUsage = jobUsageSaver(rt.store, job, rt.meter);

  const budget = config.budget;
  let inFlight = 0;
  let asked = 0;
  const requestsSent = () => {
    const u = rt.meter?.summary();
    return u ? u.requests + u.retries : asked;
  };
  /** Why no further request may be sent, or undefined while the budget lasts. */
  const budgetSpent = (): string | undefined => {
    if (!budget) return undefined;
    const u = rt.meter?.summary();
    if (budget.max_requests !== undefined && requestsSent() + inFlight >= budget.max_requests)
      return `budget.max_requests ${budget.max_requests} reached (${requestsSent() + inFlight} requests sent)`;
    if (budget.max_tokens !== undefined && u && u.prompt_tokens + u.completion_tokens >= budget.max_tokens)
      return `budget.max_tokens ${budget.max_tokens} reached (${u.prompt_tokens + u.completion_tokens} tokens used)`;
    if (budget.max_cost !== undefined && u && u.cost >= budget.max_cost)
      return `budget.max_cost ${budget.max_cost} reached (cost ${u.cost.toFixed(4)})`;
    return undefined;
  };
  const stats = { kept: 0, rejects: new Map<string, number>() };
  const noteReject = (reasons: string[]) => {
    const k = rejectKind(reasons[0] ?? "rejected");
    stats.rejects.set(k, (stats.rejects.get(k) ?? 0) + 1);
  };
  const report = (p: SlotJobProgress, phase: string, kept: number) =>
    rt.onProgress?.({
      ...p,
      phase,
      kept,
      rejects: Object.fromEntries(stats.rejects),
      requests: requestsSent(),
    });

  const ask = async (messages: ChatMessage[], maxTokens: number, slotSeed: number) => {
    const spent = budgetSpent();
    if (spent) throw new BudgetSpent(spent);
    const before = rt.meter?.summary().cached_requests;
    inFlight++;
    asked++;
    let r: Awaited<ReturnType<LlmBackend["chat"]>>;
    try {
      r = await rt.backend.chat(messages, {
        temperature: config.generation.temperature,
        top_p: config.generation.top_p,
        max_tokens: maxTokens,
        seed: slotSeed,
      });
    } finally {
      inFlight--;
    }
    // a cached answer was not a request
    if (before !== undefined && rt.meter!.summary().cached_requests > before) asked--;
    return r.choices[0];
  };

  const respond = async (instruction: string, input: string, slotSeed: number) =>
    ask(
      [
        { role: "system", content: prompts.response_system },
        { role: "user", content: userTurn(instruction, input) },
      ],
      config.generation.max_tokens,
      seedFrom(slotSeed, "response"),
    );

  const makeRecord = (
    slot: number,
    instruction: string,
    input: string,
    response: { text: string; finish_reason: string },
    meta: Record<string, unknown>,
  ): SftRecord => ({
    id: `b${idPrefix}-${String(slot).padStart(6, "0")}`,
    messages: [
      { role: "user", content: userTurn(instruction, input) },
      { role: "assistant", content: response.text.trim() },
    ],
    meta: {
      source: "build",
      language: config.language,
      model: config.llm.model,
      finish_reason: response.finish_reason,
      ...meta,
    },
  });

  const parallel = config.llm.concurrency * 2;
  let progress: SlotJobProgress;
  let stoppedBy: string | undefined;
  const plan: Array<{ topic: string; type: PromptType }> = [];
  if (config.mode === "topics")
    for (const topic of config.topics)
      for (const type of config.prompt_types)
        for (let k = 0; k < config.per_topic; k++) plan.push({ topic, type });
  const target = config.mode === "topics" ? plan.length : config.self_instruct!.num_instructions;
  // a spent budget ends generation, not the build: what is finished is still written
  const stopOnBudget = (e: unknown): SlotJobProgress => {
    if (!(e instanceof BudgetSpent)) throw e;
    stoppedBy ??= e.message;
    return { done: 0, total: target, resumed: 0 };
  };
  if (config.mode === "topics") {
    const slots = plan.map((_, i) => i);
    progress = await runSlots(
      rt.store,
      job,
      slots,
      async (slot) => {
        const { topic, type } = plan[slot];
        const draw = drawFromTaxonomy(taxonomy, config.seed, slot);
        const slotSeed = seedFrom(config.seed, "slot", slot);
        const vars = { topic, ...draw, n: slot + 1 };
        const reply = await ask(
          [
            { role: "system", content: prompts.instruction_system },
            { role: "user", content: renderPrompt(prompts.types[type], vars) },
          ],
          config.generation.instruction_max_tokens,
          slotSeed,
        );
        const { instruction, input } = parseInstructionReply(reply.text);
        const meta = {
          topic,
          type,
          task: `${draw.task_type}/${draw.subtype}`,
          domain: draw.domain,
          difficulty: draw.difficulty,
          style: draw.style,
        };
        if (!instruction) {
          noteReject(["empty instruction"]);
          return {
            status: "rejected",
            data: { stage: "build", reasons: ["empty instruction"], candidate: reply.text, meta },
          };
        }
        const response = await respond(instruction, input, slotSeed);
        const record = makeRecord(slot, instruction, input, response, meta);
        if (!response.text.trim()) {
          noteReject(["empty response"]);
          return { status: "rejected", data: { stage: "build", reasons: ["empty response"], record } };
        }
        stats.kept++;
        return { status: "ok", data: record };
      },
      { parallel, onCommit: saveUsage, onProgress: (p) => report(p, "generate", stats.kept) },
    ).catch(stopOnBudget);
  } else {
    progress = await selfInstruct(
      config,
      rt,
      job,
      prompts,
      seedTasks!,
      ask,
      respond,
      makeRecord,
      parallel,
      saveUsage,
      { noteReject, report, stop: (why) => (stoppedBy ??= why) },
    ).catch(stopOnBudget);
  }

  const out = config.out;
  const rejectsPath = config.rejects ?? rejectsPathFor(out);
  let written = 0;
  let rejected = 0;
  const okRows = function* () {
    for (const row of rt.store.slots(job)) if (row.status === "ok") yield row.data;
  };
  const rejectRows = function* () {
    for (const row of rt.store.slots(job)) {
      if (row.status !== "rejected") continue;
      const d = row.data as { stage: string; reasons: string[]; record?: SftRecord; candidate?: unknown };
      yield {
        id: d.record?.id ?? `b${idPrefix}-${String(row.slot).padStart(6, "0")}`,
        stage: d.stage,
        reasons: d.reasons,
        ...(d.record ? { record: d.record } : { candidate: d.candidate }),
      } satisfies RejectedRow;
    }
  };
  written = (await writeJsonl(out, okRows())).count;
  rejected = (await writeJsonl(rejectsPath, rejectRows())).count;
  return {
    job,
    out,
    rejects: rejectsPath,
    written,
    rejected,
    resumed: progress.resumed,
    target,
    ...(stoppedBy ? { stopped_by: stoppedBy } : {}),
    usage: saveUsage(),
  };
}

/**
 * Token and cost accounting per job, across runs: what earlier (possibly killed) runs of
 * the job paid plus what this run paid so far, saved with each committed slot.
 */
export function jobUsageSaver(
  store: LlmStore,
  job: string,
  meter?: UsageMeter,
): () => UsageSummary | undefined {
  const previous = (store.jobInfo(job) as { usage?: UsageSummary } | undefined)?.usage;
  return () => {
    if (!meter) return previous;
    const now = meter.summary();
    const total: UsageSummary = previous
      ? {
          requests: previous.requests + now.requests,
          cached_requests: previous.cached_requests + now.cached_requests,
          retries: previous.retries + now.retries,
          prompt_tokens: previous.prompt_tokens + now.prompt_tokens,
          completion_tokens: previous.completion_tokens + now.completion_tokens,
          cost: previous.cost + now.cost,
        }
      : now;
    store.setJobInfo(job, { usage: total });
    return total;
  };
}

/** The self-instruct heuristics: length bounds, blocked words, and a sane first character. */
export function proposalProblem(
  instruction: string,
  opts: { blocked_words: string[]; min_words: number; max_words: number },
): string | undefined {
  const units = countLength(instruction).units;
  if (units < opts.min_words) return `instruction too short (${units.toFixed(1)} word units)`;
  if (units > opts.max_words) return `instruction too long (${units.toFixed(1)} word units)`;
  const lower = instruction.toLowerCase();
  for (const w of opts.blocked_words) {
    const cjk = /[\u3400-\u9fff]/.test(w);
    const re = cjk
      ? null
      : new RegExp(`(?<![\\p{L}\\p{N}])${w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\p{L}\\p{N}])`, "u");
    if (cjk ? lower.includes(w) : re!.test(lower))
      return `mentions "${w}", which a text model cannot see or make`;
  }
  if (/^[\p{P}\p{S}]/u.test(instruction) && !/^["“「(（]/.test(instruction)) return "starts with punctuation";
  return undefined;
}

function formatSeedExample(t: { instruction: string; input: string }, i: number): string {
  return `${i}. Instruction: ${t.instruction}\n   Input: ${t.input || "<noinput>"}`;
}

async function selfInstruct(
  config: BuildConfig,
  rt: BuildRuntime,
  job: string,
  prompts: PromptSet,
  seeds: SeedTask[],
  ask: (
    m: ChatMessage[],
    maxTokens: number,
    seed: number,
  ) => Promise<{ text: string; finish_reason: string }>,
  respond: (i: string, inp: string, seed: number) => Promise<{ text: string; finish_reason: string }>,
  makeRecord: (
    slot: number,
    i: string,
    inp: string,
    r: { text: string; finish_reason: string },
    meta: Record<string, unknown>,
  ) => SftRecord,
  parallel: number,
  saveUsage: () => void,
  track: {
    noteReject: (reasons: string[]) => void;
    report: (p: SlotJobProgress, phase: string, kept: number) => void;
    stop: (why: string) => void;
  },
): Promise<SlotJobProgress> {
  const si = config.self_instruct!;
  const candJob = `${job}:candidates`;
  const filter = new RougeFilter(si.rouge_threshold);
  for (const s of seeds) filter.add(s.instruction);
  const pool: Array<{ instruction: string; input: string }> = [];
  const kept: Array<{ slot: number; instruction: string; input: string }> = [];
  const rejects = new Map<number, { reasons: string[]; candidate: unknown }>();
  let resumedCandidates = 0;
  // Rounds are replayed from the stored candidates on resume, so the pool (and therefore
  // every later prompt) is the same as in an uninterrupted run.
  let budgetStop: BudgetSpent | undefined;
  let round = 0;
  for (; round < si.max_rounds && kept.length < si.num_instructions; round++) {
    const slots = Array.from({ length: si.batch_size }, (_, j) => round * si.batch_size + j);
    const poolSnapshot = pool.slice();
    let p: SlotJobProgress;
    try {
      p = await runSlots(
        rt.store,
        candJob,
        slots,
        async (slot) => {
          const rng = makeRng(seedFrom(config.seed, "slot", slot));
          const examples = [
            ...sample(seeds, si.seed_examples, rng),
            ...sample(poolSnapshot, si.machine_examples, rng),
          ].map(formatSeedExample);
          const reply = await ask(
            [
              {
                role: "user",
                content: renderPrompt(prompts.self_instruct, {
                  examples: examples.join("\n"),
                  n: examples.length + 1,
                }),
              },
            ],
            config.generation.instruction_max_tokens,
            seedFrom(config.seed, "slot", slot),
          );
          return { status: "ok", data: reply.text };
        },
        { parallel, onCommit: saveUsage },
      );
    } catch (e) {
      if (!(e instanceof BudgetSpent)) throw e;
      // judge the proposals that did come back, then stop
      budgetStop = e;
      p = { done: 0, total: slots.length, resumed: 0 };
    }
    resumedCandidates += p.resumed;
    for (const slot of slots) {
      const row = rt.store.slot(candJob, slot);
      if (!row) continue;
      const text = row.data as string;
      const { instruction, input } = parseInstructionReply(text);
      const reject = (reasons: string[], candidate: unknown) => {
        rejects.set(slot, { reasons, candidate });
        track.noteReject(reasons);
      };
      if (!instruction) {
        reject(["empty instruction"], text);
        continue;
      }
      const problem = proposalProblem(instruction, si);
      if (problem) {
        reject([problem], { instruction, input });
        continue;
      }
      const hit = filter.findSimilar(instruction);
      if (hit) {
        reject([`rouge-l ${hit.score.toFixed(3)} > ${si.rouge_threshold} with a kept instruction`], {
          instruction,
          input,
        });
        continue;
      }
      if (kept.length >= si.num_instructions) break;
      filter.add(instruction);
      pool.push({ instruction, input });
      kept.push({ slot, instruction, input });
    }
    track.report(
      { done: kept.length, total: si.num_instructions, resumed: resumedCandidates },
      "propose",
      kept.length,
    );
    if (budgetStop) break;
  }
  if (!budgetStop && kept.length < si.num_instructions)
    track.stop(
      `max_rounds ${si.max_rounds} reached with ${kept.length} of ${si.num_instructions} instructions kept (${round * si.batch_size} proposals)`,
    );
  for (const [slot, r] of rejects) {
    if (rt.store.slot(job, slot) === undefined)
      rt.store.saveSlot(job, { slot, status: "rejected", data: { stage: "self-instruct", ...r } });
  }
  if (budgetStop) throw budgetStop;
  const bySlot = new Map(kept.map((k) => [k.slot, k]));
  let responded = 0;
  return runSlots(
    rt.store,
    job,
    kept.map((k) => k.slot),
    async (slot) => {
      const k = bySlot.get(slot)!;
      const slotSeed = seedFrom(config.seed, "slot", slot);
      const response = await respond(k.instruction, k.input, slotSeed);
      const record = makeRecord(slot, k.instruction, k.input, response, { type: "self-instruct" });
      responded++;
      return { status: "ok", data: record };
    },
    { parallel, onCommit: saveUsage, onProgress: (p) => track.report(p, "respond", p.resumed + responded) },
  );
}
