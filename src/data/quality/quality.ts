/**
 * The combined quality check of one record: length, relevance, completeness and safety,
 * each scored in [0, 1]; the quality score is their weighted mean. A record passes when
 * every check passes and the score reaches min_score; a failing record keeps every reason.
 */
import type { QualityConfig } from "../../config/build.js";
import type { EmbeddingBackend, LlmBackend } from "../../llm/types.js";
import type { SftRecord } from "../../record/record.js";
import { countLength } from "../../text/tokenize.js";
import { checkCompleteness } from "./completeness.js";
import { checkLength } from "./length.js";
import { type RelevanceResult, relevance } from "./relevance.js";
import { SafetyChecker } from "./safety.js";

export interface QualityParts {
  length: number;
  relevance: number;
  completeness: number;
  safety: number;
}

export interface QualityReport {
  passed: boolean;
  score: number;
  parts: QualityParts;
  reasons: string[];
}

export interface QualityRuntime {
  embedder?: EmbeddingBackend;
  moderator?: LlmBackend;
  countTokens?: (text: string) => number;
}

/** The last user turn and the last assistant turn (what the response answers). */
export function instructionAndResponse(r: SftRecord): { instruction: string; response: string } {
  let instruction = "";
  let response = "";
  for (const m of r.messages) {
    if (m.role === "user") instruction = m.content;
    else if (m.role === "assistant") response = m.content;
  }
  return { instruction, response };
}

/** Names the signal that judged the row, its score, and (lexical) the key terms not covered. */
export function relevanceReason(rel: RelevanceResult, threshold: number): string {
  const emb = rel.embedding === undefined ? "" : `, embedding ${rel.embedding.toFixed(2)}`;
  const missing =
    rel.missing.length > 0 ? `; key terms not in the answer: ${rel.missing.slice(0, 5).join(", ")}` : "";
  return `low relevance: ${rel.score.toFixed(2)} < ${threshold} (check ${rel.check}: lexical ${rel.lexical.toFixed(2)}${emb}${missing})`;
}

export class QualityChecker {
  private readonly safety: SafetyChecker;

  constructor(
    private readonly config: QualityConfig,
    private readonly rt: QualityRuntime = {},
  ) {
    this.safety = new SafetyChecker(config.safety, rt.moderator);
  }

  async check(record: SftRecord): Promise<QualityReport> {
    const { instruction, response } = instructionAndResponse(record);
    const c = this.config;
    const reasons: string[] = [];
    if (!response.trim()) reasons.push("no assistant response");
    const instrUnits = countLength(instruction, c.length.cjk_chars_per_word).units;
    if (instrUnits < c.length.min_instruction_words) {
      reasons.push(
        `instruction too short: ${instrUnits.toFixed(1)} word units < ${c.length.min_instruction_words}`,
      );
    }
    const len = checkLength(response, c.length, this.rt.countTokens);
    if (!len.ok && len.reason) reasons.push(len.reason);
    const rel = await relevance(instruction, response, this.rt.embedder);
    if (rel.score < c.relevance.threshold) {
      reasons.push(relevanceReason(rel, c.relevance.threshold));
    }
    const finish = (record.meta as Record<string, unknown>).finish_reason;
    const comp = checkCompleteness(
      instruction,
      response,
      c.completeness,
      typeof finish === "string" ? finish : undefined,
    );
    reasons.push(...comp.reasons);
    const safe = await this.safety.check(instruction, response);
    reasons.push(...safe.reasons);
    const parts: QualityParts = {
      length: len.score,
      relevance: rel.score,
      completeness: comp.score,
      safety: safe.score,
    };
    const w = c.weights;
    const total = w.length + w.relevance + w.completeness + w.safety;
    const score =
      total > 0
        ? (w.length * parts.length +
            w.relevance * parts.relevance +
            w.completeness * parts.completeness +
            w.safety * parts.safety) /
          total
        : 1;
    if (reasons.length === 0 && score < c.min_score)
      reasons.push(`quality score ${score.toFixed(2)} < ${c.min_score}`);
    return { passed: reasons.length === 0, score: Math.round(score * 1e4) / 1e4, parts, reasons };
  }
}

export interface QualityDecision {
  /** the record with meta.quality set to its score */
  record: SftRecord;
  report: QualityReport;
}

/** Streams every record with its quality report (in input order). */
export async function* checkRecords(
  records: AsyncIterable<SftRecord> | Iterable<SftRecord>,
  checker: QualityChecker,
): AsyncGenerator<QualityDecision> {
  for await (const r of records) {
    const report = await checker.check(r);
    yield { record: { ...r, meta: { ...r.meta, quality: report.score } }, report };
  }
}
