/**
 * A small instruction set for training tests, built here: short questions whose answers
 * follow a learnable pattern in the TinyStories vocabulary of stories260K.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const repoRoot = resolve(new URL("../..", import.meta.url).pathname);
export const STORIES_GGUF = resolve(repoRoot, "../shared/models/stories260K/stories260K.gguf");

const NAMES = ["Lily", "Tom", "Sue", "Ben", "Max", "Amy", "Sam", "Tim"];
const THINGS = ["ball", "cat", "dog", "tree", "cake", "box", "sun", "car"];

/** Alpaca-format rows; `task` tags half of them differently for multi-task tests. */
export function instructionRows(n: number, offset = 0): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const name = NAMES[i % NAMES.length];
    const thing = THINGS[(i * 3 + 1) % THINGS.length];
    return {
      instruction: `Who has the ${thing}?`,
      input: "",
      output: `${name} has the ${thing}. ${name} is happy.`,
    };
  });
}

export function writeInstructionSet(dir: string, name: string, n: number, offset = 0): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(instructionRows(n, offset)));
  return file;
}
