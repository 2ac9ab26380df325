/**
 * Seed tasks for self-instruct: JSONL or a JSON array of either the self-instruct layout
 * `{instruction, instances: [{input, output}]}` or the Alpaca layout `{instruction, input, output}`.
 */
import { readFileSync } from "node:fs";
import { SftError } from "../../errors.js";

export interface SeedTask {
  instruction: string;
  input: string;
  output: string;
}

function toSeed(row: unknown, file: string, line: number): SeedTask {
  const r = row as { instruction?: unknown; input?: unknown; output?: unknown; instances?: unknown };
  if (!r || typeof r !== "object" || typeof r.instruction !== "string" || r.instruction.trim() === "") {
    throw new SftError("a seed task needs a non-empty string `instruction`", {
      where: { file, line, field: "instruction" },
      hint: "each seed is {instruction, instances: [{input, output}]} or {instruction, input, output}",
    });
  }
  const inst = Array.isArray(r.instances) ? (r.instances[0] as { input?: unknown; output?: unknown }) : r;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    instruction: r.instruction.trim(),
    input: str(inst?.input).trim(),
    output: str(inst?.output).trim(),
  };
}

export function loadSeedTasks(file: string): SeedTask[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new SftError(`cannot read seed tasks ${file}: ${(e as Error).message}`, {
      where: { file, field: "self_instruct.seed_tasks" },
      hint: "check the path (relative paths are resolved from the config file's folder)",
    });
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    let rows: unknown[];
    try {
      rows = JSON.parse(trimmed) as unknown[];
    } catch (e) {
      throw new SftError(`seed tasks file is not valid JSON: ${(e as Error).message}`, { where: { file } });
    }
    return rows.map((r, i) => toSeed(r, file, i + 1));
  }
  const seeds: SeedTask[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new SftError(`invalid JSON: ${(e as Error).message}`, {
        where: { file, line: i + 1 },
        hint: "seed files are JSON Lines (one task per line) or one JSON array",
      });
    }
    seeds.push(toSeed(row, file, i + 1));
  });
  if (seeds.length === 0) throw new SftError("the seed tasks file is empty", { where: { file } });
  return seeds;
}
