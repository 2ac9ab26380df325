/** `sft data build CONFIG.yaml`: generate instruction data with an LLM (resumable). */
import type { Command } from "commander";
import { type BuildConfig, loadBuildConfig } from "../config/build.js";
import { buildInstructionData, loadSeedTasks, statePathFor } from "../data/build/index.js";
import { lockOutput } from "../data/build/output-lock.js";
import { loadTaxonomy } from "../data/taxonomy/taxonomy.js";
import { createLlmBackend, LlmStore, type Pricing, UsageMeter } from "../llm/index.js";
import { resolveApiKey } from "../llm/openai.js";

// tests and callers load a build config through the command's module too
export { loadBuildConfig };

/**
 * Everything in the config that can be wrong without asking the LLM: the API key variable,
 * the taxonomy and seed-task files. Checked before the output folder and the state database
 * are created, so a bad config leaves nothing behind.
 */
export function checkBuildInputs(config: BuildConfig): void {
  if (config.llm.kind !== "local") resolveApiKey(config.llm.api_key_env);
  loadTaxonomy(config.taxonomy);
  if (config.mode === "self-instruct" && config.self_instruct) loadSeedTasks(config.self_instruct.seed_tasks);
}

export async function runDataBuild(file: string, opts: { quiet?: boolean } = {}): Promise<void> {
  const config = loadBuildConfig(file);
  checkBuildInputs(config);
  const lock = lockOutput(config.out, "sft data build");
  const store = new LlmStore(config.state ?? statePathFor(config.out));
  const meter = new UsageMeter(config.llm.price as Pricing | undefined);
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  try {
    const backend = createLlmBackend(config.llm, {
      store,
      meter,
      onRetry: (r) => log(`retry ${r.attempt} in ${Math.round(r.delayMs)} ms: ${r.reason}`),
    });
    let lastLog = 0;
    const result = await buildInstructionData(config, {
      backend,
      store,
      meter,
      onProgress: (p) => {
        if (Date.now() - lastLog > 2000 || p.done === p.total) {
          lastLog = Date.now();
          log(`${p.phase}: ${p.done}/${p.total}${p.resumed ? ` (${p.resumed} resumed)` : ""}`);
        }
      },
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    store.close();
    lock.release();
  }
}

export function register(parent: Command): void {
  parent
    .command("build")
    .description(
      "generate instruction data with an LLM: seed topics × prompt types, or self-instruct from seed tasks",
    )
    .argument("<config>", "build config YAML")
    .option("--quiet", "no progress lines")
    .addHelpText(
      "after",
      "\nExample:\n  sft data build build.yaml      # rerun the same command to resume an interrupted job",
    )
    .action(async (config: string, opts: { quiet?: boolean }) => runDataBuild(config, opts));
}
