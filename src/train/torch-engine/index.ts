/**
 * `sft train --engine torch`: sftkit prepares the run as for the native engine (config,
 * data, tokenization, masks, packing, schedule, LoRA init), writes it to RUN/torch/ once, and
 * the PyTorch recipe in python/sftkit_torch/ trains it on one or many ranks into the same run
 * directory. `--resume` starts the recipe again on the same plan, from its last checkpoint.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TrainConfig, TrainConfigInput } from "../../config/train.js";
import { SftError } from "../../errors.js";
import { writeFileAtomicSync } from "../../util/atomic.js";
import { resolvedTrainConfig, savedTrainConfig, withPreparedRun } from "../index.js";
import { formatSummary } from "../progress.js";
import { readTrainerState } from "../state.js";
import type { TrainHooks } from "../trainer.js";
import { launchRecipe, rendezvousPort, type Topology } from "./launch.js";
import { checkTorchSupport, PLAN_FILE, TORCH_DIR, writeTorchPlan } from "./plan.js";
import { checkPython } from "./python.js";

export interface TorchEngineOptions {
  /** the interpreter with torch, transformers and peft (default python3) */
  python?: string;
  device?: "cpu" | "cuda" | "mps";
  nprocPerNode?: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  /** seconds a rank waits for the others in a collective before the job fails (default 600) */
  timeoutSeconds?: number;
}

const LAUNCH_FILE = "launch.json";

export interface TorchTrainResult {
  runDir: string;
  resultDir: string;
  globalStep: number;
  logHistory: ReturnType<typeof readTrainerState>["log_history"];
}

function resolveOptions(o: TorchEngineOptions): Required<Omit<TorchEngineOptions, "masterPort">> & {
  masterPort?: number;
} {
  const r = {
    python: o.python ?? "python3",
    device: o.device ?? "cpu",
    nprocPerNode: o.nprocPerNode ?? 1,
    nnodes: o.nnodes ?? 1,
    nodeRank: o.nodeRank ?? 0,
    masterAddr: o.masterAddr ?? "127.0.0.1",
    masterPort: o.masterPort,
    timeoutSeconds: o.timeoutSeconds ?? 600,
  };
  for (const [k, v] of [
    ["--nproc-per-node", r.nprocPerNode],
    ["--nnodes", r.nnodes],
  ] as const)
    if (!Number.isInteger(v) || v < 1)
      throw new SftError(`${k} must be a whole number >= 1, got ${v}`, { where: { field: k } });
  if (!Number.isInteger(r.nodeRank) || r.nodeRank < 0 || r.nodeRank >= r.nnodes)
    throw new SftError(`--node-rank must be in 0..${r.nnodes - 1}, got ${r.nodeRank}`, {
      where: { field: "--node-rank" },
    });
  if (!["cpu", "cuda", "mps"].includes(r.device))
    throw new SftError(`--device must be cpu, cuda or mps, got ${r.device}`, {
      where: { field: "--device" },
    });
  return r;
}

async function runTorch(
  config: TrainConfig,
  options: TorchEngineOptions,
  hooks: TrainHooks,
  resume: boolean,
): Promise<TorchTrainResult> {
  const opts = resolveOptions(options);
  checkTorchSupport(config);
  // the interpreter is checked before any data work, so a missing torch fails in a second
  checkPython(opts.python, opts.device);
  // and the rendezvous port, so a port in use fails before it too
  const world = opts.nprocPerNode * opts.nnodes;
  const topology: Topology = {
    ...opts,
    masterPort: world > 1 ? await rendezvousPort(opts) : opts.masterPort,
  };
  const stdout = hooks.stdout ?? process.stdout;
  const quiet = hooks.quiet === true;
  return withPreparedRun(config, hooks, resume, async (prepared) => {
    const planDir = writeTorchPlan(config, prepared, {
      device: opts.device,
      quiet,
      timeoutSeconds: opts.timeoutSeconds,
    });
    writeFileAtomicSync(join(planDir, LAUNCH_FILE), `${JSON.stringify(opts, null, 2)}\n`);
    await launchRecipe({ python: opts.python, planDir, resume, topology, stdout, quiet });
    const state = readTrainerState(join(config.output_dir, "trainer_state.json"));
    const kind = config.finetuning_type === "lora" ? "adapter" : "model";
    const resultDir = join(config.output_dir, kind);
    const losses = state.log_history.filter((e) => e.loss !== undefined);
    const evals = state.log_history.filter((e) => e.eval_loss !== undefined);
    prepared.progress.message(
      formatSummary({
        runDir: config.output_dir,
        steps: state.global_step,
        epochs: state.epoch,
        trainedTokens: state.sft.trainedTokens,
        seconds: state.sft.elapsedSeconds,
        firstLoss: losses[0]?.loss,
        finalLoss: losses[losses.length - 1]?.loss,
        finalEvalLoss: evals[evals.length - 1]?.eval_loss,
        bestEvalLoss: state.best_metric,
        bestCheckpoint: state.best_model_checkpoint,
        stoppedEarly: false,
        result: resultDir,
      }),
    );
    return {
      runDir: config.output_dir,
      resultDir,
      globalStep: state.global_step,
      logHistory: state.log_history,
    };
  });
}

/** Trains a config with the PyTorch recipe. */
export function trainWithTorch(
  input: TrainConfigInput | TrainConfig,
  options: TorchEngineOptions = {},
  hooks: TrainHooks = {},
): Promise<TorchTrainResult> {
  return runTorch(resolvedTrainConfig(input), options, hooks, false);
}

/** Whether the run in `runDir` was started with the torch engine. */
export function isTorchRun(runDir: string): boolean {
  return existsSync(join(runDir, TORCH_DIR, PLAN_FILE));
}

/** Continues a torch-engine run from its last checkpoint; options not given are the run's own. */
export function resumeWithTorch(
  runDir: string,
  options: TorchEngineOptions = {},
  hooks: TrainHooks = {},
): Promise<TorchTrainResult> {
  const file = join(runDir, TORCH_DIR, LAUNCH_FILE);
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as TorchEngineOptions) : {};
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return runTorch(savedTrainConfig(runDir), { ...saved, ...defined }, hooks, true);
}
