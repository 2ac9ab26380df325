/**
 * Speed and memory of a realistic `sft train` LoRA run beside the plain-PyTorch reference
 * (tools/torch_reference.py bench) doing the same steps: same model shape, LoRA rank and
 * targets, batch size and (mean padded) sequence length, on the same machine.
 *
 *   npx tsx tools/bench-train-run.ts [--steps 12] [--warmup 2] [--batch-size 4] [--max-seq-length 256]
 *                                    [--model DIR] [--data FILE] [--lora-r 8]
 *
 * Default model: a Llama-like config (6 layers, width 384, 6 heads / 2 KV heads, SwiGLU 1024)
 * with random weights and the stories260K tokenizer (vocab 512), saved as an HF directory;
 * default data: the Alpaca demo set from ../shared (real instructions, alpaca template,
 * response-only labels). sftkit's run is the whole `train()` (data preparation, tokenization,
 * dynamic padding, clipping, AdamW, logging); its speed is measured over the steps after the
 * warmup from the log timestamps, counting padded positions (B×T) as torch does. Each side runs
 * in its own process, so peak RSS is per run. torch uses 2 threads.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PYTHON = process.env.TORCH_PYTHON ?? "/usr/bin/python3";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const LLAMA_LIKE = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 512,
  hidden_size: 384,
  intermediate_size: 1024,
  num_hidden_layers: 6,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  max_position_embeddings: 1024,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
};

interface ChildResult {
  tokens_per_s: number;
  real_tokens_per_s: number;
  step_ms: number;
  mean_seq_len: number;
  peak_rss_mb: number;
  params: number;
  trainable_params: number;
  steps: number;
  final_loss: number;
}

/** Runs in a child process: one `train()` and its numbers. */
async function child(): Promise<void> {
  const spec = JSON.parse(process.argv[process.argv.indexOf("--child") + 1]) as {
    model: string;
    data: string;
    out: string;
    steps: number;
    warmup: number;
    batch: number;
    maxSeq: number;
    r: number;
  };
  const { train } = await import("../src/train/index.js");
  const stamps: { step: number; t: number; seen: number; real: number }[] = [];
  const r = await train(
    {
      model: spec.model,
      data: spec.data,
      output_dir: spec.out,
      max_steps: spec.warmup + spec.steps,
      per_device_train_batch_size: spec.batch,
      max_seq_length: spec.maxSeq,
      learning_rate: 2e-4,
      logging_steps: 1,
      save_steps: 0,
      tensorboard: false,
      lora: { r: spec.r, alpha: 2 * spec.r, dropout: 0, target_modules: ["q_proj", "v_proj"] },
    },
    {
      quiet: true,
      onLog: (e) => {
        if (e.loss !== undefined)
          stamps.push({ step: e.step, t: performance.now(), seen: e.num_input_tokens_seen ?? 0, real: 0 });
      },
    },
  );
  const first = stamps.find((s) => s.step === spec.warmup)!;
  const last = stamps[stamps.length - 1];
  const seconds = (last.t - first.t) / 1000;
  const steps = last.step - first.step;
  const padded = last.seen - first.seen;
  const out: ChildResult = {
    tokens_per_s: padded / seconds,
    real_tokens_per_s: (r.realTokens / r.paddedTokens) * (padded / seconds),
    step_ms: (seconds / steps) * 1000,
    mean_seq_len: Math.round(padded / (steps * spec.batch)),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    params: (r.model as { numParameters: number }).numParameters,
    trainable_params: (r.model as { numTrainableParameters: number }).numTrainableParameters,
    steps,
    final_loss: r.finalLoss ?? Number.NaN,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function parent(): Promise<void> {
  const steps = Number(arg("steps", "12"));
  const warmup = Number(arg("warmup", "2"));
  const batch = Number(arg("batch-size", "4"));
  const maxSeq = Number(arg("max-seq-length", "256"));
  const r = Number(arg("lora-r", "8"));
  const data = arg("data", join(ROOT, "../shared/data/sft/alpaca_en_demo.json"));
  const work = mkdtempSync(join(tmpdir(), "bench-train-run-"));
  let model = arg("model", "");
  if (!model) {
    model = join(work, "model");
    const { initRandom } = await import("../src/engine/model.js");
    const { parseHfConfig, saveHfModel } = await import("../src/engine/checkpoint/hf.js");
    const config = parseHfConfig(LLAMA_LIKE, "bench config");
    saveHfModel(model, config, initRandom(config, 0));
    for (const f of ["tokenizer.json", "tokenizer_config.json"])
      copyFileSync(join(ROOT, "assets/models/stories260K", f), join(model, f));
  }
  const spec = { model, data, out: join(work, "run"), steps, warmup, batch, maxSeq, r };
  const sft = spawnSync(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--child", JSON.stringify(spec)],
    {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  if (sft.status !== 0) throw new Error(`sft train failed:\n${sft.stderr}`);
  const ours = JSON.parse(sft.stdout.trim().split("\n").pop()!) as ChildResult;
  const torch = spawnSync(
    PYTHON,
    [
      join(ROOT, "tools/torch_reference.py"),
      "bench",
      "--model",
      join(model, "config.json"),
      "--batch-size",
      String(batch),
      "--seq-len",
      String(ours.mean_seq_len),
      "--steps",
      String(steps),
      "--warmup",
      String(warmup),
      "--lora-r",
      String(r),
      "--lora-targets",
      "q_proj,v_proj",
    ],
    { encoding: "utf8" },
  );
  const theirs =
    torch.status === 0
      ? JSON.parse(torch.stdout.trim().split("\n").pop()!)
      : { error: torch.stderr.slice(-2000) };
  rmSync(work, { recursive: true, force: true });
  const report = {
    run: {
      model: arg("model", "llama-like 6×384 (random), stories260K tokenizer"),
      data,
      batch,
      max_seq_length: maxSeq,
      lora_r: r,
      steps,
      warmup,
    },
    load_average: loadavg().map((x) => Number(x.toFixed(2))),
    sft: ours,
    torch: theirs,
    speedup:
      typeof theirs.tokens_per_s === "number"
        ? Number((ours.tokens_per_s / theirs.tokens_per_s).toFixed(2))
        : null,
    memory_ratio:
      typeof theirs.peak_rss_mb === "number"
        ? Number((ours.peak_rss_mb / theirs.peak_rss_mb).toFixed(2))
        : null,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

if (process.argv.includes("--child")) await child();
else await parent();
