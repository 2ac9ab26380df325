/** `sft generate`: responses from a local model (base, base + adapter, or merged) for one prompt or a JSONL file. */
import type { Command } from "commander";
import { readRecords, writeJsonl } from "../data/io/index.js";
import type { GenerationTiming } from "../engine/generate.js";
import { SftError } from "../errors.js";
import {
  type GenerationInput,
  LocalLanguageModel,
  type LocalModelSpec,
  type TextGenerationOptions,
} from "../generate/index.js";
import type { TextTokenizer } from "../tokenize/tokenizer.js";
import { addModelSpecOptions, modelSpecFromOptions } from "./model-options.js";

interface GenerateFlags {
  prompt?: string;
  in?: string;
  out?: string;
  system?: string;
  raw?: boolean;
  maxNewTokens: string;
  temperature: string;
  topK: string;
  topP: string;
  repetitionPenalty: string;
  stop?: string[];
  seed: string;
  batchSize: string;
  showTokens?: boolean;
  /** the model-spec flags (--model, --adapter, --tokenizer, --template, --chat-template, --base-dtype) */
  [specFlag: string]: unknown;
}

/** `sft generate` renders prompts only: no label mask, no sample length. */
const GENERATE_SPEC = { omit: ["mask_policy", "max_seq_length"] as const };

/** `[403 "▁Once", 407 "▁upon"]`: ids with their vocabulary pieces (as convert_ids_to_tokens gives them). */
export function tokenPieces(tokenizer: TextTokenizer, ids: readonly number[]): string {
  return `[${ids.map((id) => `${id} ${JSON.stringify(tokenizer.idToToken(id) ?? tokenizer.decode([id]))}`).join(", ")}]`;
}

/** `prompt 12 tokens in 0.01 s (1200 tokens/s); decode 24 tokens in 0.20 s (120 tokens/s)`; a rate with no time measured is left out. */
export function speedLine(t: GenerationTiming): string {
  const part = (what: string, tokens: number, ms: number) =>
    `${what} ${tokens} tokens in ${(ms / 1000).toFixed(2)} s${ms > 0 ? ` (${Math.round((tokens * 1000) / ms)} tokens/s)` : ""}`;
  return `${part("prompt", t.promptTokens, t.prefillMs)}; ${part("decode", t.generatedTokens, t.decodeMs)}`;
}

function num(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n))
    throw new SftError(`${flag} must be a number, got "${value}"`, { where: { field: flag } });
  return n;
}

export function generationOptionsFromFlags(f: GenerateFlags): TextGenerationOptions {
  return {
    maxNewTokens: num(f.maxNewTokens, "--max-new-tokens"),
    temperature: num(f.temperature, "--temperature"),
    topK: num(f.topK, "--top-k"),
    topP: num(f.topP, "--top-p"),
    repetitionPenalty: num(f.repetitionPenalty, "--repetition-penalty"),
    seed: num(f.seed, "--seed"),
    maxBatchSize: num(f.batchSize, "--batch-size"),
    ...(f.stop ? { stop: f.stop } : {}),
    ...(f.raw ? { raw: true } : {}),
  };
}

export function register(parent: Command): void {
  const cmd = parent
    .command("generate")
    .description("generate responses with a local model (base, base + adapter, or merged)");
  addModelSpecOptions(cmd, {
    ...GENERATE_SPEC,
    describe: { model: "HF model directory, .gguf file, or config.json (required)" },
  })
    .option("--prompt <text>", "one prompt")
    .option("--in <file>", "dataset file (any supported format): one response per record")
    .option("--out <file>", "write {id, prompt, response} JSONL here (default: print)")
    .option("--system <text>", "system prompt")
    .option("--raw", "feed the prompt as plain text (no template): continuation")
    .option("--max-new-tokens <n>", "maximum new tokens", "128")
    .option("--temperature <t>", "0 = greedy", "0")
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", "0")
    .option("--top-p <p>", "nucleus sampling mass (1 = off)", "1")
    .option("--repetition-penalty <x>", "> 1 discourages repeats (1 = off)", "1")
    .option("--stop <string...>", "stop strings")
    .option("--seed <n>", "sampling seed", "0")
    .option("--batch-size <n>", "prompts decoded together", "8")
    .option("--show-tokens", "print each prompt's and response's token ids with their pieces (on stderr)")
    .addHelpText(
      "after",
      `
Examples:
  $ sft generate --model assets/models/stories260K --raw --prompt "Once upon a time"
  $ sft generate --model base/ --adapter runs/lora/adapter --in eval.jsonl --out answers.jsonl --template alpaca`,
    )
    .action(async (f: GenerateFlags) => {
      if (f.prompt === undefined && !f.in) {
        throw new SftError("nothing to generate from", {
          where: { field: "--prompt" },
          hint: "pass --prompt TEXT or --in FILE",
        });
      }
      const lm = await LocalLanguageModel.load(modelSpecFromOptions(f, GENERATE_SPEC) as LocalModelSpec);
      const opts = generationOptionsFromFlags(f);
      const inputs: { id: string; input: GenerationInput }[] = [];
      if (f.prompt !== undefined)
        inputs.push({ id: "prompt", input: { prompt: f.prompt, ...(f.system ? { system: f.system } : {}) } });
      if (f.in) {
        for await (const r of readRecords(f.in)) {
          inputs.push({
            id: r.id,
            input: { messages: r.messages, ...(f.system ? { system: f.system } : {}) },
          });
        }
      }
      const { outputs, timing } = await lm.generateWithTiming(
        inputs.map((i) => i.input),
        opts,
      );
      if (f.showTokens) {
        inputs.forEach((i, k) => {
          const prompt = lm.promptIds(i.input, opts.raw);
          const out = outputs[k];
          process.stderr.write(
            `[${i.id}] prompt tokens (${prompt.length}): ${tokenPieces(lm.tokenizer, prompt)}\n[${i.id}] response tokens (${out.tokenIds.length}, ${out.finishReason}): ${tokenPieces(lm.tokenizer, out.tokenIds)}\n`,
          );
        });
      }
      const rows = inputs.map((i, k) => ({
        id: i.id,
        prompt: i.input.prompt ?? i.input.messages?.filter((m) => m.role === "user").at(-1)?.content ?? "",
        response: outputs[k].text,
        finish_reason: outputs[k].finishReason,
        completion_tokens: outputs[k].completionTokens,
      }));
      if (f.out) {
        await writeJsonl(f.out, rows);
        process.stderr.write(`wrote ${rows.length} responses to ${f.out}\n`);
      } else if (rows.length === 1 && f.prompt !== undefined) {
        process.stdout.write(`${rows[0].response}\n`);
      } else {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      }
      process.stderr.write(`${speedLine(timing)}\n`);
    });
}
