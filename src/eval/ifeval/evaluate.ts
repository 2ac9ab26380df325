/**
 * IFEval scoring: strict and loose verdicts per instruction, and the four accuracies.
 *
 * Strict: an instruction is followed when the response is non-blank and passes the rule.
 * Loose: it is followed when any of eight variants passes — the response itself, with its
 * first line removed, its last line removed, both removed, and each of those four with
 * every `*` deleted — so that a preamble line ("Sure, here it is:"), a closing line, or
 * markdown emphasis does not hide an otherwise followed instruction.
 * Prompt-level accuracy: share of prompts whose every instruction is followed.
 * Instruction-level accuracy: share of all instructions followed.
 *
 * Every response line is one scored row, in the responses file's order: a file with two
 * responses to a prompt (several samples per prompt) is scored as two rows, both counted in
 * the accuracies, and a warning says that prompts repeat.
 */
import { z } from "zod";
import { SftError } from "../../errors.js";
import { writeFileAtomicSync } from "../../util/atomic.js";
import { describeIssue, readJsonl } from "../io/jsonl.js";
import { bindInstruction } from "./instructions.js";
import { pyStrip } from "./pytext.js";

export const ifevalPromptSchema = z.object({
  key: z.union([z.number(), z.string()]),
  prompt: z.string(),
  instruction_id_list: z.array(z.string()),
  kwargs: z.array(z.record(z.string(), z.unknown()).nullable()),
});
export type IfevalPrompt = z.infer<typeof ifevalPromptSchema>;

export const ifevalResponseSchema = z.object({ prompt: z.string(), response: z.string() });

export interface FollowResult {
  follow_all_instructions: boolean;
  follow_instruction_list: boolean[];
}

export interface IfevalRow {
  key: number | string;
  /** line of the response in the responses file (when read from a file) */
  response_line?: number;
  prompt: string;
  instruction_id_list: string[];
  strict: FollowResult;
  loose: FollowResult;
}

export interface IfevalAccuracy {
  prompt_strict: number;
  prompt_loose: number;
  instruction_strict: number;
  instruction_loose: number;
}

export interface IfevalResult {
  accuracy: IfevalAccuracy;
  /** one row per response line, in file order */
  rows: IfevalRow[];
  /** prompts answered by more than one response line */
  repeated_prompts: number;
  warnings: string[];
  /** Per instruction id: how many times it was asked and the strict/loose follow rates. */
  by_instruction: Record<string, { count: number; strict: number; loose: number }>;
}

/** The eight response variants of loose mode, in the reference's order. */
export function looseVariants(response: string): string[] {
  const lines = response.split("\n");
  const removeFirst = pyStrip(lines.slice(1).join("\n"));
  const removeLast = pyStrip(lines.slice(0, -1).join("\n"));
  const removeBoth = pyStrip(lines.slice(1, -1).join("\n"));
  const noStars = (s: string) => s.replaceAll("*", "");
  return [
    response,
    noStars(response),
    removeFirst,
    removeLast,
    removeBoth,
    noStars(removeFirst),
    noStars(removeLast),
    noStars(removeBoth),
  ];
}

export interface ScoredPrompt {
  strict: FollowResult;
  loose: FollowResult;
}

/** Scores one response against one IFEval prompt row. */
export function scoreIfevalPrompt(
  prompt: IfevalPrompt,
  response: string,
  where: { file?: string; line?: number } = {},
): ScoredPrompt {
  if (prompt.kwargs.length !== prompt.instruction_id_list.length) {
    throw new SftError(
      `instruction_id_list has ${prompt.instruction_id_list.length} ids but kwargs has ${prompt.kwargs.length} entries`,
      {
        where: { ...where, field: "kwargs" },
        hint: "give one kwargs object (possibly {}) per instruction id",
      },
    );
  }
  const variants = looseVariants(response);
  const strict: boolean[] = [];
  const loose: boolean[] = [];
  prompt.instruction_id_list.forEach((id, i) => {
    const rule = bindInstruction(id, prompt.kwargs[i], { ...where, field: `kwargs[${i}]` });
    strict.push(pyStrip(response) !== "" && rule(response));
    loose.push(variants.some((v) => pyStrip(v) !== "" && rule(v)));
  });
  return {
    strict: { follow_all_instructions: strict.every(Boolean), follow_instruction_list: strict },
    loose: { follow_all_instructions: loose.every(Boolean), follow_instruction_list: loose },
  };
}

function ratio(n: number, d: number): number {
  return d === 0 ? 0 : n / d;
}

/** Accuracies over already-scored rows. */
export function ifevalAccuracy(rows: IfevalRow[]): IfevalAccuracy {
  const flat = (mode: "strict" | "loose") => rows.flatMap((r) => r[mode].follow_instruction_list);
  const instrStrict = flat("strict");
  const instrLoose = flat("loose");
  return {
    prompt_strict: ratio(rows.filter((r) => r.strict.follow_all_instructions).length, rows.length),
    prompt_loose: ratio(rows.filter((r) => r.loose.follow_all_instructions).length, rows.length),
    instruction_strict: ratio(instrStrict.filter(Boolean).length, instrStrict.length),
    instruction_loose: ratio(instrLoose.filter(Boolean).length, instrLoose.length),
  };
}

function byInstruction(rows: IfevalRow[]): IfevalResult["by_instruction"] {
  const acc: Record<string, { count: number; strict: number; loose: number }> = {};
  for (const r of rows) {
    r.instruction_id_list.forEach((id, i) => {
      acc[id] ??= { count: 0, strict: 0, loose: 0 };
      const e = acc[id];
      e.count++;
      if (r.strict.follow_instruction_list[i]) e.strict++;
      if (r.loose.follow_instruction_list[i]) e.loose++;
    });
  }
  for (const e of Object.values(acc)) {
    e.strict = ratio(e.strict, e.count);
    e.loose = ratio(e.loose, e.count);
  }
  return acc;
}

export interface IfevalResponseLine {
  prompt: string;
  response: string;
  line?: number;
}

/**
 * Scores every response line against its prompt (matched by exact prompt text, as the
 * reference does). A response to an unknown prompt and a prompt without any response are
 * errors naming the file and line.
 */
export function evaluateIfeval(
  prompts: { row: IfevalPrompt; line?: number }[],
  responses: IfevalResponseLine[],
  files: { prompts?: string; responses?: string } = {},
): IfevalResult {
  const byText = new Map<string, { row: IfevalPrompt; line?: number }>();
  for (const p of prompts) if (!byText.has(p.row.prompt)) byText.set(p.row.prompt, p);
  const answered = new Map<string, number>();
  const rows: IfevalRow[] = responses.map((r) => {
    const p = byText.get(r.prompt);
    if (!p) {
      throw new SftError(
        `response to a prompt that is not in the prompts file: ${JSON.stringify(r.prompt.slice(0, 80))}`,
        {
          where: { file: files.responses, line: r.line, field: "prompt" },
          hint: "each response row's prompt must equal one prompt of the prompts file exactly",
        },
      );
    }
    answered.set(r.prompt, (answered.get(r.prompt) ?? 0) + 1);
    const scored = scoreIfevalPrompt(p.row, r.response, { file: files.prompts, line: p.line });
    return {
      key: p.row.key,
      ...(r.line !== undefined ? { response_line: r.line } : {}),
      prompt: p.row.prompt,
      instruction_id_list: p.row.instruction_id_list,
      ...scored,
    };
  });
  for (const { row, line } of prompts) {
    if (!answered.has(row.prompt)) {
      throw new SftError(`no response for prompt key ${row.key}`, {
        where: { file: files.prompts, line },
        hint: "the responses file must hold a {prompt, response} row whose prompt equals this prompt exactly",
      });
    }
  }
  const repeated = [...answered.values()].filter((n) => n > 1).length;
  const warnings = repeated
    ? [
        `${repeated} of ${answered.size} prompts have more than one response (${rows.length} response rows): each response is scored as its own row and counted in the accuracies`,
      ]
    : [];
  return {
    accuracy: ifevalAccuracy(rows),
    rows,
    repeated_prompts: repeated,
    warnings,
    by_instruction: byInstruction(rows),
  };
}

export async function readIfevalPrompts(file: string): Promise<{ row: IfevalPrompt; line: number }[]> {
  const out: { row: IfevalPrompt; line: number }[] = [];
  for (const { value, line } of await readJsonl(file)) {
    const parsed = ifevalPromptSchema.safeParse(value);
    if (!parsed.success) {
      const { field, message } = describeIssue(parsed.error);
      throw new SftError(`not an IFEval prompt row: ${message}`, {
        where: { file, line, field },
        hint: "expected {key, prompt, instruction_id_list, kwargs} as in IFEval's input_data.jsonl",
      });
    }
    out.push({ row: parsed.data, line });
  }
  return out;
}

export async function readIfevalResponses(file: string): Promise<IfevalResponseLine[]> {
  const out: IfevalResponseLine[] = [];
  for (const { value, line } of await readJsonl(file)) {
    const parsed = ifevalResponseSchema.safeParse(value);
    if (!parsed.success) {
      const { field, message } = describeIssue(parsed.error);
      throw new SftError(`not an IFEval response row: ${message}`, {
        where: { file, line, field },
        hint: 'expected {"prompt": "...", "response": "..."}',
      });
    }
    out.push({ prompt: parsed.data.prompt, response: parsed.data.response, line });
  }
  return out;
}

/** `sft eval ifeval`: reads IFEval's files, scores, writes the JSON result atomically. */
export async function runIfevalFiles(opts: {
  prompts: string;
  responses: string;
  out?: string;
}): Promise<IfevalResult> {
  const prompts = await readIfevalPrompts(opts.prompts);
  const responses = await readIfevalResponses(opts.responses);
  const result = evaluateIfeval(prompts, responses, { prompts: opts.prompts, responses: opts.responses });
  if (opts.out) writeFileAtomicSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
