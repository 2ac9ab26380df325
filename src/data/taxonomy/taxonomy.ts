/**
 * The diversity taxonomy: task types with sub-types, domains, difficulty and style. It is
 * plain data (YAML/JSON the user can edit); generation draws from it with stratified,
 * seeded sampling so every value is covered evenly, and `sft data diversity` reports how
 * well a dataset covers it.
 */
import { z } from "zod";
import { loadConfig } from "../../config/load.js";
import { makeRng, seedFrom, shuffled } from "../../util/rng.js";

export const taxonomySchema = z.strictObject({
  /** task type → its sub-types */
  task_types: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)),
  domains: z.array(z.string().min(1)).min(1),
  difficulty: z.array(z.string().min(1)).min(1),
  style: z.array(z.string().min(1)).min(1),
});
export type Taxonomy = z.infer<typeof taxonomySchema>;

export const DEFAULT_TAXONOMY: Taxonomy = {
  task_types: {
    generation: ["open_question", "explanation", "how_to", "list", "email_or_letter"],
    extraction: ["named_entities", "key_facts", "keywords", "table_from_text"],
    analysis: ["classification", "sentiment", "comparison", "critique", "summarization"],
    reasoning: ["math_word_problem", "logic_puzzle", "causal", "planning", "estimation"],
    code: ["write_function", "explain_code", "fix_bug", "sql_query", "regex"],
    creative: ["story", "poem", "dialogue", "slogan", "brainstorm"],
  },
  domains: [
    "science",
    "technology",
    "mathematics",
    "history",
    "health",
    "finance",
    "law",
    "education",
    "arts",
    "daily_life",
    "business",
    "travel",
  ],
  difficulty: ["easy", "medium", "hard"],
  style: ["formal", "informal", "professional", "creative"],
};

/** One point of the taxonomy, as stored in a record's meta. */
export interface TaxonomyDraw {
  task_type: string;
  subtype: string;
  domain: string;
  difficulty: string;
  style: string;
}

export function loadTaxonomy(file?: string): Taxonomy {
  if (!file) return DEFAULT_TAXONOMY;
  return loadConfig(taxonomySchema, file, {
    what: "taxonomy",
    hint: "give a YAML/JSON file with task_types, domains, difficulty and style",
  });
}

/** Every (task type, sub-type) pair, in file order. */
export function taskPairs(tax: Taxonomy): Array<[string, string]> {
  return Object.entries(tax.task_types).flatMap(([t, subs]) => subs.map((s) => [t, s] as [string, string]));
}

/**
 * The i-th draw of a stratified sample: each dimension walks through a fresh seeded
 * permutation of its values every cycle, so after k·|values| draws every value has been
 * used exactly k times, while the combinations still vary from cycle to cycle.
 */
export function drawFromTaxonomy(tax: Taxonomy, seed: number, i: number): TaxonomyDraw {
  const pick = <T>(dim: string, values: readonly T[]): T => {
    const cycle = Math.floor(i / values.length);
    const perm = shuffled(values, makeRng(seedFrom(seed, dim, cycle)));
    return perm[i % values.length];
  };
  const [task_type, subtype] = pick("task", taskPairs(tax));
  return {
    task_type,
    subtype,
    domain: pick("domain", tax.domains),
    difficulty: pick("difficulty", tax.difficulty),
    style: pick("style", tax.style),
  };
}
