/**
 * Streaming deduplication of SFT records, in three stages applied to each row in order:
 *  1. exact: the normalised text (case, spacing, punctuation, full/half width ignored) was seen;
 *  2. near: MinHash LSH finds a kept row with estimated Jaccard ≥ near_threshold;
 *  3. rouge: the instruction's ROUGE-L F with a kept instruction exceeds rouge_threshold.
 * A row is kept when it passes all enabled stages; only kept rows enter the indexes, so the
 * first occurrence wins and the output does not depend on anything after it.
 */
import { createHash } from "node:crypto";
import type { DedupConfig } from "../../config/build.js";
import type { SftRecord } from "../../record/record.js";
import { normalizeForMatch } from "../../text/normalize.js";
import { tokenize } from "../../text/tokenize.js";
import { MinHashLsh } from "./minhash.js";
import { RougeFilter } from "./rouge-filter.js";

export interface DuplicateReason {
  stage: "exact" | "near" | "rouge";
  duplicate_of: string;
  /** similarity that triggered the drop (1 for exact) */
  score: number;
}

export interface DedupDecision {
  record: SftRecord;
  kept: boolean;
  reason?: DuplicateReason;
}

export interface DedupStats {
  rows: number;
  kept: number;
  exact: number;
  near: number;
  rouge: number;
}

export function instructionOf(r: SftRecord): string {
  return r.messages
    .filter((m) => m.role === "user")
    .map((m) => m.content)
    .join("\n");
}

export function conversationOf(r: SftRecord): string {
  return r.messages.map((m) => m.content).join("\n");
}

export class Deduplicator {
  private readonly exactSeen = new Map<string, string>();
  private readonly lsh?: MinHashLsh;
  private readonly rouge?: RougeFilter;
  private readonly keptIds: string[] = [];
  private readonly rougeIds: string[] = [];
  readonly stats: DedupStats = { rows: 0, kept: 0, exact: 0, near: 0, rouge: 0 };

  /** Fixes the ROUGE-L token order from sample records (see RougeFilter.learnOrder); call before the first check. */
  learnOrder(sample: readonly SftRecord[]): void {
    this.rouge?.learnOrder(sample.map((r) => tokenize(instructionOf(r))));
  }

  constructor(private readonly config: DedupConfig) {
    if (config.near) {
      this.lsh = new MinHashLsh(config.near_threshold, {
        numPerm: config.num_perm,
        shingle: config.shingle,
        seed: config.seed,
      });
    }
    if (config.rouge) this.rouge = new RougeFilter(config.rouge_threshold);
  }

  check(record: SftRecord): DedupDecision {
    this.stats.rows++;
    const text = this.config.field === "instruction" ? instructionOf(record) : conversationOf(record);
    let exactKey: string | undefined;
    if (this.config.exact) {
      exactKey = createHash("sha1").update(normalizeForMatch(text)).digest("base64");
      const first = this.exactSeen.get(exactKey);
      if (first !== undefined) {
        this.stats.exact++;
        return { record, kept: false, reason: { stage: "exact", duplicate_of: first, score: 1 } };
      }
    }
    let sig: Uint32Array | undefined;
    if (this.lsh) {
      sig = this.lsh.signature(text);
      const hit = this.lsh.query(sig);
      if (hit) {
        this.stats.near++;
        return {
          record,
          kept: false,
          reason: { stage: "near", duplicate_of: this.keptIds[hit.index], score: hit.similarity },
        };
      }
    }
    let instructionTokens: string[] | undefined;
    if (this.rouge) {
      instructionTokens = tokenize(instructionOf(record));
      const hit = this.rouge.findSimilarTokens(instructionTokens);
      if (hit) {
        this.stats.rouge++;
        return {
          record,
          kept: false,
          reason: { stage: "rouge", duplicate_of: this.rougeIds[hit.index], score: hit.score },
        };
      }
    }
    if (exactKey !== undefined) this.exactSeen.set(exactKey, record.id);
    if (this.lsh && sig) {
      this.lsh.insert(sig);
      this.keptIds.push(record.id);
    }
    if (this.rouge && instructionTokens) {
      this.rouge.addTokens(instructionTokens);
      this.rougeIds.push(record.id);
    }
    this.stats.kept++;
    return { record, kept: true };
  }
}

/**
 * Streams decisions for every input row, in input order. The first `warmup` rows are read
 * ahead to learn the token order of the ROUGE-L index (memory: those rows only).
 */
export async function* dedupRecords(
  records: AsyncIterable<SftRecord> | Iterable<SftRecord>,
  config: DedupConfig,
  opts: { warmup?: number } = {},
): AsyncGenerator<DedupDecision> {
  const d = new Deduplicator(config);
  const warmup = opts.warmup ?? 10_000;
  const head: SftRecord[] = [];
  let learned = false;
  for await (const r of records) {
    if (!learned) {
      head.push(r);
      if (head.length < warmup) continue;
      d.learnOrder(head);
      learned = true;
      for (const h of head) yield d.check(h);
      head.length = 0;
      continue;
    }
    yield d.check(r);
  }
  if (!learned) {
    d.learnOrder(head);
    for (const h of head) yield d.check(h);
  }
}
