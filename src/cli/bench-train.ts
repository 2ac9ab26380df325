/**
 * `sft bench train`: times full training steps on random tokens and prints one JSON line
 * (the benchmark itself is src/bench/train.ts).
 */
import type { Command } from "commander";
import { type BenchFlags, benchTrain, formatProfile } from "../bench/train.js";
import { addModelSpecOptions, modelSpecFromOptions } from "./model-options.js";

/** Random tokens, no adapter: the spec's model and base dtype only. */
const BENCH_SPEC = {
  omit: ["adapter", "tokenizer", "template", "chat_template", "mask_policy", "max_seq_length"] as const,
};

export function register(parent: Command): void {
  const cmd = parent
    .command("train")
    .description("time training steps (forward, backward, AdamW) on random tokens; prints one JSON line");
  addModelSpecOptions(cmd, {
    ...BENCH_SPEC,
    describe: { model: "HF model directory, .gguf file, or a bare config.json (random weights) (required)" },
  })
    .requiredOption("--batch-size <n>", "sequences per step")
    .requiredOption("--seq-len <n>", "tokens per sequence")
    .requiredOption("--steps <n>", "timed steps")
    .option("--warmup <n>", "untimed steps first (default 1)")
    .option("--lora-r <n>", "train LoRA adapters of this rank instead of every weight")
    .option("--lora-targets <list>", "LoRA modules (default q_proj,v_proj; GPT-2 c_attn)")
    .option("--gradient-checkpointing", "recompute each block in backward (less memory)")
    .option("--frozen-bf16", "same as --base-dtype bf16 (with --lora-r)")
    .option("--profile", "add a per-op time table of one step (JSON `profile`; a table on stderr)")
    .addHelpText(
      "after",
      "\nExample:\n  sft bench train --model config.json --batch-size 4 --seq-len 256 --steps 5\n",
    )
    .action((opts: BenchFlags) => {
      const res = benchTrain(
        opts,
        modelSpecFromOptions(opts as unknown as Record<string, unknown>, BENCH_SPEC),
      );
      if (res.profile) process.stderr.write(`${formatProfile(res.profile)}\n`);
      process.stdout.write(`${JSON.stringify(res)}\n`);
    });
}
