/** `sft data build CONFIG.yaml`: generate instruction data with an LLM (resumable). */
import type { Command } from "commander";
import { type BuildConfig, loadBuildConfig } from "../config/build.js";
import { type BuildProgress, buildInstructionData, loadSeedTasks } from "../data/build/index.js";
import { openLlmJob } from "../data/build/llm-job.js";
import { loadTaxonomy } from "../data/taxonomy/taxonomy.js";
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

  const job = openLlmJob({
    out: config.out,
    state: config.state,
    llm: config.llm,
    command: "sft data build",
    quiet: opts.quiet,
  });
  const { store, meter, log } = job;
  try {
    const backend = job.backend!;
    let lastLog = 0;
    const started = new Map<string, { at: number; done: number }>();
    const result = await buildInstructionData(config, {
      backend,
      store,
      meter,
      onProgress: (p) => {
        if (!started.has(p.phase)) started.set(p.phase, { at: Date.now(), done: p.done });
        if (Date.now() - lastLog > 2000 || p.done === p.total) {
          lastLog = Date.now();
          log(progressLine(p, started.get(p.phase)!, Date.now()));
        }
      },
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (result.written < result.target) {
      process.stderr.write(
        `error: built ${result.written} of ${result.target} rows${result.stopped_by ? `: ${result.stopped_by}` : ""}; ${result.rejected} rejected (see ${result.rejects}).\n  hint: raise the budget or max_rounds, or lower the target, and rerun the same command: finished requests are cached and not paid again\n`,
      );
      process.exitCode = 3;
    }
  } finally {
    job.close();
  }
}

/** One progress line: phase, rows kept, rejects by reason, requests, ETA of the phase. */
export function progressLine(p: BuildProgress, start: { at: number; done: number }, now: number): string {
  const rejects = Object.entries(p.rejects)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const rate = (p.done - start.done) / Math.max(1, now - start.at);
  const left = p.total - p.done;
  const eta = left <= 0 ? "done" : rate > 0 ? `ETA ${formatSeconds(left / rate / 1000)}` : "ETA unknown";
  return `${p.phase}: ${p.done}/${p.total}${p.resumed ? ` (${p.resumed} resumed)` : ""}; kept ${p.kept}; rejects ${rejects || "0"}; requests ${p.requests}; ${eta}`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
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
