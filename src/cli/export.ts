/**
 * `sft export`: write a model (optionally with a LoRA adapter merged in) as a Hugging Face
 * directory or a llama.cpp GGUF file, tokenizer included.
 */

import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { exportModel } from "../engine/checkpoint/export.js";
import { writeOllamaModelfile } from "../engine/checkpoint/ollama.js";
import { SftError } from "../errors.js";
import { runDirOf, trainedSystemPrompt } from "../train/run-system-prompt.js";

interface ExportFlags {
  model: string;
  adapter?: string;
  out?: string;
  format?: string;
  dtype?: string;
  maxShardSize?: string;
  ollama?: string;
  system?: string;
}

/** "5GB", "500MB", "2e9" → bytes. */
export function parseByteSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i.exec(text.trim());
  if (!m) {
    throw new SftError(`cannot read the size "${text}"`, {
      where: { field: "--max-shard-size" },
      hint: "e.g. 2GB or 500MB",
    });
  }
  const unit = (m[2] ?? "B").toUpperCase();
  const scale: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
  };
  return Math.floor(Number(m[1]) * scale[unit]);
}

export function runExport(f: ExportFlags): string[] {
  if (f.ollama) return runOllamaExport(f, f.ollama);
  if (!f.out) {
    throw new SftError("no output given", {
      where: { field: "--out" },
      hint: "pass --out PATH or --ollama DIR",
    });
  }
  const format = f.format ?? (f.out.endsWith(".gguf") ? "gguf" : "hf");
  if (format !== "hf" && format !== "gguf" && format !== "gguf-adapter") {
    throw new SftError(`unknown --format "${format}"`, {
      where: { field: "--format" },
      hint: "use hf, gguf or gguf-adapter",
    });
  }
  return exportModel({
    model: f.model,
    out: f.out,
    format,
    ...(f.adapter ? { adapter: f.adapter } : {}),
    ...(f.dtype ? { dtype: f.dtype } : {}),
    ...(f.maxShardSize ? { maxShardBytes: parseByteSize(f.maxShardSize) } : {}),
  });
}

/**
 * SYSTEM for the Modelfile when --system is not given: the one system prompt of the run the
 * adapter (or fine-tuned model) came from, when every training record had it. Says so, or
 * why none is written, on stderr.
 */
function systemFromRun(f: ExportFlags): string | undefined {
  const runDir = runDirOf(f.adapter ?? f.model);
  if (!runDir) return undefined;
  const found = trainedSystemPrompt(runDir);
  if (found.note) process.stderr.write(`${found.note}\n`);
  return found.system ?? undefined;
}

/** The name `ollama create` gets: the folder's name, as Ollama accepts model names. */
function ollamaName(dir: string): string {
  return (
    basename(resolve(dir))
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-") || "model"
  );
}

/**
 * `--ollama DIR`: DIR/model.gguf and DIR/Modelfile; prints the `ollama create` command. With
 * `--format gguf-adapter` the adapter stays separate: DIR/model.gguf is the base, DIR/adapter.gguf
 * the LoRA, and the Modelfile names it in ADAPTER.
 */
function runOllamaExport(f: ExportFlags, dir: string): string[] {
  if (f.format && f.format !== "gguf" && f.format !== "gguf-adapter") {
    throw new SftError(`--ollama writes a GGUF, not --format ${f.format}`, {
      where: { field: "--format" },
      hint: "use gguf (adapter merged in) or gguf-adapter (base and adapter files)",
    });
  }
  const separate = f.format === "gguf-adapter";
  if (separate && !f.adapter) {
    throw new SftError("--format gguf-adapter needs the adapter to write", {
      where: { field: "--adapter" },
      hint: "pass --adapter DIR (a PEFT LoRA directory)",
    });
  }
  const gguf = f.out ?? join(dir, "model.gguf");
  const adapterPath = join(dir, "adapter.gguf");
  const files: string[] = [];
  if (separate && f.adapter) {
    // Adapter first: it checks the adapter against the base before the large base file is written.
    files.push(
      ...exportModel({ model: f.model, out: adapterPath, format: "gguf-adapter", adapter: f.adapter }),
    );
    files.unshift(
      ...exportModel({ model: f.model, out: gguf, format: "gguf", ...(f.dtype ? { dtype: f.dtype } : {}) }),
    );
  } else {
    files.push(
      ...exportModel({
        model: f.model,
        out: gguf,
        format: "gguf",
        ...(f.adapter ? { adapter: f.adapter } : {}),
        ...(f.dtype ? { dtype: f.dtype } : {}),
      }),
    );
  }
  const system = f.system ?? systemFromRun(f);
  const mf = writeOllamaModelfile(dir, gguf, {
    ...(system ? { system } : {}),
    ...(separate ? { adapterPath } : {}),
  });
  process.stderr.write(
    `${mf.format ? `chat template: ${mf.format}` : "chat template: none written (not chatml or llama3); add a TEMPLATE by hand"}
` +
      `run: ollama create ${ollamaName(dir)} -f ${mf.path}
`,
  );
  return [...files, mf.path];
}

export function register(parent: Command): void {
  parent
    .command("export")
    .description(
      "write a model (with a LoRA adapter merged in) as a Hugging Face directory or a GGUF file, or a LoRA adapter as a GGUF",
    )
    .requiredOption("--model <path>", "HF model directory or .gguf file")
    .option("--out <path>", "output directory (hf) or .gguf file (gguf)")
    .option(
      "--ollama <dir>",
      "write DIR/model.gguf and an Ollama Modelfile, and print the ollama create command",
    )
    .option(
      "--system <text>",
      "with --ollama: the Modelfile's SYSTEM prompt (default: the one system prompt of the run's training data, when all records had the same)",
    )
    .option(
      "--adapter <dir>",
      "PEFT LoRA adapter directory to merge into the weights (gguf-adapter: to convert)",
    )
    .option(
      "--format <hf|gguf|gguf-adapter>",
      "output format (default: gguf when --out ends in .gguf, else hf); gguf-adapter: the adapter alone as a llama.cpp LoRA GGUF",
    )
    .option(
      "--dtype <type>",
      "hf: F32 (default), F16, BF16; gguf: F16 (default), F32, BF16, Q8_0, Q4_0; gguf-adapter: F32 (default), F16",
    )
    .option("--max-shard-size <size>", "hf: split model.safetensors above this size (default 5GB)")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  sft export --model runs/a/model --out merged/\n" +
        "  sft export --model base/ --adapter runs/a/adapter --out merged.gguf --dtype Q8_0\n" +
        "  sft export --model runs/a/model --ollama ollama/mymodel --dtype Q8_0\n" +
        "  sft export --model base/ --adapter runs/a/adapter --format gguf-adapter --out adapter.gguf\n" +
        "  sft export --model base/ --adapter runs/a/adapter --format gguf-adapter --ollama ollama/mine\n",
    )
    .action((opts: ExportFlags) => {
      for (const file of runExport(opts)) process.stdout.write(`${file}\n`);
    });
}
