/** `sft data quality IN --out OUT`: score every row, keep the passing ones, write rejects with reasons. */
import type { Command } from "commander";
import { loadQualityConfig, type QualityConfig, qualityConfigSchema } from "../config/build.js";
import { checkConfig } from "../config/load.js";
import { rejectsPathFor } from "../data/build/builder.js";
import { readRecords, writeJsonl, writeRecords } from "../data/io/index.js";
import { checkRecords, QualityChecker } from "../data/quality/index.js";
import { createEmbeddingBackend, createLlmBackend, LlmStore } from "../llm/index.js";
import type { SftRecord } from "../record/record.js";

interface QualityFlags {
  out: string;
  rejects?: string;
  config?: string;
  minWords?: string;
  relevanceThreshold?: string;
  minScore?: string;
  blocklist?: string;
  state?: string;
}

export async function runDataQuality(input: string, flags: QualityFlags): Promise<void> {
  const base: QualityConfig = flags.config ? loadQualityConfig(flags.config) : qualityConfigSchema.parse({});
  const config = checkConfig(qualityConfigSchema, {
    ...base,
    length: { ...base.length, ...(flags.minWords ? { min_words: Number(flags.minWords) } : {}) },
    relevance: {
      ...base.relevance,
      ...(flags.relevanceThreshold ? { threshold: Number(flags.relevanceThreshold) } : {}),
    },
    safety: {
      ...base.safety,
      blocklist: [
        ...base.safety.blocklist,
        ...(flags.blocklist ? flags.blocklist.split(",").filter(Boolean) : []),
      ],
    },
    ...(flags.minScore ? { min_score: Number(flags.minScore) } : {}),
  });
  const store = config.safety.moderation
    ? new LlmStore(flags.state ?? `${flags.out}.moderation.sqlite`)
    : undefined;
  try {
    const checker = new QualityChecker(config, {
      embedder: config.relevance.embedding ? createEmbeddingBackend(config.relevance.embedding) : undefined,
      moderator: config.safety.moderation ? createLlmBackend(config.safety.moderation, { store }) : undefined,
    });
    const rejects: unknown[] = [];
    let total = 0;
    let scoreSum = 0;
    const reasonCounts: Record<string, number> = {};
    async function* passing(): AsyncGenerator<SftRecord> {
      for await (const d of checkRecords(readRecords(input), checker)) {
        total++;
        scoreSum += d.report.score;
        if (d.report.passed) yield d.record;
        else {
          for (const r of d.report.reasons) {
            // the summary groups by kind: numbers and the per-row details in (…) are left out
            const k = r.replace(/\s*\(.*$/s, "").replace(/[\d.]+/g, "N");
            reasonCounts[k] = (reasonCounts[k] ?? 0) + 1;
          }
          rejects.push({
            id: d.record.id,
            stage: "quality",
            reasons: d.report.reasons,
            score: d.report.score,
            parts: d.report.parts,
            record: d.record,
          });
        }
      }
    }
    const { count } = await writeRecords(flags.out, passing());
    const rejectsPath = flags.rejects ?? rejectsPathFor(flags.out);
    await writeJsonl(rejectsPath, rejects);
    process.stdout.write(
      `${JSON.stringify({ rows: total, passed: count, rejected: rejects.length, mean_score: total ? scoreSum / total : 0, reasons: reasonCounts, out: flags.out, rejects: rejectsPath })}\n`,
    );
  } finally {
    store?.close();
  }
}

export function register(parent: Command): void {
  parent
    .command("quality")
    .description(
      "score rows (length, relevance, completeness, safety); keep the good ones, write rejects with reasons",
    )
    .argument("<in>", "dataset file")
    .requiredOption("--out <file>", "passing rows (meta.quality set)")
    .option("--rejects <file>", "rejected rows with reasons (default: OUT.rejects.jsonl)")
    .option("--config <file>", "quality config YAML")
    .option("--min-words <n>", "minimum response length in word units")
    .option("--relevance-threshold <x>", "minimum relevance (default 0.7)")
    .option("--min-score <x>", "minimum combined score")
    .option("--blocklist <words>", "comma-separated blocked words")
    .option("--state <file>", "cache for LLM moderation answers")
    .addHelpText(
      "after",
      "\nExample:\n  sft data quality built.jsonl --out clean.jsonl --config quality.yaml",
    )
    .action((input: string, flags: QualityFlags) => runDataQuality(input, flags));
}
