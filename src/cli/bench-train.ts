/**
 * `sft bench train`: times full training steps (forward, backward, AdamW) on random
 * tokens and prints one JSON line: tokens/s, median step time, peak RSS, parameter counts.
 */
import type { Command } from "commander";
import { type BenchFlags, benchTrain, formatProfile } from "../bench/train.js";

export function register(parent: Command): void {
  parent
    .command("train")
    .description("time training steps (forward, backward, AdamW) on random tokens; prints one JSON line")
    .requiredOption(
      "--model <path>",
      "HF model directory, .gguf file, or a bare config.json (random weights)",
    )
    .requiredOption("--batch-size <n>", "sequences per step")
    .requiredOption("--seq-len <n>", "tokens per sequence")
    .requiredOption("--steps <n>", "timed steps")
    .option("--warmup <n>", "untimed steps first (default 1)")
    .option("--lora-r <n>", "train LoRA adapters of this rank instead of every weight")
    .option("--lora-targets <list>", "LoRA modules (default q_proj,v_proj; GPT-2 c_attn)")
    .option("--gradient-checkpointing", "recompute each block in backward (less memory)")
    .option("--frozen-bf16", "with --lora-r: hold the frozen base weights in bf16")
    .option("--profile", "add a per-op time table of one step (JSON `profile`; a table on stderr)")
    .addHelpText(
      "after",
      "\nExample:\n  sft bench train --model config.json --batch-size 4 --seq-len 256 --steps 5\n",
    )
    .action((opts: BenchFlags) => {
      const res = benchTrain(opts);
      if (res.profile) process.stderr.write(`${formatProfile(res.profile)}\n`);
      process.stdout.write(`${JSON.stringify(res)}\n`);
    });
}
