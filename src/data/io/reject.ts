import { formatLocation, SftError } from "../../errors.js";
import type { Reject } from "./types.js";

/** Builds a Reject for a row problem at file:line (field optional). */
export function makeReject(
  file: string,
  line: number,
  message: string,
  row: unknown,
  field?: string,
): Reject {
  const error = new SftError(message, { where: { file, line, field } });
  return fromError(error, file, line, row);
}

export function fromError(error: SftError, file: string, line: number, row: unknown): Reject {
  const reason = [formatLocation({ field: error.where.field }), error.message].filter(Boolean).join(": ");
  return { file, line, reason, row, error };
}

/** Hands a reject to the caller's handler, or throws it when there is none. */
export function rejectOrThrow(onReject: ((r: Reject) => void) | undefined, reject: Reject): void {
  if (!onReject) throw reject.error;
  onReject(reject);
}
