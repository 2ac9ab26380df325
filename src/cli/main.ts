/**
 * The `sft` command line. Each command lives in its own module under src/cli/ and exports
 * `register(program)`; this file only wires them together and turns SftErrors into
 * one-line messages with exit code 1.
 */
import { Command, CommanderError } from "commander";
import { isSftError } from "../errors.js";
import { BENCH_COMMANDS, COMMANDS, DATA_COMMANDS } from "./commands.js";

export function buildProgram(): Command {
  const program = new Command("sft")
    .description(
      "sftkit: build instruction data, fine-tune LLMs (full or LoRA) and measure the gain over the base model",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)");
  for (const register of COMMANDS) register(program);
  const data = program
    .command("data")
    .description("build, convert, validate, check, render and describe datasets");
  for (const register of DATA_COMMANDS) register(data);
  const bench = program.command("bench").description("benchmarks: training and generation speed");
  for (const register of BENCH_COMMANDS) register(bench);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (isSftError(e)) {
      process.stderr.write(`error: ${e.format()}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}
