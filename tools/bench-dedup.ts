/**
 * Benchmark of streaming deduplication at 100k rows (exact + MinHash LSH + ROUGE-L).
 * Rows are synthetic but instruction-like: a task verb and 8–25 words drawn from function
 * words and a 20k-word vocabulary (Zipf-like), plus 5% exact copies (case/spacing changed)
 * and 5% near copies (one word added) — so most rows are kept and every index grows, the
 * slow case. Prints one JSON line per
 * configuration with rows/s.
 *
 *   npx tsx tools/bench-dedup.ts [--rows 100000]
 */
import { dedupConfigSchema } from "../src/config/build.js";
import { Deduplicator } from "../src/data/dedup/index.js";
import type { SftRecord } from "../src/record/record.js";
import { makeRng } from "../src/util/rng.js";

const rowsArg = process.argv.indexOf("--rows");
const N = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 100_000;

const VERBS = [
  "Explain",
  "Describe",
  "Summarize",
  "Write",
  "List",
  "Compare",
  "Analyze",
  "Classify",
  "Translate",
  "Outline",
];
const FUNCTION_WORDS = "the a of to and in for with on about how what why that is are".split(" ");
const SYLLABLES = "ka lo mi ne ru sa ti vo be da fe gi ho ju le ma no pi qu re si tu va we xi yo ze".split(
  " ",
);

/** A 20k-word vocabulary of pseudo-words, drawn with a Zipf-like skew (as real text is). */
function vocabulary(rng: () => number): string[] {
  const words = new Set<string>();
  while (words.size < 20_000) {
    const n = 2 + Math.floor(rng() * 3);
    words.add(Array.from({ length: n }, () => SYLLABLES[Math.floor(rng() * SYLLABLES.length)]).join(""));
  }
  return [...words];
}

function makeRows(n: number): SftRecord[] {
  const rng = makeRng(12345);
  const vocab = vocabulary(rng);
  const word = () =>
    rng() < 0.35
      ? FUNCTION_WORDS[Math.floor(rng() * FUNCTION_WORDS.length)]
      : vocab[Math.floor(vocab.length * rng() ** 2)];
  const rows: SftRecord[] = [];
  for (let i = 0; i < n; i++) {
    let text: string;
    const roll = rng();
    if (i > 100 && roll < 0.05)
      text = rows[Math.floor(rng() * i)].messages[0].content.toUpperCase().replace(/ /g, "  ");
    else if (i > 100 && roll < 0.1) text = `${rows[Math.floor(rng() * i)].messages[0].content} Thanks`;
    else {
      const len = 8 + Math.floor(rng() * 18);
      text = `${VERBS[Math.floor(rng() * VERBS.length)]} ${Array.from({ length: len }, word).join(" ")}.`;
    }
    rows.push({
      id: `r${i}`,
      messages: [
        { role: "user", content: text },
        { role: "assistant", content: "answer" },
      ],
      meta: { source: "bench" },
    });
  }
  return rows;
}

const rows = makeRows(N);
for (const [name, cfg] of [
  ["exact", { near: false, rouge: false }],
  ["exact+near", { rouge: false }],
  ["exact+near+rouge", {}],
  ["rouge only", { exact: false, near: false }],
] as const) {
  const d = new Deduplicator(dedupConfigSchema.parse(cfg));
  const t0 = performance.now();
  d.learnOrder(rows.slice(0, 10_000)); // as dedupRecords does on its first rows
  for (const r of rows) d.check(r);
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${JSON.stringify({ config: name, ...d.stats, seconds: Number(secs.toFixed(2)), rows_per_s: Math.round(N / secs), heap_mb: Math.round(process.memoryUsage().heapUsed / 2 ** 20) })}\n`,
  );
}
