/**
 * `sft data augment`: new rows from existing ones until the output reaches
 * multiplier × input rows. Candidate slots are planned deterministically (parent, method,
 * variant from the seed); each slot's result is committed to the job store, so a killed
 * run resumes, and the first `target` valid slots in slot order make the output — the same
 * file whether or not the run was interrupted. Every new row records meta.parent and
 * meta.augmentation ("paraphrase", "difficulty:harder", "format:qa", "context:business"…).
 */
import type { AugmentConfig, AugmentMethod } from "../../config/augment.js";
import { AUGMENT_METHODS } from "../../config/augment.js";
import type { UsageMeter, UsageSummary } from "../../llm/accounting.js";
import { type LlmStore, stableHash } from "../../llm/store.js";
import { cosineSimilarity, type EmbeddingBackend, type LlmBackend } from "../../llm/types.js";
import type { Message, SftRecord } from "../../record/record.js";
import { normalizeForMatch } from "../../text/normalize.js";
import { rougeL } from "../../text/rouge.js";
import { isMostlyCjk } from "../../text/tokenize.js";
import { makeRng, seedFrom, shuffled } from "../../util/rng.js";
import { jobUsageSaver, rejectsPathFor } from "../build/builder.js";
import { runSlots } from "../build/job.js";
import { renderPrompt } from "../build/prompts.js";
import { writeJsonl } from "../io/index.js";
import { instructionAndResponse } from "../quality/quality.js";
import { lexicalRelevance } from "../quality/relevance.js";
import { type FormatVariant, formatVariant } from "./format.js";
import {
  CONTEXT_NAMES,
  CONTEXT_PROMPT,
  EVOLVE_PROMPT,
  HARDER_OPERATIONS,
  PARAPHRASE_PROMPTS,
  RESPONSE_SYSTEM,
} from "./prompts.js";

export interface AugmentRuntime {
  backend?: LlmBackend;
  embedder?: EmbeddingBackend;
  store: LlmStore;
  meter?: UsageMeter;
  onProgress?: (p: { done: number; total: number; ok: number; target: number }) => void;
}

export interface AugmentResult {
  job: string;
  out: string;
  rejects: string;
  input_rows: number;
  originals: number;
  augmented: number;
  rejected: number;
  target: number;
  by_method: Record<string, number>;
  usage?: UsageSummary;
}

type Lang = "en" | "zh";

interface SlotPlan {
  parent: number;
  method: AugmentMethod;
  variant: number;
}

/** Why a rewritten instruction is not a valid paraphrase, or undefined when it is. */
export function paraphraseProblem(
  original: string,
  rewritten: string,
  opts: { min_change: number; min_meaning: number },
  embeddingSimilarity?: number,
): string | undefined {
  if (!rewritten.trim()) return "empty rewrite";
  if (normalizeForMatch(original) === normalizeForMatch(rewritten)) return "text not changed";
  const f = rougeL(rewritten, original).f;
  if (f > 1 - opts.min_change) return `too close to the original (ROUGE-L ${f.toFixed(2)})`;
  const meaning = Math.max(lexicalRelevance(original, rewritten).score, embeddingSimilarity ?? 0);
  if (meaning < opts.min_meaning)
    return `meaning not kept (similarity ${meaning.toFixed(2)} < ${opts.min_meaning})`;
  const ratio = rewritten.length / Math.max(1, original.length);
  if (ratio < 0.4 || ratio > 2.5) return `length changed too much (×${ratio.toFixed(2)})`;
  return undefined;
}

/** Strips wrappers a model may leave around a rewritten instruction. */
export function cleanRewrite(text: string): string {
  return text
    .trim()
    .replace(/^<<<|>>>$/g, "")
    .replace(
      /^(?:#?\s*(?:rewritten|new|simpler|harder)\s+(?:prompt|instruction)#?|改写后的指令|新指令)\s*[:：]\s*/i,
      "",
    )
    .replace(/^["“「](.*)["”」]$/s, "$1")
    .trim();
}

function pickWeighted(weights: Record<AugmentMethod, number>, r: number): AugmentMethod {
  const total = AUGMENT_METHODS.reduce((s, m) => s + weights[m], 0);
  let x = r * total;
  for (const m of AUGMENT_METHODS) {
    x -= weights[m];
    if (x < 0 && weights[m] > 0) return m;
  }
  return AUGMENT_METHODS.filter((m) => weights[m] > 0).at(-1)!;
}

export async function augmentRecords(
  config: AugmentConfig,
  parents: SftRecord[],
  rt: AugmentRuntime,
): Promise<AugmentResult> {
  const job = `augment-${stableHash({
    ...config,
    in: undefined,
    out: undefined,
    rejects: undefined,
    state: undefined,
    llm: config.llm && { base_url: config.llm.base_url, model: config.llm.model },
    parents: stableHash(parents),
  }).slice(0, 16)}`;
  const saveUsage = jobUsageSaver(rt.store, job, rt.meter);
  const n = parents.length;
  const target = Math.max(
    0,
    Math.round((config.keep_originals ? config.multiplier - 1 : config.multiplier) * n),
  );
  const maxSlots = n === 0 ? 0 : Math.ceil(target * (1 + config.spare));
  const plan = (slot: number): SlotPlan => {
    const cycle = Math.floor(slot / n);
    const order = shuffled(
      parents.map((_, i) => i),
      makeRng(seedFrom(config.seed, "parents", cycle)),
    );
    const rng = makeRng(seedFrom(config.seed, "slot", slot));
    return {
      parent: order[slot % n],
      method: pickWeighted(config.methods, rng()),
      variant: Math.floor(rng() * 1e9),
    };
  };
  const langOf = (text: string): Lang =>
    config.language === "auto" ? (isMostlyCjk(text) ? "zh" : "en") : config.language;

  const gen = config.generation;
  const rewrite = async (prompt: string, slot: number) => {
    const r = await rt.backend!.chat([{ role: "user", content: prompt }], {
      temperature: gen.temperature,
      top_p: gen.top_p,
      max_tokens: gen.instruction_max_tokens,
      seed: seedFrom(config.seed, "rewrite", slot),
    });
    return cleanRewrite(r.choices[0].text);
  };
  const answer = async (instruction: string, lang: Lang, slot: number) => {
    const r = await rt.backend!.chat(
      [
        { role: "system", content: RESPONSE_SYSTEM[lang] },
        { role: "user", content: instruction },
      ],
      {
        temperature: gen.temperature,
        top_p: gen.top_p,
        max_tokens: gen.max_tokens,
        seed: seedFrom(config.seed, "answer", slot),
      },
    );
    return r.choices[0];
  };

  const makeRow = (
    slot: number,
    p: SlotPlan,
    tag: string,
    messages: Message[],
    extra: Record<string, unknown> = {},
  ) => {
    const parent = parents[p.parent];
    return {
      id: `${parent.id}~${tag.replace(/[:]/g, "-")}-${slot}`,
      messages,
      meta: {
        ...parent.meta,
        ...extra,
        source: "augment",
        parent: parent.id,
        augmentation: tag,
        quality: undefined,
      },
    } as SftRecord;
  };

  const work = async (slot: number) => {
    const p = plan(slot);
    const parent = parents[p.parent];
    const { instruction, response } = instructionAndResponse(parent);
    const lang = langOf(instruction);
    const reject = (tag: string, reasons: string[], candidate?: unknown) => ({
      status: "rejected" as const,
      data: { stage: "augment", augmentation: tag, parent: parent.id, reasons, candidate },
    });
    // keep the parent's earlier turns (system prompt, history) and replace the last exchange
    const lastUser = parent.messages.map((m) => m.role).lastIndexOf("user");
    const prefix = parent.messages.slice(0, Math.max(0, lastUser));
    if (!instruction || !response) return reject(p.method, ["parent has no user/assistant exchange"]);

    if (p.method === "format") {
      const variants = config.format.variants;
      const v = variants[p.variant % variants.length] as FormatVariant;
      return {
        status: "ok" as const,
        data: makeRow(slot, p, `format:${v}`, [...prefix, ...formatVariant(instruction, response, v, lang)]),
      };
    }
    if (p.method === "paraphrase") {
      const prompts = config.paraphrase.prompts ?? PARAPHRASE_PROMPTS[lang];
      const k = p.variant % prompts.length;
      const text = await rewrite(renderPrompt(prompts[k], { text: instruction }), slot);
      let sim: number | undefined;
      if (rt.embedder && text) {
        const [a, b] = await rt.embedder.embed([instruction, text]);
        sim = cosineSimilarity(a, b);
      }
      const problem = paraphraseProblem(instruction, text, config.paraphrase, sim);
      if (problem) return reject("paraphrase", [problem], text);
      return {
        status: "ok" as const,
        data: makeRow(
          slot,
          p,
          "paraphrase",
          [...prefix, { role: "user", content: text }, { role: "assistant", content: response }],
          { paraphrase_prompt: k },
        ),
      };
    }
    let tag: string;
    let prompt: string;
    if (p.method === "difficulty") {
      const dirs = config.difficulty.directions;
      const dir = dirs[p.variant % dirs.length];
      const ops = HARDER_OPERATIONS[lang];
      const op = ops[Math.floor(p.variant / dirs.length) % ops.length];
      tag = `difficulty:${dir}`;
      prompt = renderPrompt(EVOLVE_PROMPT[lang][dir], { text: instruction, operation: op });
    } else {
      const ctxs = config.context.contexts;
      const c = ctxs[p.variant % ctxs.length];
      tag = `context:${c}`;
      prompt = renderPrompt(CONTEXT_PROMPT[lang], { text: instruction, context: CONTEXT_NAMES[lang][c] });
    }
    const text = await rewrite(prompt, slot);
    if (!text) return reject(tag, ["empty rewrite"]);
    if (normalizeForMatch(text) === normalizeForMatch(instruction))
      return reject(tag, ["text not changed"], text);
    if (/rewritten|#.*prompt#|改写/i.test(text)) return reject(tag, ["rewrite mentions the rewriting"], text);
    if (lexicalRelevance(instruction, text).score < 0.5)
      return reject(tag, ["drifted off the original subject"], text);
    const reply = await answer(text, lang, slot);
    if (!reply.text.trim()) return reject(tag, ["empty response"], text);
    if (reply.finish_reason === "length")
      return reject(tag, ["response truncated at max_tokens"], { instruction: text, response: reply.text });
    const difficulty =
      tag === "difficulty:harder" ? "hard" : tag === "difficulty:simpler" ? "easy" : parent.meta.difficulty;
    return {
      status: "ok" as const,
      data: makeRow(
        slot,
        p,
        tag,
        [...prefix, { role: "user", content: text }, { role: "assistant", content: reply.text.trim() }],
        { difficulty, finish_reason: reply.finish_reason },
      ),
    };
  };

  // Slots run in batches until `target` are valid; the output takes the first `target`
  // valid slots in slot order, so the batch size (and any interruption) cannot change it.
  const batch = Math.max(8, (config.llm?.concurrency ?? 4) * 4);
  let ok = 0;
  let next = 0;
  const countOk = (upTo: number) => {
    let c = 0;
    for (const row of rt.store.slots(job)) if (row.slot < upTo && row.status === "ok") c++;
    return c;
  };
  while (next < maxSlots) {
    ok = countOk(next);
    if (ok >= target) break;
    const need = target - ok;
    const end = Math.min(maxSlots, next + Math.max(batch, need));
    const slots = Array.from({ length: end - next }, (_, i) => next + i);
    await runSlots(rt.store, job, slots, work, {
      parallel: (config.llm?.concurrency ?? 4) * 2,
      onCommit: saveUsage,
    });
    next = end;
    rt.onProgress?.({ done: next, total: maxSlots, ok: countOk(next), target });
  }

  const byMethod: Record<string, number> = {};
  const selected: SftRecord[] = [];
  const rejectRows: unknown[] = [];
  for (const row of rt.store.slots(job)) {
    if (row.slot >= next) break;
    if (row.status === "ok" && selected.length < target) {
      const r = row.data as SftRecord;
      selected.push(r);
      const m = String(r.meta.augmentation).split(":")[0];
      byMethod[m] = (byMethod[m] ?? 0) + 1;
    } else if (row.status === "rejected") {
      const d = row.data as { augmentation: string; parent: string; reasons: string[]; candidate?: unknown };
      rejectRows.push({
        id: `${d.parent}~${d.augmentation.replace(/:/g, "-")}-${row.slot}`,
        stage: "augment",
        ...d,
      });
    }
  }
  const rejectsPath = config.rejects ?? rejectsPathFor(config.out);
  const originals = config.keep_originals ? parents : [];
  const strip = (r: SftRecord) => JSON.parse(JSON.stringify(r)) as SftRecord;
  await writeJsonl(config.out, [...originals, ...selected].map(strip));
  await writeJsonl(rejectsPath, rejectRows);
  return {
    job,
    out: config.out,
    rejects: rejectsPath,
    input_rows: n,
    originals: originals.length,
    augmented: selected.length,
    rejected: rejectRows.length,
    target,
    by_method: byMethod,
    usage: saveUsage(),
  };
}
