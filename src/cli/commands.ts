/**
 * The registry of CLI commands. A command module exports `register(parent: Command)` and is
 * listed here once: top-level commands in COMMANDS, subcommands of the `sft data` and
 * `sft bench` groups in DATA_COMMANDS and BENCH_COMMANDS. (`sft eval` is a top-level
 * command module that owns its own subcommands.)
 */
import type { Command } from "commander";
import { register as benchGenerate } from "./bench-generate.js";
import { register as benchTrain } from "./bench-train.js";
import { register as dataAugment } from "./data-augment.js";
import { register as dataBalance } from "./data-balance.js";
import { register as dataBuild } from "./data-build.js";
import { register as dataCheck } from "./data-check.js";
import { register as dataConvert } from "./data-convert.js";
import { register as dataDedup } from "./data-dedup.js";
import { register as dataDiversity } from "./data-diversity.js";
import { register as dataInspect } from "./data-inspect.js";
import { register as dataQuality } from "./data-quality.js";
import { register as dataRender } from "./data-render.js";
import { register as dataStats } from "./data-stats.js";
import { register as dataValidate } from "./data-validate.js";
import { register as evalCommand } from "./eval.js";
import { register as exportCommand } from "./export.js";
import { register as generate } from "./generate.js";
import { register as grads } from "./grads.js";
import { register as handoff } from "./handoff.js";
import { register as quickstart } from "./quickstart.js";
import { register as train } from "./train.js";
import { register as ui } from "./ui.js";

export type RegisterCommand = (parent: Command) => void;

export const COMMANDS: RegisterCommand[] = [
  grads,
  train,
  generate,
  evalCommand,
  exportCommand,
  handoff,
  quickstart,
  ui,
];

export const DATA_COMMANDS: RegisterCommand[] = [
  dataBuild,
  dataAugment,
  dataQuality,
  dataDedup,
  dataBalance,
  dataDiversity,
  dataConvert,
  dataValidate,
  dataStats,
  dataRender,
  dataInspect,
  dataCheck,
];

export const BENCH_COMMANDS: RegisterCommand[] = [benchTrain, benchGenerate];
