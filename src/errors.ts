/**
 * Every failure a user can cause (bad input, bad config, missing file) is an SftError:
 * what is wrong, where (file:line and/or field), and how to fix it. The CLI prints these
 * without a stack trace; anything else is a bug and keeps its stack.
 */
export interface ErrorLocation {
  file?: string;
  line?: number;
  field?: string;
}

export class SftError extends Error {
  readonly where: ErrorLocation;
  readonly hint: string | undefined;
  readonly code: string;

  constructor(
    message: string,
    opts: { where?: ErrorLocation; hint?: string; code?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "SftError";
    this.where = opts.where ?? {};
    this.hint = opts.hint;
    this.code = opts.code ?? "E_INPUT";
  }

  /** `file:line: field: message (hint)` — the one-line form the CLI prints. */
  format(): string {
    return (
      [formatLocation(this.where), this.message].filter(Boolean).join(": ") +
      (this.hint ? `\n  hint: ${this.hint}` : "")
    );
  }
}

export function formatLocation(where: ErrorLocation): string {
  let loc = where.file ?? "";
  if (where.file && where.line !== undefined) loc += `:${where.line}`;
  if (where.field) loc = loc ? `${loc}: ${where.field}` : where.field;
  return loc;
}

export function isSftError(e: unknown): e is SftError {
  return e instanceof SftError;
}
