/**
 * `sft train --engine torch` against the native trainer on the real stories260K: the same
 * config and seed give the same per-step training loss and eval loss (1e-3 relative) in one
 * process and on 2 gloo ranks, LoRA and full; the PEFT adapter it writes loads in
 * `sft generate`; a rank killed with SIGKILL stops the job naming the rank and `--resume`
 * finishes it where an uninterrupted run ends. Skips where the torch venv cannot be made.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { train } from "../../../src/train/index.js";
import { spawnSft } from "../../helpers/spawn-sft.js";
import { torchVenvPython } from "../../helpers/torch-venv.js";
import { STORIES_GGUF, writeInstructionSet } from "../instruction-set.js";

const venv = torchVenvPython();
const skip = "skip" in venv ? venv.skip : false;
const python = "python" in venv ? venv.python : "";

type Entry = { step: number; loss?: number; eval_loss?: number };

/** The training losses of the LoRA test's uninterrupted 2-rank run (the kill test ends there). */
let uninterruptedTwoRanks: Entry[] | undefined;

function setup(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `torch-engine-${name}-`));
  const data = writeInstructionSet(dir, "train.json", 24);
  const evalData = writeInstructionSet(dir, "eval.json", 8, 100);
  return { dir, data, evalData };
}

function options(data: string, evalData: string, full: boolean) {
  return {
    model: STORIES_GGUF,
    data,
    eval_data: evalData,
    max_steps: 20,
    per_device_train_batch_size: 3,
    gradient_accumulation_steps: 2,
    learning_rate: 5e-3,
    lr_scheduler_type: "cosine" as const,
    warmup_steps: 3,
    weight_decay: 0.01,
    max_grad_norm: 1.0,
    logging_steps: 1,
    eval_steps: 10,
    save_steps: 10,
    seed: 11,
    finetuning_type: full ? ("full" as const) : ("lora" as const),
    lora: { r: 4, alpha: 8, dropout: 0 },
    // the full runs pack: attention restricted to each packed sample on the torch side too
    max_seq_length: 256,
    packing: full,
  };
}

/** The same options as CLI flags. */
function flags(o: ReturnType<typeof options>, out: string): string[] {
  return [
    ...["--max-seq-length", "256", ...(o.packing ? ["--packing"] : [])],
    ...["--model", o.model, "--data", o.data, "--eval-data", o.eval_data, "--out", out],
    ...["--max-steps", "20", "--batch-size", "3", "--gradient-accumulation-steps", "2"],
    ...[
      "--learning-rate",
      "5e-3",
      "--lr-scheduler-type",
      "cosine",
      "--warmup-steps",
      "3",
      "--weight-decay",
      "0.01",
    ],
    ...[
      "--max-grad-norm",
      "1",
      "--logging-steps",
      "1",
      "--eval-steps",
      "10",
      "--save-steps",
      "10",
      "--seed",
      "11",
    ],
    ...(o.finetuning_type === "full"
      ? ["--full"]
      : ["--lora-r", "4", "--lora-alpha", "8", "--lora-dropout", "0"]),
  ];
}

function history(runDir: string): Entry[] {
  return JSON.parse(readFileSync(join(runDir, "trainer_state.json"), "utf8")).log_history as Entry[];
}

function assertSameLosses(native: Entry[], torch: Entry[], what: string): void {
  for (const key of ["loss", "eval_loss"] as const) {
    const a = native.filter((e) => e[key] !== undefined);
    const b = torch.filter((e) => e[key] !== undefined);
    assert.deepEqual(
      b.map((e) => e.step),
      a.map((e) => e.step),
      `${what}: ${key} logged at the same steps`,
    );
    for (const [i, e] of a.entries()) {
      const rel = Math.abs((b[i][key] as number) - (e[key] as number)) / Math.abs(e[key] as number);
      assert.ok(
        rel < 1e-3,
        `${what}: ${key} at step ${e.step}: native ${e[key]} torch ${b[i][key]} (rel ${rel})`,
      );
    }
  }
  assert.equal(native.filter((e) => e.loss !== undefined).length, 20, "20 training steps logged");
}

async function sft(args: string[], cwd: string) {
  const r = await spawnSft(args, cwd).done;
  assert.equal(r.code, 0, `sft ${args.slice(0, 3).join(" ")} failed:\n${r.err}\n${r.out.slice(-2000)}`);
  return r;
}

test("LoRA: torch engine (1 process and 2 gloo ranks) has the native per-step and eval losses; its adapter generates", {
  skip,
}, async () => {
  const { dir, data, evalData } = setup("lora");
  const o = options(data, evalData, false);
  await train({ ...o, output_dir: join(dir, "native") }, { quiet: true });
  const one = join(dir, "torch1");
  const two = join(dir, "torch2");
  await sft(["train", ...flags(o, one), "--engine", "torch", "--python", python, "--quiet"], dir);
  await sft(
    ["train", ...flags(o, two), "--engine", "torch", "--python", python, "--nproc-per-node", "2", "--quiet"],
    dir,
  );
  const native = history(join(dir, "native"));
  assertSameLosses(native, history(one), "1 process");
  assertSameLosses(native, history(two), "2 ranks");
  uninterruptedTwoRanks = history(two).filter((e) => e.loss !== undefined);
  for (const f of [
    "adapter/adapter_config.json",
    "adapter/adapter_model.safetensors",
    "metrics.jsonl",
    "checkpoint-20/trainer_state.json",
  ])
    assert.ok(existsSync(join(two, f)), `${f} in the torch run directory`);
  const metrics = readFileSync(join(two, "metrics.jsonl"), "utf8").trim().split("\n");
  assert.equal(metrics.length, native.length, "one metrics line per log entry");
  const gen = await sft(
    [
      "generate",
      "--model",
      STORIES_GGUF,
      "--adapter",
      join(two, "adapter"),
      "--prompt",
      "Who has the ball?",
      "--max-new-tokens",
      "8",
      "--temperature",
      "0",
    ],
    dir,
  );
  assert.ok(gen.out.trim().length > 0, "the adapter generates text");
});

test("full fine-tuning, packed: 2 gloo ranks have the native per-step and eval losses; model/ is HF safetensors", {
  skip,
}, async () => {
  const { dir, data, evalData } = setup("full");
  const o = options(data, evalData, true);
  await train({ ...o, output_dir: join(dir, "native") }, { quiet: true });
  const two = join(dir, "torch2");
  await sft(
    ["train", ...flags(o, two), "--engine", "torch", "--python", python, "--nproc-per-node", "2", "--quiet"],
    dir,
  );
  assertSameLosses(history(join(dir, "native")), history(two), "2 ranks, full");
  assert.ok(readdirSync(join(two, "model")).includes("model.safetensors"));
});

test("a missing Python and a Python without torch are one-line errors saying what to install", {
  skip,
}, async () => {
  const { dir, data } = setup("errors");
  const base = ["train", "--model", STORIES_GGUF, "--data", data, "--max-steps", "1", "--engine", "torch"];
  const missing = await spawnSft([...base, "--out", join(dir, "a"), "--python", join(dir, "no-python")], dir)
    .done;
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /no Python at/);
  const bare = await spawnSft([...base, "--out", join(dir, "b"), "--python", "/usr/bin/python3"], dir).done;
  assert.notEqual(bare.code, 0);
  assert.match(
    bare.err,
    /(torch|transformers|peft|safetensors) .*(not installed|older than the tested)[\s\S]*pip install/,
  );
  const cuda = await spawnSft([...base, "--out", join(dir, "c"), "--python", python, "--device", "cuda"], dir)
    .done;
  assert.notEqual(cuda.code, 0);
  assert.match(cuda.err, /--device cuda was asked/);
  const holder = createServer();
  const port = await new Promise<number>((r) =>
    holder.listen(0, "127.0.0.1", () => r((holder.address() as AddressInfo).port)),
  );
  try {
    const busy = await spawnSft(
      [
        ...base,
        "--out",
        join(dir, "d"),
        "--python",
        python,
        "--nproc-per-node",
        "2",
        "--master-port",
        String(port),
      ],
      dir,
    ).done;
    assert.notEqual(busy.code, 0);
    assert.match(busy.err, new RegExp(`port ${port} on 127.0.0.1 is in use`));
  } finally {
    holder.close();
  }
});

/** The pid of rank `rank` of the recipe training into `runDir` (found in /proc), or undefined. */
function rankPid(runDir: string, rank: number): number | undefined {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (!cmd.includes("train.py") || !cmd.includes(runDir) || cmd.includes("torch.distributed.run"))
        continue;
      const env = readFileSync(`/proc/${name}/environ`, "utf8").split("\0");
      if (env.includes(`RANK=${rank}`)) return Number(name);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

test("SIGKILL of rank 1 stops the job naming the rank; --resume finishes where an uninterrupted run ends", {
  skip,
}, async () => {
  const { dir, data, evalData } = setup("kill");
  // the same run as the LoRA test, with a checkpoint every 5 steps
  const o = { ...options(data, evalData, false), save_steps: 5 };
  await train({ ...o, output_dir: join(dir, "native") }, { quiet: true });
  const run = join(dir, "torch");
  const args = flags(o, run).map((a, i, all) => (all[i - 1] === "--save-steps" ? "5" : a));
  const job = spawnSft(
    ["train", ...args, "--engine", "torch", "--python", python, "--nproc-per-node", "2", "--quiet"],
    dir,
  );
  let killed = false;
  while (!killed && job.child.exitCode === null) {
    const pid = existsSync(join(run, "checkpoint-5")) ? rankPid(run, 1) : undefined;
    if (pid !== undefined) {
      process.kill(pid, "SIGKILL");
      killed = true;
    } else await new Promise((r) => setTimeout(r, 5));
  }
  const r = await job.done;
  assert.ok(killed, "rank 1 was found and killed before the job ended");
  assert.notEqual(r.code, 0, "the job fails");
  assert.match(r.err, /rank 1 of 2 was killed by SIGKILL/);
  await sft(["train", "--resume", run, "--python", python, "--quiet"], dir);
  const native = history(join(dir, "native")).filter((e) => e.loss !== undefined);
  const resumed = history(run).filter((e) => e.loss !== undefined);
  assert.deepEqual(
    resumed.map((e) => e.step),
    native.map((e) => e.step),
    "every step once, in order",
  );
  for (const [k, e] of native.entries()) {
    const rel = Math.abs((resumed[k].loss as number) - (e.loss as number)) / (e.loss as number);
    assert.ok(rel < 1e-3, `step ${e.step}: native ${e.loss}, killed and resumed ${resumed[k].loss}`);
  }
  // the same engine, ranks and data: the killed-and-resumed run is the uninterrupted one
  if (uninterruptedTwoRanks)
    for (const [k, e] of uninterruptedTwoRanks.entries()) {
      const rel = Math.abs((resumed[k].loss as number) - (e.loss as number)) / (e.loss as number);
      assert.ok(rel < 1e-4, `step ${e.step}: uninterrupted ${e.loss}, killed and resumed ${resumed[k].loss}`);
    }
});
