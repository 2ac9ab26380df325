/**
 * Shared pieces of the format converters: the converter interface, typed field access with
 * exact error messages, meta/id handling, per-turn train flags, and shape hints.
 */
import { basename, extname } from "node:path";
import { SftError } from "../../errors.js";
import type { RecordMeta, RecordOrigin, Role, SftRecord } from "../../record/record.js";

export const FORMAT_NAMES = ["record", "alpaca", "sharegpt", "openai", "prompt-completion", "text"] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** Where a row sits in its file; `index` is its 0-based position among all rows. */
export interface RowContext {
  file: string;
  line: number;
  index: number;
}

export interface Converted {
  record: SftRecord;
  /** The source field that holds message i (for error messages about the record). */
  fieldOf(messageIndex: number): string;
}

export interface DatasetFormat {
  name: FormatName;
  /** Fields of a row that this format owns; any other field is kept in `meta`. */
  fields: readonly string[];
  toRecord(row: Record<string, unknown>, ctx: RowContext): Converted;
  fromRecord(record: SftRecord): Record<string, unknown>;
}

export type Row = Record<string, unknown>;

export function rowError(
  ctx: RowContext,
  field: string | undefined,
  message: string,
  hint?: string,
): SftError {
  return new SftError(message, { where: { file: ctx.file, line: ctx.line, field }, hint });
}

export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

export function isPlainObject(value: unknown): value is Row {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function wrongType(ctx: RowContext, field: string, expected: string, value: unknown): SftError {
  return rowError(ctx, field, `expected ${expected}, got ${typeName(value)}`);
}

export function missing(ctx: RowContext, field: string): SftError {
  return rowError(ctx, field, "missing required field");
}

export function requireString(row: Row, key: string, ctx: RowContext, field = key): string {
  const value = row[key];
  if (value === undefined) throw missing(ctx, field);
  if (typeof value !== "string") throw wrongType(ctx, field, "a string", value);
  return value;
}

export function optionalString(row: Row, key: string, ctx: RowContext, field = key): string | undefined {
  const value = row[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw wrongType(ctx, field, "a string", value);
  return value;
}

/**
 * CSV cells and some Parquet exports hold nested fields as JSON text; a string that parses
 * as a JSON array/object is taken as that value.
 */
export function structured(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const t = value.trimStart();
  if (!t.startsWith("[") && !t.startsWith("{")) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export function requireArray(row: Row, key: string, ctx: RowContext, field = key): unknown[] {
  const raw = row[key];
  if (raw === undefined) throw missing(ctx, field);
  const value = structured(raw);
  if (!Array.isArray(value)) throw wrongType(ctx, field, "an array", raw);
  return value;
}

/** Rejects keys of a source object that the format does not know (nothing is dropped silently). */
export function assertKnownKeys(obj: Row, known: readonly string[], ctx: RowContext, field: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw rowError(ctx, `${field}.${key}`, `unsupported field (known: ${known.join(", ")})`);
    }
  }
}

export interface RowIdentity {
  id: string;
  meta: RecordMeta;
}

/**
 * Id and meta of a record made from a source row: the row's `id` when present (else
 * `<file stem>-<row index>`, stable across runs), every field the format does not own as a
 * meta entry (a nested `meta` object is merged in), and `meta.origin` for writing back.
 */
export function identityOf(
  row: Row,
  format: DatasetFormat,
  ctx: RowContext,
  layout: Record<string, unknown>,
): RowIdentity {
  const meta: Row = {};
  const derived: ("id" | "source")[] = [];
  for (const [key, value] of Object.entries(row)) {
    if (key === "id" || format.fields.includes(key)) continue;
    if (key === "meta" && isPlainObject(value)) Object.assign(meta, value);
    else meta[key] = value;
  }
  // CSV turns every value into text; the one numeric meta field is restored.
  if (
    typeof meta.quality === "string" &&
    meta.quality.trim() !== "" &&
    Number.isFinite(Number(meta.quality))
  ) {
    meta.quality = Number(meta.quality);
  }
  let id: string;
  const rawId = row.id;
  if (rawId === undefined || rawId === null || rawId === "") {
    id = `${basename(ctx.file, extname(ctx.file))}-${ctx.index}`;
    derived.push("id");
  } else if (typeof rawId === "string") id = rawId;
  else if (typeof rawId === "number" && Number.isFinite(rawId)) {
    id = String(rawId);
    layout.id_number = true;
  } else throw wrongType(ctx, "id", "a string or number", rawId);
  if (meta.source === undefined) {
    meta.source = basename(ctx.file);
    derived.push("source");
  }
  const origin: RecordOrigin = { format: format.name };
  if (derived.length > 0) origin.derived = derived;
  if (Object.keys(layout).length > 0) origin.layout = layout;
  meta.origin = origin;
  return { id, meta: meta as RecordMeta };
}

/** Shape hints recorded when the record was read from `format` (empty otherwise). */
export function layoutFor(record: SftRecord, format: FormatName): Record<string, unknown> {
  const origin = record.meta.origin;
  return origin && origin.format === format ? (origin.layout ?? {}) : {};
}

/**
 * The id and meta of a record as columns of a written row: `id` unless sftkit derived it,
 * then every meta entry except `origin` and a derived `source`.
 */
export function identityColumns(record: SftRecord, reserved: readonly string[]): Row {
  const out: Row = {};
  const origin = record.meta.origin;
  const derived = origin?.derived ?? [];
  if (!derived.includes("id")) {
    const asNumber = origin?.layout?.id_number === true && /^-?\d+(\.\d+)?$/.test(record.id);
    out.id = asNumber ? Number(record.id) : record.id;
  }
  for (const [key, value] of Object.entries(record.meta)) {
    if (key === "origin" || value === undefined) continue;
    if (key === "source" && derived.includes("source")) continue;
    if (reserved.includes(key) || key === "id") {
      throw new SftError(
        `record ${record.id}: meta.${key} has the name of a row field and cannot be written`,
        {
          where: { field: `meta.${key}` },
          hint: "rename that meta entry, or write the sftkit record format (--to record)",
        },
      );
    }
    out[key] = value;
  }
  return out;
}

export function cannotWrite(record: SftRecord, format: FormatName, why: string): SftError {
  return new SftError(`record ${record.id} cannot be written as ${format}: ${why}`, {
    hint: "write it as openai or sharegpt (or the sftkit record format), which can hold any conversation",
  });
}

// ---- per-turn train flags ----

export const TRAIN_KEYS = ["train", "loss_weight", "weight"] as const;
export type TrainKey = (typeof TRAIN_KEYS)[number];

/** Reads a turn's train flag from `train` (boolean) or `loss_weight` / `weight` (0 or 1). */
export function readTrainFlag(obj: Row, ctx: RowContext, field: string): { train?: boolean; key?: TrainKey } {
  for (const key of TRAIN_KEYS) {
    const value = obj[key];
    if (value === undefined || value === null) continue;
    if (key === "train") {
      if (typeof value !== "boolean") throw wrongType(ctx, `${field}.train`, "a boolean", value);
      return { train: value, key };
    }
    if (value === 0 || value === 1) return { train: value === 1, key };
    if (typeof value === "number") {
      throw rowError(
        ctx,
        `${field}.${key}`,
        `expected 0 or 1, got ${value}`,
        "sftkit trains a turn fully (1) or not at all (0)",
      );
    }
    throw wrongType(ctx, `${field}.${key}`, "0 or 1", value);
  }
  return {};
}

export function trainFlagColumn(train: boolean | undefined, key: TrainKey): Row {
  if (train === undefined) return {};
  return { [key]: key === "train" ? train : train ? 1 : 0 };
}

export function defaultTrain(role: Role): boolean {
  return role === "assistant";
}

/** Formats without per-turn flags can hold a record only when its flags match the default. */
export function assertDefaultTraining(record: SftRecord, format: FormatName): void {
  record.messages.forEach((m, i) => {
    if (m.train !== undefined && m.train !== defaultTrain(m.role)) {
      throw cannotWrite(
        record,
        format,
        `message ${i} (${m.role}) has train=${m.train}, and ${format} rows cannot carry per-turn train flags`,
      );
    }
  });
}

// ---- tool calls ----

/** JSON text in Python's json.dumps style (", " and ": " separators, non-ASCII kept). */
export function pythonStyleJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonStyleJson).join(", ")}]`;
  if (isPlainObject(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonStyleJson(v)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
