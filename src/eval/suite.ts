/**
 * Evaluation suites. A suite is a JSONL file, one sample per line:
 *
 *   {"instruction": "What is 6*7?", "expected": "42", "task": "math", "checker": "numeric"}
 *   {"instruction": "Return JSON with a name", "task": "json", "checker": "json_schema",
 *    "schema": {"type": "object", "required": ["name"]}}
 *   {"instruction": "Write add(a,b)", "task": "code", "checker": {"type": "code", "tests": ["assert.equal(add(1,2),3)"]}}
 *
 * Fields: `instruction` (required), `input` (appended after a blank line), `system`,
 * `expected`, `task` (required; results are grouped by it), `checker` (a name or
 * `{type, …options}`), checker options at row level (`pattern`, `flags`, `choices`,
 * `tolerance`, `relative_tolerance`, `threshold`, `schema`, `tests`, `timeout_ms`,
 * `memory_mb`, `case_sensitive`), `id` (default `<file>:<line>`), and optionally IFEval
 * constraints (`instruction_id_list` + `kwargs`) that the format score then checks.
 * IFEval's own prompt files can be used as a suite too (task "ifeval").
 *
 * Code rows may name their `language` (python, javascript, typescript; else the answer's
 * fence tag decides, else javascript), the `entry_point` the tests call and, for Python,
 * `setup` code run first. The published code-generation formats are read as they are, row by
 * row (one file may mix them):
 * - HumanEval (`task_id, prompt, canonical_solution, test, entry_point`): the model gets the
 *   prompt; the program is prompt + the answer's code; the test is `test` + `check(entry_point)`;
 *   Python; task "humaneval" unless the row has a `task`.
 * - MBPP (`task_id, text, code, test_list, test_setup_code`): the model gets the text and the
 *   tests it must pass (as in the MBPP paper); each assert of `test_list` is one test, after
 *   `test_setup_code`; Python; task "mbpp".
 */
import { basename } from "node:path";
import { z } from "zod";
import { SftError } from "../errors.js";
import {
  CHECKERS,
  type CheckerName,
  type CheckerOptions,
  compileSchema,
  missingOption,
} from "./checkers/checkers.js";
import { CODE_LANGUAGES } from "./code/extract.js";
import { readIfevalPrompts } from "./ifeval/evaluate.js";
import { bindInstruction } from "./ifeval/instructions.js";
import { describeIssue, readJsonl } from "./io/jsonl.js";

const checkerOptionFields = {
  expected: z.unknown().optional(),
  case_sensitive: z.boolean().optional(),
  pattern: z.string().optional(),
  flags: z.string().optional(),
  choices: z.array(z.string()).optional(),
  tolerance: z.number().nonnegative().optional(),
  relative_tolerance: z.number().nonnegative().optional(),
  threshold: z.number().min(0).max(1).optional(),
  schema: z.union([z.record(z.string(), z.unknown()), z.boolean()]).optional(),
  tests: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  timeout_ms: z.number().int().positive().optional(),
  memory_mb: z.number().int().positive().optional(),
  language: z.enum(CODE_LANGUAGES).optional(),
  entry_point: z.string().min(1).optional(),
  setup: z.string().optional(),
};

const humanEvalRowSchema = z
  .object({
    task_id: z.union([z.string().min(1), z.number()]),
    prompt: z.string().min(1),
    canonical_solution: z.string().optional(),
    test: z.string().min(1),
    entry_point: z.string().min(1),
    task: z.string().min(1).optional(),
    timeout_ms: z.number().int().positive().optional(),
    memory_mb: z.number().int().positive().optional(),
  })
  .passthrough();

const mbppRowSchema = z
  .object({
    task_id: z.union([z.string().min(1), z.number()]),
    text: z.string().min(1),
    code: z.string().optional(),
    test_list: z.array(z.string().min(1)).min(1),
    test_setup_code: z.string().optional(),
    challenge_test_list: z.array(z.string()).optional(),
    task: z.string().min(1).optional(),
    timeout_ms: z.number().int().positive().optional(),
    memory_mb: z.number().int().positive().optional(),
  })
  .passthrough();

type RowFormat = "humaneval" | "mbpp" | "sftkit";

function formatOf(value: unknown): RowFormat {
  if (typeof value !== "object" || value === null) return "sftkit";
  const v = value as Record<string, unknown>;
  if ("instruction" in v) return "sftkit";
  if ("entry_point" in v && "test" in v && "prompt" in v) return "humaneval";
  if ("test_list" in v && "text" in v) return "mbpp";
  return "sftkit";
}

function notARow(
  format: string,
  error: z.ZodError,
  where: { file: string; line: number },
  hint: string,
): SftError {
  const { field, message } = describeIssue(error);
  return new SftError(`not a ${format} row: ${message}`, { where: { ...where, field }, hint });
}

/** A HumanEval- or MBPP-format row as an evaluation item (see the module comment). */
function publishedCodeItem(
  format: "humaneval" | "mbpp",
  value: unknown,
  where: { file: string; line: number },
): EvalItem {
  if (format === "humaneval") {
    const parsed = humanEvalRowSchema.safeParse(value);
    if (!parsed.success)
      throw notARow(
        "HumanEval",
        parsed.error,
        where,
        "a HumanEval row is {task_id, prompt, canonical_solution, test, entry_point}",
      );
    const r = parsed.data;
    return {
      id: String(r.task_id),
      task: r.task ?? "humaneval",
      prompt: r.prompt,
      checker: "code",
      options: {
        expected: r.canonical_solution,
        tests: [`${r.test}\n\ncheck(${r.entry_point})\n`],
        language: "python",
        entry_point: r.entry_point,
        prefix: r.prompt,
        timeout_ms: r.timeout_ms,
        memory_mb: r.memory_mb,
      },
      source: where,
    };
  }
  const parsed = mbppRowSchema.safeParse(value);
  if (!parsed.success)
    throw notARow(
      "MBPP",
      parsed.error,
      where,
      "an MBPP row is {task_id, text, code, test_list, test_setup_code}",
    );
  const r = parsed.data;
  const entry = /^\s*assert\s+(?:not\s+)?\(?\s*(?:set\(|math\.isclose\()?\s*([A-Za-z_]\w*)\s*\(/.exec(
    r.test_list[0],
  )?.[1];
  return {
    id: String(r.task_id),
    task: r.task ?? "mbpp",
    prompt: `${r.text}\nYour code should pass these tests:\n\n${r.test_list.join("\n")}`,
    checker: "code",
    options: {
      expected: r.code,
      tests: r.test_list,
      setup: r.test_setup_code ?? "",
      language: "python",
      entry_point: entry,
      timeout_ms: r.timeout_ms,
      memory_mb: r.memory_mb,
    },
    source: where,
  };
}

export const suiteRowSchema = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    instruction: z.string().min(1),
    input: z.string().optional(),
    system: z.string().optional(),
    task: z.string().min(1),
    checker: z.union([
      z.enum(CHECKERS),
      z.object({ type: z.enum(CHECKERS), ...checkerOptionFields }).strict(),
    ]),
    instruction_id_list: z.array(z.string()).optional(),
    kwargs: z.array(z.record(z.string(), z.unknown()).nullable()).optional(),
    ...checkerOptionFields,
  })
  .passthrough();

/** IFEval constraints attached to a sample. */
export interface IfevalConstraints {
  instruction_id_list: string[];
  kwargs: (Record<string, unknown> | null)[];
}

/** One sample to generate for and score. */
export interface EvalItem {
  id: string;
  task: string;
  /** What the model is asked (instruction + input). */
  prompt: string;
  system?: string;
  /** "ifeval" items are scored by their IFEval constraints alone. */
  checker: CheckerName | "ifeval";
  options: CheckerOptions;
  ifeval?: IfevalConstraints;
  /** Where the sample came from, for messages. */
  source: { file: string; line: number };
}

function validateConstraints(c: IfevalConstraints, where: { file: string; line: number }): void {
  if (c.kwargs.length !== c.instruction_id_list.length) {
    throw new SftError("instruction_id_list and kwargs differ in length", {
      where: { ...where, field: "kwargs" },
      hint: "give one kwargs object (possibly {}) per instruction id",
    });
  }
  c.instruction_id_list.forEach((id, i) => {
    bindInstruction(id, c.kwargs[i], { ...where, field: `kwargs[${i}]` });
  });
}

/** Reads and validates a suite file. Every problem names file, line and field. */
export async function readSuite(file: string): Promise<EvalItem[]> {
  const items: EvalItem[] = [];
  const seen = new Set<string>();
  for (const { value, line } of await readJsonl(file)) {
    const where = { file, line };
    const format = formatOf(value);
    if (format !== "sftkit") {
      const item = publishedCodeItem(format, value, where);
      if (seen.has(item.id))
        throw new SftError(`duplicate sample id "${item.id}"`, { where: { ...where, field: "task_id" } });
      seen.add(item.id);
      items.push(item);
      continue;
    }
    const parsed = suiteRowSchema.safeParse(value);
    if (!parsed.success) {
      const { field, message } = describeIssue(parsed.error);
      throw new SftError(`not a suite row: ${message}`, {
        where: { ...where, field },
        hint: `a suite row is {instruction, expected?, task, checker} with checker one of ${CHECKERS.join(", ")}`,
      });
    }
    const row = parsed.data;
    const { type: checker, ...fromChecker } =
      typeof row.checker === "string" ? { type: row.checker } : row.checker;
    const options: CheckerOptions = {
      expected: row.expected,
      case_sensitive: row.case_sensitive,
      pattern: row.pattern,
      flags: row.flags,
      choices: row.choices,
      tolerance: row.tolerance,
      relative_tolerance: row.relative_tolerance,
      threshold: row.threshold,
      schema: row.schema,
      tests: row.tests,
      timeout_ms: row.timeout_ms,
      memory_mb: row.memory_mb,
      language: row.language,
      entry_point: row.entry_point,
      setup: row.setup,
    };
    for (const [k, v] of Object.entries(fromChecker))
      if (v !== undefined) (options as Record<string, unknown>)[k] = v;
    const missing = missingOption(checker, options);
    if (missing) {
      throw new SftError(`checker "${checker}" needs ${missing}`, {
        where: { ...where, field: missing.split(" ")[0] },
        hint: `add "${missing.split(" ")[0]}" to the row or to the checker object`,
      });
    }
    if (checker === "regex") {
      try {
        new RegExp(options.pattern ?? String(options.expected), options.flags ?? "i");
      } catch (e) {
        throw new SftError(`invalid regular expression: ${(e as Error).message}`, {
          where: { ...where, field: "pattern" },
        });
      }
    }
    if (checker === "json_schema") {
      try {
        compileSchema(options.schema!);
      } catch (e) {
        throw new SftError(`invalid JSON schema: ${(e as Error).message}`, {
          where: { ...where, field: "schema" },
        });
      }
    }
    let ifeval: IfevalConstraints | undefined;
    if (row.instruction_id_list) {
      ifeval = {
        instruction_id_list: row.instruction_id_list,
        kwargs: row.kwargs ?? row.instruction_id_list.map(() => ({})),
      };
      validateConstraints(ifeval, where);
    }
    const id = row.id !== undefined ? String(row.id) : `${basename(file)}:${line}`;
    if (seen.has(id)) throw new SftError(`duplicate sample id "${id}"`, { where: { ...where, field: "id" } });
    seen.add(id);
    items.push({
      id,
      task: row.task,
      prompt: row.input ? `${row.instruction}\n\n${row.input}` : row.instruction,
      system: row.system,
      checker,
      options,
      ifeval,
      source: where,
    });
  }
  if (items.length === 0) {
    throw new SftError("the suite has no samples", { where: { file }, hint: "add JSONL rows" });
  }
  return items;
}

/** IFEval's prompt file as evaluation items (task "ifeval"). */
export async function readIfevalAsItems(file: string): Promise<EvalItem[]> {
  const rows = await readIfevalPrompts(file);
  return rows.map(({ row, line }) => {
    const ifeval = { instruction_id_list: row.instruction_id_list, kwargs: row.kwargs };
    validateConstraints(ifeval, { file, line });
    return {
      id: `ifeval:${row.key}`,
      task: "ifeval",
      prompt: row.prompt,
      checker: "ifeval" as const,
      options: {},
      ifeval,
      source: { file, line },
    };
  });
}
