/**
 * Training speed of sftkit against the plain-PyTorch implementation (tools/torch_reference.py)
 * on the same machine, same model shapes, batch and sequence length, in one run:
 *
 *   npx tsx tools/bench-train-vs-torch.ts [--steps 5] [--warmup 1] [--only gpt2|llama|gemma3-270m] [--no-lora]
 *
 * Models: a GPT-2-like config (6 layers, width 384, 6 heads, vocab 8192) and a Llama-like
 * one of similar size (6 layers, width 384, 6 heads / 2 KV heads, SwiGLU 1024, tied), each
 * trained fully and with LoRA (r 8 on q,v / c_attn), batch 4 × 256. Each run is a separate
 * process, so peak RSS is per run. torch uses 2 threads (torch.set_num_threads(2)).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PYTHON = process.env.TORCH_PYTHON ?? "/usr/bin/python3";

const CONFIGS: Record<string, Record<string, unknown>> = {
  gpt2: {
    model_type: "gpt2",
    vocab_size: 8192,
    n_embd: 384,
    n_layer: 6,
    n_head: 6,
    n_positions: 1024,
    layer_norm_epsilon: 1e-5,
    activation_function: "gelu_new",
    tie_word_embeddings: true,
  },
  llama: {
    model_type: "llama",
    vocab_size: 8192,
    hidden_size: 384,
    intermediate_size: 1024,
    num_hidden_layers: 6,
    num_attention_heads: 6,
    num_key_value_heads: 2,
    max_position_embeddings: 1024,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    hidden_act: "silu",
  },
  // The Gemma 3 270M shape (../shared/models/shapes/gemma3-270m.json); run it alone with
  // --only gemma3-270m and a short sequence: its 262144-token vocabulary dominates.
  "gemma3-270m": {
    model_type: "gemma3_text",
    vocab_size: 262144,
    hidden_size: 640,
    intermediate_size: 2048,
    num_hidden_layers: 18,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 256,
    query_pre_attn_scalar: 256,
    sliding_window: 512,
    sliding_window_pattern: 6,
    rope_theta: 1000000,
    rope_local_base_freq: 10000,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 32768,
    hidden_activation: "gelu_pytorch_tanh",
    tie_word_embeddings: true,
  },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

interface BenchLine {
  kernels?: string;
  tokens_per_s: number;
  step_ms: number;
  peak_rss_mb: number;
  params: number;
  trainable_params: number;
  loss: number;
}

function lastJsonLine(out: string): BenchLine {
  const line = out
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (!line) throw new Error(`no JSON result in:\n${out}`);
  return JSON.parse(line) as BenchLine;
}

function run(cmd: string, args: string[]): BenchLine {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return lastJsonLine(r.stdout);
}

const steps = arg("--steps", "5");
const warmup = arg("--warmup", "1");
const only = arg("--only", "");
const B = arg("--batch-size", "4");
const T = arg("--seq-len", "256");
const loraR = "8";
const dir = mkdtempSync(join(tmpdir(), "sft-bench-"));
const rows: string[] = [];
const loadBefore = loadavg()[0];
try {
  for (const [name, cfg] of Object.entries(CONFIGS)) {
    if (only ? only !== name : name === "gemma3-270m") continue;
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(cfg));
    for (const lora of process.argv.includes("--no-lora") ? [false] : [false, true]) {
      const common = [
        "--model",
        path,
        "--batch-size",
        B,
        "--seq-len",
        T,
        "--steps",
        steps,
        "--warmup",
        warmup,
      ];
      const loraArgs = lora ? ["--lora-r", loraR] : [];
      const ours = run(process.execPath, [
        join(ROOT, "bin/sft.js"),
        "bench",
        "train",
        ...common,
        ...loraArgs,
      ]);
      const torch = run(PYTHON, [join(ROOT, "tools/torch_reference.py"), "bench", ...common, ...loraArgs]);
      let label = `${name} ${lora ? `LoRA r${loraR}` : "full"}`;
      // A run on the TypeScript fallback (e.g. while the addon is being rebuilt) is marked.
      if (ours.kernels !== "native") label += ` [${ours.kernels} kernels!]`;
      console.log(JSON.stringify({ run: label, sftkit: ours, torch }));
      rows.push(
        [
          label.padEnd(14),
          `${(ours.params / 1e6).toFixed(1)}M`.padStart(7),
          ours.tokens_per_s.toFixed(0).padStart(8),
          torch.tokens_per_s.toFixed(0).padStart(8),
          `${(ours.tokens_per_s / torch.tokens_per_s).toFixed(2)}x`.padStart(7),
          ours.peak_rss_mb.toFixed(0).padStart(8),
          torch.peak_rss_mb.toFixed(0).padStart(8),
        ].join(" "),
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `\nbatch ${B} x seq ${T}, median of ${steps} steps after ${warmup} warm-up; ${cpus().length} CPUs`,
);
console.log(
  `1-min load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after (other processes share these CPUs)`,
);
console.log("run             params  sft tok/s torch tok/s ratio  sft MB torch MB");
for (const r of rows) console.log(r);
