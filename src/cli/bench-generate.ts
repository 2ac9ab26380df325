/**
 * `sft bench generate`: times KV-cache generation on random prompt tokens and prints one
 * JSON line (the benchmark itself is src/bench/generate.ts).
 */
import type { Command } from "commander";
import { type BenchGenerateFlags, benchGenerate } from "../bench/generate.js";
import { addModelSpecOptions, modelSpecFromOptions } from "./model-options.js";

/** Random prompt tokens: the spec's model, adapter and base dtype only. */
const BENCH_SPEC = {
  omit: ["tokenizer", "template", "chat_template", "mask_policy", "max_seq_length"] as const,
};

export function register(parent: Command): void {
  const cmd = parent
    .command("generate")
    .description("time KV-cache generation (prompt and decode separately); prints one JSON line");
  addModelSpecOptions(cmd, {
    ...BENCH_SPEC,
    describe: { model: "HF model directory, .gguf file, or config.json (random weights) (required)" },
  })
    .option("--batch-size <n>", "prompts decoded together", "1")
    .option("--prompt-len <n>", "prompt tokens per row", "64")
    .option("--new-tokens <n>", "tokens generated per row", "128")
    .option("--repeats <n>", "timed runs (the best is reported)", "3")
    .addHelpText(
      "after",
      "\nExample:\n  $ sft bench generate --model assets/models/stories260K --batch-size 4 --prompt-len 32 --new-tokens 128",
    )
    .action((f: BenchGenerateFlags) => {
      process.stdout.write(
        `${JSON.stringify(benchGenerate(f, modelSpecFromOptions(f as unknown as Record<string, unknown>, BENCH_SPEC)))}\n`,
      );
    });
}
