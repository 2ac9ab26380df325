/**
 * Validation of datasets: the semantic rules every record must meet beyond its schema, and
 * whole-file validation that collects every bad row with file:line and the field at fault.
 */
import { SftError } from "../errors.js";
import type { SftRecord } from "../record/record.js";
import type { FormatName } from "./formats/index.js";
import { type ReadRecordsOptions, readRecords } from "./io/records.js";
import type { Reject } from "./io/types.js";

export interface RecordProblem {
  /** Index of the message at fault, when one is. */
  message?: number;
  /** The message's field at fault when it is not its content (the role, for role order). */
  field?: "role";
  problem: string;
}

export interface RecordRules {
  /**
   * Accept any order of user/assistant/tool turns (for templates that render, e.g., two user
   * turns in a row). By default turns alternate: after an optional system turn comes a user
   * turn, user and assistant take turns, and tool results follow an assistant turn's calls.
   */
  allowNonAlternating?: boolean;
}

/** The flag (and config key) that accepts non-alternating roles, named in the fix. */
const ALLOW_FLAG = "--allow-non-alternating (allow_non_alternating: true)";

/** The first role-order problem of a conversation, if any. */
function roleOrderProblem(messages: SftRecord["messages"]): RecordProblem | undefined {
  const turns = messages.map((m, i) => ({ m, i })).filter(({ m }) => m.role !== "system");
  // One lone assistant turn is plain text (the `text` format): nothing to alternate with.
  if (turns.length === 1 && turns[0].m.role === "assistant") return undefined;
  const fix = `put the turns in user/assistant order (or fix the role names), or pass ${ALLOW_FLAG} for a template that supports it`;
  const first = turns[0];
  if (first && first.m.role !== "user") {
    return {
      message: first.i,
      field: "role",
      problem: `the conversation starts with a${first.m.role === "assistant" ? "n" : ""} ${first.m.role} turn (message ${first.i}); the first turn after the system prompt must be the user's: ${fix}`,
    };
  }
  for (let k = 1; k < turns.length; k++) {
    const prev = turns[k - 1];
    const { m, i } = turns[k];
    let problem: string | undefined;
    if (m.role === "tool") {
      const called =
        prev.m.role === "tool" || (prev.m.role === "assistant" && (prev.m.tool_calls?.length ?? 0) > 0);
      if (!called)
        problem = `a tool result (message ${i}) follows a${prev.m.role === "user" ? "" : "n"} ${prev.m.role} turn, not an assistant turn with tool calls`;
    } else if (m.role === prev.m.role) {
      problem = `two ${m.role} turns in a row (messages ${prev.i} and ${i})`;
    } else if (m.role === "user" && prev.m.role === "tool") {
      problem = `a user turn (message ${i}) follows a tool result: the assistant's answer to it is missing`;
    }
    if (problem) return { message: i, field: "role", problem: `${problem}: ${fix}` };
  }
  return undefined;
}

/** What is wrong with a schema-valid record as training data (empty list: nothing). */
export function recordProblems(record: SftRecord, rules: RecordRules = {}): RecordProblem[] {
  const problems: RecordProblem[] = [];
  record.messages.forEach((m, i) => {
    if (m.role === "system" && i > 0)
      problems.push({ message: i, problem: "a system turn may only come first" });
    if (m.role === "assistant" && !m.tool_calls?.length && m.content.trim() === "") {
      problems.push({ message: i, problem: "empty response" });
    }
  });
  if (!record.messages.some((m) => m.role === "assistant")) {
    problems.push({ problem: "no assistant turn (nothing to train on)" });
  }
  if (!rules.allowNonAlternating) {
    const order = roleOrderProblem(record.messages);
    if (order) problems.push(order);
  }
  return problems;
}

export const MAX_LISTED_ERRORS = 10;

/**
 * One SftError listing the first bad rows (each already "file:line: what is wrong") and
 * counting the rest.
 */
export function invalidRowsError(file: string, listed: string[], total: number, hint?: string): SftError {
  const lines = listed.slice(0, MAX_LISTED_ERRORS).map((l) => `  ${l}`);
  if (total > lines.length) lines.push(`  … and ${total - lines.length} more`);
  return new SftError(`${file}: ${total} invalid row${total === 1 ? "" : "s"}\n${lines.join("\n")}`, {
    hint,
    code: "E_INVALID_ROWS",
  });
}

/** The one-line form of a reject: file:line: field: what is wrong (no hint). */
export function rejectLine(reject: Reject): string {
  return reject.error.format().split("\n")[0];
}

export interface ValidationReport {
  file: string;
  format: FormatName | undefined;
  rows: number;
  valid: number;
  invalid: number;
  /** The first invalid rows (at most `maxErrors`). */
  errors: { line: number; field?: string; message: string; text: string }[];
}

/** Reads a whole dataset file and reports every row that would be rejected. */
export async function validateFile(
  file: string,
  opts: Omit<ReadRecordsOptions, "skipInvalid" | "onReject"> & { maxErrors?: number } = {},
): Promise<ValidationReport> {
  const maxErrors = opts.maxErrors ?? MAX_LISTED_ERRORS;
  let format: FormatName | undefined = opts.from;
  let valid = 0;
  let invalid = 0;
  const errors: ValidationReport["errors"] = [];
  const records = readRecords(file, {
    ...opts,
    skipInvalid: true,
    onFormat: (f) => {
      format = f;
    },
    onReject: (r) => {
      invalid++;
      if (errors.length < maxErrors) {
        errors.push({
          line: r.line,
          field: r.error.where.field,
          message: r.error.message,
          text: rejectLine(r),
        });
      }
    },
  });
  for await (const _ of records) valid++;
  return { file, format, rows: valid + invalid, valid, invalid, errors };
}
