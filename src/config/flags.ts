/**
 * CLI flags generated from a zod object shape: one `--kebab-name` per field, its kind (string,
 * integer, number, bool, list, or "flag-or-value" for a `true | string` field such as
 * chat_template) read from the schema, so a command's flags and its config keys cannot drift.
 */
import type { z } from "zod";
import { SftError } from "../errors.js";

export type FlagKind = "string" | "int" | "number" | "bool" | "list" | "flag-or-value";

export interface SchemaFlag {
  /** config path, e.g. ["lora", "r"] */
  path: string[];
  /** long flag name without dashes */
  flag: string;
  kind: FlagKind;
  /** other names of the same flag (`--lr`, `--batch-size`, …) */
  aliases?: string[];
}

export function kebab(s: string): string {
  return s.replace(/_/g, "-");
}

type Def = { type: string; innerType?: z.ZodType; options?: z.ZodType[]; checks?: unknown[] };
const defOf = (s: z.ZodType): Def => (s as unknown as { def: Def }).def;

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 5; i++) {
    const def = defOf(s);
    if (def.type === "optional" || def.type === "default") s = def.innerType!;
    else break;
  }
  return s;
}

/** The flag kind of one field's schema. */
export function kindOf(schema: z.ZodType): FlagKind {
  const def = defOf(unwrap(schema));
  if (def.type === "boolean") return "bool";
  if (def.type === "array") return "list";
  if (def.type === "union" && (def.options ?? []).some((o) => defOf(unwrap(o)).type === "boolean"))
    return "flag-or-value";
  if (def.type === "number") {
    const checks = (def.checks ?? []) as { _zod: { def: { check: string; format?: string } } }[];
    const isInt = checks.some((c) => c._zod.def.format === "safeint" || c._zod.def.check === "number_format");
    return isInt ? "int" : "number";
  }
  return "string";
}

/** One flag per field of `shape` (minus `skip`), with the given aliases. */
export function flagsOfShape(
  shape: Record<string, z.ZodType>,
  opts: { aliases?: Record<string, string[]>; skip?: readonly string[]; prefix?: string[] } = {},
): SchemaFlag[] {
  const out: SchemaFlag[] = [];
  for (const [key, schema] of Object.entries(shape)) {
    if (opts.skip?.includes(key)) continue;
    const flag: SchemaFlag = { path: [...(opts.prefix ?? []), key], flag: kebab(key), kind: kindOf(schema) };
    if (opts.aliases?.[key]) flag.aliases = opts.aliases[key];
    out.push(flag);
  }
  return out;
}

/** The commander option key under which a flag's value arrives. */
export function optionKey(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A flag's raw commander value as the config value it stands for. */
export function parseFlagValue(f: SchemaFlag, raw: unknown, flagName: string): unknown {
  const where = { field: f.path.join(".") };
  if (f.kind === "bool") {
    if (typeof raw === "boolean") return raw;
    const s = String(raw).toLowerCase();
    if (["true", "1", "yes"].includes(s)) return true;
    if (["false", "0", "no"].includes(s)) return false;
    throw new SftError(`--${flagName} expects true or false, got "${raw}"`, { where });
  }
  if (f.kind === "flag-or-value") {
    // the bare flag is `true`; "true"/"false" spelled out mean the same
    if (typeof raw === "boolean") return raw;
    const s = String(raw);
    if (s === "true") return true;
    if (s === "false") return false;
    return s;
  }
  if (f.kind === "int" || f.kind === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n) || (f.kind === "int" && !Number.isInteger(n)))
      throw new SftError(
        `--${flagName} expects ${f.kind === "int" ? "an integer" : "a number"}, got "${raw}"`,
        { where },
      );
    return n;
  }
  if (f.kind === "list") {
    const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
    return items
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return String(raw);
}

/** The flag names (and aliases) of `flags` that were given in `opts`. */
export function givenFlags(flags: readonly SchemaFlag[], opts: Record<string, unknown>): string[] {
  return flags.flatMap((f) => [f.flag, ...(f.aliases ?? [])]).filter((n) => opts[optionKey(n)] !== undefined);
}

/** Parsed commander options → a partial config object (only the flags that were given). */
export function valuesFromFlags(
  flags: readonly SchemaFlag[],
  opts: Record<string, unknown>,
  parse: (f: SchemaFlag, raw: unknown, used: string) => unknown = parseFlagValue,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of flags) {
    let raw: unknown;
    let used = f.flag;
    for (const name of [f.flag, ...(f.aliases ?? [])]) {
      const v = opts[optionKey(name)];
      if (v !== undefined) {
        raw = v;
        used = name;
      }
    }
    if (raw === undefined) continue;
    let target = out;
    for (const key of f.path.slice(0, -1)) {
      target[key] ??= {};
      target = target[key] as Record<string, unknown>;
    }
    target[f.path[f.path.length - 1]] = parse(f, raw, used);
  }
  return out;
}
