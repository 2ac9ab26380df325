/**
 * The registry of CLI commands: one import and one entry per command module.
 * Add a command by creating src/cli/<name>.ts exporting `register(program: Command)`
 * and listing it here.
 */
import type { Command } from "commander";

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [];
