/**
 * Tokenizing throughput: renders, tokenizes and masks every row of a dataset and reports rows/s
 * (a report, not a test). Defaults: ../shared/data/sft/alpaca_zh_demo.json with the Qwen3
 * tokenizer and its chat template.
 *
 *   npx tsx tools/bench-tokenize.ts [--tokenizer DIR|FILE.gguf] [--in FILE] [--template NAME] [--repeat N]
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readRecords } from "../src/data/io/index.js";
import type { SftRecord } from "../src/record/record.js";
import { IGNORE_INDEX, tokenizeRecord } from "../src/tokenize/mask.js";
import { loadTokenizer } from "../src/tokenize/tokenizer.js";

const shared = resolve(dirname(fileURLToPath(import.meta.url)), "../../shared");
const { values } = parseArgs({
  options: {
    tokenizer: { type: "string", default: resolve(shared, "tokenizers/qwen3") },
    in: { type: "string", default: resolve(shared, "data/sft/alpaca_zh_demo.json") },
    template: { type: "string" },
    repeat: { type: "string", default: "3" },
  },
});

const t0 = performance.now();
const tokenizer = await loadTokenizer(values.tokenizer!);
const loadMs = performance.now() - t0;
const records: SftRecord[] = [];
for await (const r of readRecords(values.in!)) records.push(r);
const opts = values.template ? { template: values.template } : { chatTemplate: true };

// One warm-up pass (JIT, template parse), then timed passes.
for (const r of records) tokenizeRecord(r, tokenizer, opts);
const repeat = Math.max(1, Number(values.repeat) || 1);
let tokens = 0;
let trained = 0;
const start = performance.now();
for (let k = 0; k < repeat; k++) {
  for (const r of records) {
    const s = tokenizeRecord(r, tokenizer, opts);
    tokens += s.inputIds.length;
    for (const l of s.labels) if (l !== IGNORE_INDEX) trained++;
  }
}
const seconds = (performance.now() - start) / 1000;
const rows = records.length * repeat;
console.log(
  JSON.stringify({
    dataset: values.in,
    tokenizer: values.tokenizer,
    template: values.template ?? "chat-template",
    rows,
    rows_per_s: Math.round(rows / seconds),
    tokens_per_s: Math.round(tokens / seconds),
    mean_tokens: Math.round(tokens / rows),
    trained_fraction: Number((trained / tokens).toFixed(3)),
    tokenizer_load_ms: Math.round(loadMs),
  }),
);
