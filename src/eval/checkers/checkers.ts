/**
 * Task checkers: each scores one response against one suite row, in [0, 1], and says
 * whether it passes. Binary checkers score 0 or 1; graded ones (rouge_l, bleu, chrf,
 * contains with several needles, code with several tests) score the fraction and pass at
 * `threshold` (default 0.5 for the text metrics, 1 for the others).
 *
 * | checker | passes when |
 * |---|---|
 * | exact | normalised response equals normalised expected (or one of a list) |
 * | contains | every expected string occurs in the response |
 * | regex | `pattern` (or expected) matches the response (`flags`, default "i") |
 * | multiple_choice | the option the response picks equals the expected letter/option |
 * | numeric | the answer number is within `tolerance` (abs) or `relative_tolerance` |
 * | rouge_l / bleu / chrf | metric vs expected ≥ threshold (CJK-aware tokens) |
 * | json_schema | the response (or its ``` block) is JSON valid under `schema` |
 * | code | the response's code (Python, JavaScript or TypeScript) passes `tests` in the sandbox |
 *
 * Normalisation for exact/contains: Unicode NFKC, whitespace collapsed, trimmed, outer
 * quotes and one trailing period removed, lower-cased unless `case_sensitive`.
 */
import AjvModule from "ajv";
import { rougeL } from "../../text/rouge.js";
import { type CodeLanguage, extractCode } from "../code/extract.js";
import { runCodeTests } from "../code/run.js";
import { isolationGaps } from "../code/sandbox.js";
import { sentenceBleu } from "../metrics/bleu.js";
import { chrf } from "../metrics/chrf.js";

export const CHECKERS = [
  "exact",
  "contains",
  "regex",
  "multiple_choice",
  "numeric",
  "rouge_l",
  "bleu",
  "chrf",
  "json_schema",
  "code",
] as const;
export type CheckerName = (typeof CHECKERS)[number];

/** Options a checker reads (from the suite row, or from a `checker: {type, …}` object). */
export interface CheckerOptions {
  expected?: unknown;
  case_sensitive?: boolean;
  pattern?: string;
  flags?: string;
  choices?: string[];
  tolerance?: number;
  relative_tolerance?: number;
  threshold?: number;
  schema?: Record<string, unknown> | boolean;
  tests?: string | string[];
  timeout_ms?: number;
  memory_mb?: number;
  /** code: the language of the tests (else the answer's fence tag, else `default_language`) */
  language?: CodeLanguage;
  /** code: the language when neither the row nor the answer names one */
  default_language?: CodeLanguage;
  /** code: the function the tests call (picks the right block among several fences) */
  entry_point?: string;
  /** code: text the answer continues (a HumanEval prompt): the program is prefix + answer */
  prefix?: string;
  /** code (Python): run before the solution (MBPP's test_setup_code) */
  setup?: string;
  /** code (Python): the interpreter (default python3) */
  python?: string;
}

export interface CheckResult {
  score: number;
  pass: boolean;
  /** What was compared or why it failed (short). */
  detail?: string;
  /** code: what the sandbox could not isolate on this machine ("network not isolated", …) */
  sandbox_gaps?: string[];
}

/** Which options each checker needs; checked when a suite is read. */
export function missingOption(checker: CheckerName, o: CheckerOptions): string | null {
  switch (checker) {
    case "regex":
      return o.pattern === undefined && typeof o.expected !== "string" ? "pattern" : null;
    case "json_schema":
      return o.schema === undefined ? "schema" : null;
    case "code":
      return o.tests === undefined ? "tests" : null;
    case "numeric":
      return parseNumber(String(o.expected ?? "")) === null ? "expected (a number)" : null;
    default:
      return o.expected === undefined ? "expected" : null;
  }
}

export function normalizeAnswer(s: string, caseSensitive = false): string {
  let t = s.normalize("NFKC").replace(/\s+/gu, " ").trim();
  t = t.replace(/^["'“‘「『]+|["'”’」』]+$/gu, "").trim();
  t = t.replace(/[.。]$/u, "").trim();
  return caseSensitive ? t : t.toLowerCase();
}

function asStrings(expected: unknown): string[] {
  if (Array.isArray(expected)) return expected.map(String);
  return expected === undefined ? [] : [String(expected)];
}

/** Parses "1,234.5", "-3", "3/4", "45%" (→ 45) or "1e3"; null when not a number. */
export function parseNumber(text: string): number | null {
  const t = text
    .trim()
    .replace(/,(?=\d{3}\b)/g, "")
    .replace(/%$/, "");
  const frac = /^(-?\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(t);
  if (frac) return Number(frac[2]) === 0 ? null : Number(frac[1]) / Number(frac[2]);
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t)) return null;
  return Number(t);
}

const NUMBER_IN_TEXT = /-?\d[\d,]*(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?(?:[eE][-+]?\d+)?%?|-?\.\d+/g;

/**
 * The answer number of a free-text response: the number after a final-answer marker
 * ("answer is", "answer:", "=", "####", "答案") when there is one, else the last number.
 */
export function extractAnswerNumber(response: string): number | null {
  const marker = /(?:final answer|answer is|answer:|####|答案[是为：:]?|=)\s*([^\n]*)/gi;
  let tail: string | null = null;
  for (const m of response.matchAll(marker)) tail = m[1];
  const search = (s: string) => {
    const all = [...s.matchAll(NUMBER_IN_TEXT)].map((m) => parseNumber(m[0].replace(/\s+/g, "")));
    return all.filter((n): n is number => n !== null);
  };
  if (tail !== null) {
    const first = search(tail)[0];
    if (first !== undefined) return first;
  }
  const all = search(response);
  return all.length ? all[all.length - 1] : null;
}

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** The option letter a response picks, or null. */
export function extractChoice(response: string, choices: string[] = []): string | null {
  const patterns = [
    /(?:answer|option|choice)(?:\s+is)?\s*[:：]?\s*\(?([A-Z])\)?(?![\p{L}])/iu,
    // "B. Paris", "(B)", "B)", "B:" or a bare "B" — not an article like "A long answer"
    /^\s*\(?([A-Z])(?:[.):：]|\s*$)/u,
    /\(([A-Z])\)/u,
    /(?<![\p{L}])([A-Z])(?![\p{L}])/u,
  ];
  const max = choices.length > 0 ? choices.length : 26;
  for (const re of patterns) {
    const m = re.exec(response);
    if (m) {
      const letter = m[1].toUpperCase();
      if (LETTERS.indexOf(letter) < max && (re !== patterns[3] || response.trim().length <= 3)) return letter;
    }
  }
  // no letter: look for exactly one option text in the response
  const lower = response.toLowerCase();
  const hits = choices.map((c, i) => (lower.includes(c.toLowerCase()) ? i : -1)).filter((i) => i >= 0);
  return hits.length === 1 ? LETTERS[hits[0]] : null;
}

function expectedChoice(expected: unknown, choices: string[] = []): string | null {
  const e = String(expected ?? "").trim();
  if (/^\(?[A-Za-z]\)?$/.test(e)) return e.replace(/[()]/g, "").toUpperCase();
  const i = choices.findIndex((c) => normalizeAnswer(c) === normalizeAnswer(e));
  return i >= 0 ? LETTERS[i] : null;
}

/** JSON text of a response: the content of a ``` fence if any, else the response. */
export function extractJson(response: string): unknown {
  const fenced = /```(?:json)?[^\n]*\n([\s\S]*?)```/i.exec(response);
  const text = (fenced ? fenced[1] : response).trim();
  try {
    return JSON.parse(text);
  } catch {
    // a JSON object or array embedded in prose
    const start = text.search(/[[{]/);
    const end = Math.max(text.lastIndexOf("}"), text.lastIndexOf("]"));
    if (start >= 0 && end > start) return JSON.parse(text.slice(start, end + 1));
    throw new Error("no JSON found");
  }
}

const Ajv = AjvModule.default;
const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

function validatorFor(schema: Record<string, unknown> | boolean) {
  if (typeof schema === "boolean") return ajv.compile(schema);
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** Throws when a JSON schema itself is invalid (used when a suite is read). */
export function compileSchema(schema: Record<string, unknown> | boolean): void {
  validatorFor(schema);
}

function graded(score: number, threshold: number, detail?: string): CheckResult {
  return { score, pass: score >= threshold, detail };
}

/** Scores `response` with `checker`; the score always lies in [0, 1]. */
export async function runChecker(
  checker: CheckerName,
  response: string,
  o: CheckerOptions,
): Promise<CheckResult> {
  const r = await check(checker, response, o);
  return r.score >= 0 && r.score <= 1 ? r : { ...r, score: Math.min(1, Math.max(0, r.score)) };
}

async function check(checker: CheckerName, response: string, o: CheckerOptions): Promise<CheckResult> {
  const cs = o.case_sensitive ?? false;
  switch (checker) {
    case "exact": {
      const got = normalizeAnswer(response, cs);
      const ok = asStrings(o.expected).some((e) => normalizeAnswer(e, cs) === got);
      return { score: ok ? 1 : 0, pass: ok };
    }
    case "contains": {
      const needles = asStrings(o.expected);
      const hay = normalizeAnswer(response, cs);
      const found = needles.filter((n) => hay.includes(normalizeAnswer(n, cs))).length;
      const score = needles.length ? found / needles.length : 0;
      return graded(score, o.threshold ?? 1, `${found}/${needles.length} found`);
    }
    case "regex": {
      const re = new RegExp(o.pattern ?? String(o.expected), o.flags ?? "i");
      const ok = re.test(response);
      return { score: ok ? 1 : 0, pass: ok };
    }
    case "multiple_choice": {
      const want = expectedChoice(o.expected, o.choices);
      const got = extractChoice(response, o.choices);
      const ok = want !== null && got === want;
      return { score: ok ? 1 : 0, pass: ok, detail: `picked ${got ?? "nothing"}, expected ${want}` };
    }
    case "numeric": {
      const want = parseNumber(String(o.expected));
      const got = extractAnswerNumber(response);
      if (want === null || got === null)
        return { score: 0, pass: false, detail: "no number in the response" };
      const tol = Math.max(o.tolerance ?? 1e-6, (o.relative_tolerance ?? 0) * Math.abs(want));
      const ok = Math.abs(got - want) <= tol;
      return { score: ok ? 1 : 0, pass: ok, detail: `got ${got}, expected ${want}` };
    }
    case "rouge_l": {
      const best = Math.max(0, ...asStrings(o.expected).map((e) => rougeL(response, e).f));
      return graded(best, o.threshold ?? 0.5);
    }
    case "bleu":
      return graded(sentenceBleu(response, asStrings(o.expected)), o.threshold ?? 0.5);
    case "chrf": {
      const best = Math.max(0, ...asStrings(o.expected).map((e) => chrf(response, e)));
      return graded(best, o.threshold ?? 0.5);
    }
    case "json_schema": {
      let value: unknown;
      try {
        value = extractJson(response);
      } catch {
        return { score: 0, pass: false, detail: "not JSON" };
      }
      const validate = validatorFor(o.schema ?? true);
      const ok = validate(value) as boolean;
      const err = validate.errors?.[0];
      return {
        score: ok ? 1 : 0,
        pass: ok,
        detail: ok ? undefined : `${err?.instancePath || "/"} ${err?.message}`,
      };
    }
    case "code": {
      const tests = Array.isArray(o.tests) ? o.tests : [o.tests ?? ""];
      const { language, code } = extractCode(response, {
        language: o.language,
        fallback: o.default_language ?? "javascript",
        entryPoint: o.entry_point,
      });
      const r = await runCodeTests(language, (o.prefix ?? "") + code, tests, {
        timeoutMs: o.timeout_ms,
        memoryMb: o.memory_mb,
        python: o.python,
        setup: o.setup,
      });
      // the verdict guarantees passed <= total, and runChecker clamps every score to [0, 1]
      const score = r.total ? r.passed / r.total : 0;
      const gaps = isolationGaps(r.isolation);
      return {
        ...graded(
          score,
          o.threshold ?? 1,
          `${language}: ${r.passed}/${r.total} tests passed${r.error ? `; ${r.error}` : ""}`,
        ),
        ...(gaps.length ? { sandbox_gaps: gaps } : {}),
      };
    }
  }
}
