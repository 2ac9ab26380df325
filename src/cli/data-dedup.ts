/** `sft data dedup IN --out OUT`: exact, MinHash near-duplicate and ROUGE-L deduplication, streaming. */
import type { Command } from "commander";
import { type DedupConfig, dedupConfigSchema } from "../config/build.js";
import { checkConfig } from "../config/load.js";
import { rejectsPathFor } from "../data/build/builder.js";
import { dedupRecords } from "../data/dedup/index.js";
import { readRecords, writeJsonl, writeRecords } from "../data/io/index.js";
import type { SftRecord } from "../record/record.js";

interface DedupFlags {
  out: string;
  rejects?: string;
  exact: boolean;
  near: boolean;
  rouge: boolean;
  nearThreshold?: string;
  rougeThreshold?: string;
  numPerm?: string;
  field?: string;
}

export async function runDataDedup(input: string, flags: DedupFlags): Promise<void> {
  const config: DedupConfig = checkConfig(dedupConfigSchema, {
    exact: flags.exact,
    near: flags.near,
    rouge: flags.rouge,
    ...(flags.nearThreshold ? { near_threshold: Number(flags.nearThreshold) } : {}),
    ...(flags.rougeThreshold ? { rouge_threshold: Number(flags.rougeThreshold) } : {}),
    ...(flags.numPerm ? { num_perm: Number(flags.numPerm) } : {}),
    ...(flags.field ? { field: flags.field } : {}),
  });
  const rejects: unknown[] = [];
  const stats = { rows: 0, kept: 0, exact: 0, near: 0, rouge: 0 };
  const started = Date.now();
  async function* kept(): AsyncGenerator<SftRecord> {
    for await (const d of dedupRecords(readRecords(input), config)) {
      stats.rows++;
      if (d.kept) {
        stats.kept++;
        yield d.record;
      } else {
        stats[d.reason!.stage]++;
        rejects.push({
          id: d.record.id,
          stage: "dedup",
          reasons: [
            `${d.reason!.stage} duplicate of ${d.reason!.duplicate_of} (similarity ${d.reason!.score.toFixed(3)})`,
          ],
          record: d.record,
        });
      }
    }
  }
  await writeRecords(flags.out, kept());
  const rejectsPath = flags.rejects ?? rejectsPathFor(flags.out);
  await writeJsonl(rejectsPath, rejects);
  const secs = (Date.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({ ...stats, rows_per_s: Math.round(stats.rows / Math.max(secs, 1e-3)), out: flags.out, rejects: rejectsPath })}\n`,
  );
}

export function register(parent: Command): void {
  parent
    .command("dedup")
    .description("drop exact, near (MinHash LSH) and ROUGE-L duplicates; first occurrence wins")
    .argument("<in>", "dataset file")
    .requiredOption("--out <file>", "kept rows")
    .option("--rejects <file>", "dropped rows with the row they duplicate (default: OUT.rejects.jsonl)")
    .option("--no-exact", "skip exact (normalised) matching")
    .option("--no-near", "skip MinHash near-duplicate matching")
    .option("--no-rouge", "skip the ROUGE-L instruction filter")
    .option("--near-threshold <x>", "Jaccard threshold for near duplicates (default 0.8)")
    .option("--rouge-threshold <x>", "ROUGE-L F above which an instruction is dropped (default 0.7)")
    .option("--num-perm <n>", "MinHash permutations (default 128)")
    .option("--field <f>", "compare the instruction or the whole conversation (default instruction)")
    .addHelpText("after", "\nExample:\n  sft data dedup clean.jsonl --out dedup.jsonl --near-threshold 0.85")
    .action((input: string, flags: DedupFlags) => runDataDedup(input, flags));
}
