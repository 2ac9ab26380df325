/**
 * `sft grads`: the loss and the gradient of every trainable tensor on one batch, written as
 * safetensors (the report itself is src/model/grads-report.ts).
 */
import type { Command } from "commander";
import { type GradsFlags, runGrads } from "../model/grads-report.js";
import { addModelSpecOptions, modelSpecFromOptions } from "./model-options.js";

/** `sft grads` takes a batch of ids: no tokenizer side of the spec. */
const GRADS_SPEC = {
  omit: ["tokenizer", "template", "chat_template", "mask_policy", "max_seq_length"] as const,
};

export function register(parent: Command): void {
  const cmd = parent
    .command("grads")
    .description(
      "compute the loss and the gradient of every trainable tensor on one batch (safetensors out)",
    );
  addModelSpecOptions(cmd, {
    ...GRADS_SPEC,
    describe: {
      model: "HF model directory, .gguf file, or a bare config.json (random weights) (required)",
      adapter: "PEFT adapter directory to take gradients of (instead of --lora-*)",
    },
  })
    .requiredOption(
      "--batch <file>",
      'JSON {"input_ids": number[][], "labels": number[][]} (-100 = not trained)',
    )
    .requiredOption("--out <file>", "safetensors file: loss, grad.<name>, param.<name>")
    .option("--lora-r <n>", "LoRA rank: gradients of LoRA tensors on a frozen base")
    .option("--lora-alpha <a>", "LoRA alpha (scaling alpha/r; default 8)")
    .option(
      "--lora-targets <list>",
      "comma-separated modules (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj; GPT-2: c_attn,c_proj,c_fc)",
    )
    .option(
      "--lora-init <kind>",
      "default (B = 0, as PEFT) or random (B random too: every gradient non-zero)",
    )
    .addHelpText(
      "after",
      "\nExample:\n  sft grads --model ./tiny-llama --batch batch.json --out grads.safetensors --lora-r 4 --lora-targets q_proj,v_proj --lora-init random\n",
    )
    .action((opts: GradsFlags) => {
      const r = runGrads(opts, modelSpecFromOptions(opts as unknown as Record<string, unknown>, GRADS_SPEC));
      process.stdout.write(
        `${JSON.stringify({ loss: r.loss, trained_tokens: r.trainedTokens, tensors: r.tensors, out: opts.out })}\n`,
      );
    });
}
