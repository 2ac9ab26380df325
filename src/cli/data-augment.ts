/** `sft data augment CONFIG.yaml`: paraphrase, difficulty, format and context variants (resumable). */
import type { Command } from "commander";
import { loadAugmentConfig } from "../config/augment.js";
import { augmentRecords } from "../data/augment/index.js";
import { openLlmJob } from "../data/build/llm-job.js";
import { readRecords } from "../data/io/index.js";
import { createEmbeddingBackend } from "../llm/index.js";
import type { SftRecord } from "../record/record.js";

// tests and callers load an augment config through the command's module too
export { loadAugmentConfig };

export async function runDataAugment(file: string, opts: { quiet?: boolean } = {}): Promise<void> {
  const config = loadAugmentConfig(file);
  const parents: SftRecord[] = [];
  for await (const r of readRecords(config.in)) parents.push(r);

  const job = openLlmJob({
    out: config.out,
    state: config.state,
    llm: config.llm,
    command: "sft data augment",
    quiet: opts.quiet,
  });
  const { store, meter, backend, log } = job;
  try {
    const result = await augmentRecords(config, parents, {
      backend,
      embedder: config.embedding ? createEmbeddingBackend(config.embedding) : undefined,
      store,
      meter,
      onProgress: (p) => log(`augment: ${p.ok}/${p.target} new rows (${p.done} slots tried)`),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    job.close();
  }
}

export function register(parent: Command): void {
  parent
    .command("augment")
    .description("augment a dataset: paraphrases, harder/simpler variants, format and context variants")
    .argument("<config>", "augment config YAML")
    .option("--quiet", "no progress lines")
    .addHelpText(
      "after",
      "\nExample:\n  sft data augment augment.yaml      # rerun to resume an interrupted job",
    )
    .action((config: string, opts: { quiet?: boolean }) => runDataAugment(config, opts));
}
