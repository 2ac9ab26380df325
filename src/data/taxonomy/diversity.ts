/**
 * Coverage of a dataset over the taxonomy: per dimension, how many rows carry each value,
 * which values are missing, and the normalised entropy (1 = perfectly even). Also lexical
 * diversity of the instructions (distinct-1/2: unique uni/bigrams over all of them).
 */
import type { SftRecord } from "../../record/record.js";
import { tokenize } from "../../text/tokenize.js";
import { type Taxonomy, taskPairs } from "./taxonomy.js";

export interface DimensionCoverage {
  /** values the taxonomy expects (empty for open dimensions like topic) */
  expected: string[];
  counts: Record<string, number>;
  covered: number;
  /** covered / expected (1 for open dimensions) */
  coverage: number;
  missing: string[];
  /** Shannon entropy of the counts / log(number of expected or seen values) */
  evenness: number;
  /** rows without this field */
  unlabelled: number;
}

export interface DiversityReport {
  rows: number;
  dimensions: Record<string, DimensionCoverage>;
  distinct_1: number;
  distinct_2: number;
}

/** Reads the taxonomy fields of a record's meta (see build: task = "type/subtype"). */
export function taxonomyFieldsOf(r: SftRecord): Record<string, string | undefined> {
  const m = r.meta as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : undefined);
  const task = str(m.task);
  const taskType = task?.includes("/") ? task.slice(0, task.indexOf("/")) : task;
  return {
    task_type: taskType,
    subtype: task?.includes("/") ? task : undefined,
    domain: str(m.domain),
    difficulty: str(m.difficulty),
    style: str(m.style),
    topic: str(m.topic),
    type: str(m.type),
  };
}

function instructionText(r: SftRecord): string {
  return r.messages
    .filter((m) => m.role === "user")
    .map((m) => m.content)
    .join("\n");
}

export async function diversityReport(
  records: AsyncIterable<SftRecord> | Iterable<SftRecord>,
  tax: Taxonomy,
): Promise<DiversityReport> {
  const expected: Record<string, string[]> = {
    task_type: Object.keys(tax.task_types),
    subtype: taskPairs(tax).map(([t, s]) => `${t}/${s}`),
    domain: tax.domains,
    difficulty: tax.difficulty,
    style: tax.style,
    topic: [],
    type: [],
  };
  const counts: Record<string, Map<string, number>> = {};
  const unlabelled: Record<string, number> = {};
  for (const d of Object.keys(expected)) {
    counts[d] = new Map();
    unlabelled[d] = 0;
  }
  const unigrams = new Set<string>();
  const bigrams = new Set<string>();
  let totalUni = 0;
  let totalBi = 0;
  let rows = 0;
  for await (const r of records) {
    rows++;
    const f = taxonomyFieldsOf(r);
    for (const d of Object.keys(expected)) {
      const v = f[d];
      if (v === undefined) unlabelled[d]++;
      else counts[d].set(v, (counts[d].get(v) ?? 0) + 1);
    }
    const toks = tokenize(instructionText(r));
    totalUni += toks.length;
    for (let i = 0; i < toks.length; i++) {
      unigrams.add(toks[i]);
      if (i + 1 < toks.length) {
        bigrams.add(`${toks[i]} ${toks[i + 1]}`);
        totalBi++;
      }
    }
  }
  const dimensions: Record<string, DimensionCoverage> = {};
  for (const [d, exp] of Object.entries(expected)) {
    const c = counts[d];
    const open = exp.length === 0;
    const missing = exp.filter((v) => !c.has(v));
    const covered = open ? c.size : exp.length - missing.length;
    const total = [...c.values()].reduce((s, x) => s + x, 0);
    let h = 0;
    for (const x of c.values()) if (x > 0) h -= (x / total) * Math.log(x / total);
    const k = open ? c.size : exp.length;
    dimensions[d] = {
      expected: exp,
      counts: Object.fromEntries([...c.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
      covered,
      coverage: open ? 1 : covered / exp.length,
      missing,
      evenness: k > 1 ? h / Math.log(k) : covered > 0 ? 1 : 0,
      unlabelled: unlabelled[d],
    };
  }
  return {
    rows,
    dimensions,
    distinct_1: totalUni ? unigrams.size / totalUni : 0,
    distinct_2: totalBi ? bigrams.size / totalBi : 0,
  };
}
