/**
 * Prints, per data file, the share of true pairs the relevance check rejects and the share
 * of shuffled pairs (answers permuted with a fixed seed) it catches, at several thresholds.
 *
 *   npx tsx tools/relevance-rates.ts [file.json ...] [--seed 42]
 *
 * Default files: the English and Chinese Alpaca demo sets under ../shared/data/sft.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  combinedRelevanceRates,
  type InstructionRow,
  relevanceRates,
} from "../src/data/quality/relevance-rates.js";

const args = process.argv.slice(2);
let seed = 42;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--seed") seed = Number(args[++i]);
  else files.push(args[i]);
}
if (!Number.isInteger(seed)) throw new Error("--seed needs an integer, e.g. --seed 42");
const shared = resolve(new URL("../../shared/data/sft", import.meta.url).pathname);
if (files.length === 0) files.push(`${shared}/alpaca_en_demo.json`, `${shared}/alpaca_zh_demo.json`);

const thresholds = [0.3, 0.5, 0.6, 0.7, 0.8];
for (const file of files) {
  const rows = JSON.parse(readFileSync(file, "utf8")) as InstructionRow[];
  console.log(`${file} (${rows.length} rows, shuffle seed ${seed})`);
  console.log("  threshold  true pairs rejected  shuffled pairs caught");
  for (const r of relevanceRates(rows, thresholds, seed)) {
    console.log(
      `  ${r.threshold.toFixed(2).padStart(9)}  ${(100 * r.trueRejected).toFixed(1).padStart(18)} %  ${(100 * r.shuffledCaught).toFixed(1).padStart(19)} %`,
    );
  }
  console.log("  key-term < 0.3 or rarity-weighted overlap < x:");
  console.log("          x  true pairs rejected  shuffled pairs caught");
  for (const r of combinedRelevanceRates(rows, 0.3, [0.1, 0.2, 0.3, 0.4], seed)) {
    console.log(
      `  ${r.idfThreshold.toFixed(2).padStart(9)}  ${(100 * r.trueRejected).toFixed(1).padStart(18)} %  ${(100 * r.shuffledCaught).toFixed(1).padStart(19)} %`,
    );
  }
}
