/**
 * The one loader every YAML (or JSON) config goes through: train, data build, augment,
 * quality, eval, taxonomy files and the saved config a `--resume` reads back.
 *
 * - Safe to feed untrusted files: the input size and YAML alias expansion are capped, so an
 *   alias bomb is a clear error naming the file and the cap, not an exhausted process.
 * - Every problem at once: each zod issue becomes one line `FILE:LINE: FIELD: MESSAGE`
 *   (the column travels in the error's `problems`), unknown keys with a did-you-mean.
 * - Paths written in a config file are relative to the file's folder; the fields that hold
 *   paths are listed per schema (`PathField`). Values given as CLI flags are not touched
 *   here: they stay relative to the working directory.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { type Document, isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { SftError } from "../errors.js";
import { didYouMean } from "../util/did-you-mean.js";

/** Largest config file read (bytes); configs are hand-written, so this is generous. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/**
 * Cap on YAML alias expansion, in the `yaml` package's measure (uses of an alias times the
 * nodes it stands for). Real configs use a few small anchors; an alias bomb needs millions.
 */
export const MAX_ALIAS_COUNT = 10_000;

export type KeyPath = readonly (string | number)[];

export interface ConfigProblem {
  /** dotted field path (`lora.r`, `datasets.1.path`), or "(top level)" */
  field: string;
  message: string;
  line?: number;
  column?: number;
}

/** An invalid config: `problems` holds every problem found, in file order. */
export class ConfigError extends SftError {
  readonly problems: readonly ConfigProblem[];
  constructor(message: string, file: string | undefined, problems: ConfigProblem[], hint?: string) {
    const first = problems[0];
    super(message, {
      where: { file, line: first?.line, field: first?.field },
      hint,
      code: "E_CONFIG",
    });
    this.problems = problems;
  }
}

/** Where a parsed document came from, and how to find a key path in it. */
export interface ConfigSource {
  file?: string;
  locate?: (path: KeyPath) => { line: number; column: number } | undefined;
}

export interface ParsedConfig {
  /** the document as plain data */
  raw: unknown;
  source: ConfigSource;
}

export interface ReadLimits {
  /** what the file is, for messages ("taxonomy"; default "config file") */
  what?: string;
  maxBytes?: number;
  maxAliasCount?: number;
}

/** Reads and parses a YAML/JSON file with the size and alias caps; no schema yet. */
export function readConfigFile(file: string, limits: ReadLimits = {}): ParsedConfig {
  const maxBytes = limits.maxBytes ?? MAX_CONFIG_BYTES;
  const maxAliasCount = limits.maxAliasCount ?? MAX_ALIAS_COUNT;
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > maxBytes)
      throw new SftError(`config file is ${size} bytes, more than the ${maxBytes}-byte limit`, {
        where: { file },
        hint: "a config holds settings and paths; put large data in the files it points to",
        code: "E_CONFIG",
      });
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof SftError) throw e;
    throw new SftError(`cannot read ${limits.what ?? "config file"} ${file}: ${(e as Error).message}`, {
      where: { file },
      hint: `check the path of the ${limits.what ?? "config file"}`,
      code: "E_CONFIG",
      cause: e,
    });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = lineCounter.linePos(err.pos[0]);
    throw new ConfigError(
      `YAML syntax error: ${err.message.split("\n")[0]}`,
      file,
      [{ field: "(syntax)", message: err.message.split("\n")[0], line: pos.line, column: pos.col }],
      "fix the YAML syntax (indentation, colons, quotes)",
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount });
  } catch (e) {
    // the yaml package signals an alias bomb with a ReferenceError
    if (e instanceof ReferenceError && /alias/i.test(e.message))
      throw new SftError(
        `YAML aliases expand beyond the limit of ${maxAliasCount} (maxAliasCount): refusing to expand the file`,
        {
          where: { file },
          hint: "write the repeated values out, or use fewer and smaller anchors (&name / *name)",
          code: "E_CONFIG",
          cause: e,
        },
      );
    throw e;
  }
  return { raw: raw ?? {}, source: { file, locate: locator(doc, lineCounter) } };
}

/** Maps a key path to the line:column of its key (or, failing that, of the nearest parent). */
function locator(doc: Document, lines: LineCounter): ConfigSource["locate"] {
  const pos = (offset: number) => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      const last = path[n - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === last);
        const range = (pair?.key as { range?: [number, number, number] } | null)?.range;
        if (range) return pos(range[0]);
      } else if (isSeq(parent) && typeof last === "number") {
        const range = (parent.items[last] as { range?: [number, number, number] } | undefined)?.range;
        if (range) return pos(range[0]);
      }
    }
    const range = (doc.contents as { range?: [number, number, number] } | null)?.range;
    return range ? pos(range[0]) : undefined;
  };
}

// ---------------------------------------------------------------------------------------
// Paths relative to the config file

/**
 * A config field holding a path. `at` is a dotted path where `[]` walks every element of an
 * array (`datasets[].path`). `when` limits it to objects that hold a path there (an `llm`
 * section's `model` is a path only for `kind: local`). `maybeName`: the value may also be a
 * built-in name (a template), so it is resolved only when it looks like a file.
 */
export interface PathField {
  at: string;
  when?: (parent: Record<string, unknown>) => boolean;
  maybeName?: boolean;
}

/** A value that names a template or other file rather than a built-in name. */
const FILE_LIKE = /[/\\]|\.(ya?ml|json|jinja2?|j2|txt)(#[^/\\]*)?$/i;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Relative `p` resolved against `base`; absolute paths pass through. */
export function resolveFrom(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** A copy of `raw` with the listed path fields resolved against `base` (malformed parts left alone). */
export function resolveConfigPaths(raw: unknown, base: string, fields: readonly PathField[]): unknown {
  const out = structuredClone(raw);
  for (const f of fields) {
    const steps = f.at.split(".");
    const visit = (node: unknown, i: number): void => {
      if (!isRecord(node)) return;
      let key = steps[i];
      const each = key.endsWith("[]");
      if (each) key = key.slice(0, -2);
      if (i === steps.length - 1) {
        if (f.when && !f.when(node)) return;
        const one = (v: unknown) =>
          typeof v !== "string" || v.length === 0 || (f.maybeName && !FILE_LIKE.test(v))
            ? v
            : resolveFrom(base, v);
        const v = node[key];
        node[key] = each && Array.isArray(v) ? v.map(one) : one(v);
        return;
      }
      const child = node[key];
      if (each && Array.isArray(child)) for (const c of child) visit(c, i + 1);
      else if (!each) visit(child, i + 1);
    };
    visit(out, 0);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Validation

export interface CheckOptions {
  /** what the config is, for the headline ("train config") */
  what?: string;
  /** the word for a config key in messages: train and eval keys are also CLI options */
  keyWord?: "key" | "option";
  /** printed under the problems */
  hint?: string;
}

export interface LoadOptions extends CheckOptions, ReadLimits {
  /** fields holding paths, resolved against the config file's folder */
  paths?: readonly PathField[];
  /** applied to the file's data before validation (e.g. CLI flags merged over it) */
  transform?: (raw: unknown) => unknown;
}

export interface LoadWithChecks<T> extends LoadOptions {
  /** checks that need the whole valid config (they may throw their own SftError) */
  after?: (config: T, source: ConfigSource) => T;
}

type AnyDef = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  keyType?: z.ZodType;
  options?: z.ZodType[];
};

function defOf(s: z.ZodType): AnyDef {
  return (s as unknown as { _zod: { def: AnyDef } })._zod.def;
}

/** Keys the schema accepts at `path` (walks objects, arrays, records, optionals, defaults, pipes). */
export function knownKeysAt(schema: z.ZodType, path: KeyPath): string[] {
  let s: z.ZodType | undefined = schema;
  const unwrap = () => {
    for (let guard = 0; s && guard < 20; guard++) {
      const d = defOf(s);
      if (d.innerType) s = d.innerType;
      else if (d.type === "pipe" && d.in) s = d.in;
      else break;
    }
  };
  unwrap();
  for (const key of path) {
    if (!s) return [];
    const d = defOf(s);
    if (d.type === "object" && d.shape) s = d.shape[String(key)];
    else if (d.type === "array") s = d.element;
    else if (d.type === "record") s = d.valueType;
    else return [];
    unwrap();
  }
  if (!s) return [];
  const d = defOf(s);
  if (d.type === "object" && d.shape) return Object.keys(d.shape);
  if (d.type === "record" && d.keyType) {
    const kd = defOf(d.keyType) as AnyDef & { entries?: Record<string, string> };
    if (kd.entries) return Object.keys(kd.entries);
  }
  return [];
}

/** One line of the report: `FILE:LINE: FIELD: MESSAGE`. */
function problemLine(file: string | undefined, p: ConfigProblem): string {
  const loc = file ? `${file}${p.line !== undefined ? `:${p.line}` : ""}: ` : "";
  return `${loc}${p.field}: ${p.message}`;
}

/** Validates parsed data against `schema`; every problem goes into one ConfigError. */
export function checkConfig<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  source: ConfigSource = {},
  opts: CheckOptions = {},
): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const keyWord = opts.keyWord ?? "key";
  const problems: ConfigProblem[] = [];
  const add = (path: KeyPath, message: string) => {
    const at = source.locate?.(path);
    problems.push({ field: path.join(".") || "(top level)", message, line: at?.line, column: at?.column });
  };
  for (const issue of r.error.issues) {
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, path);
      for (const key of issue.keys) {
        const guess = didYouMean(key, known);
        add(
          [...path, key],
          `unknown ${keyWord} "${key}"${guess ? ` (did you mean "${guess}"?)` : known.length ? ` (known: ${known.join(", ")})` : ""}`,
        );
      }
    } else add(path, issue.message);
  }
  // file order; problems without a line (from flags) last
  problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  throw configError(source.file, problems, opts);
}

/** The error for a list of problems: one problem reads as one line, several as a list. */
export function configError(
  file: string | undefined,
  problems: ConfigProblem[],
  opts: CheckOptions = {},
): ConfigError {
  const what = opts.what ?? "config";
  const hint = opts.hint ?? "fix the value in the config file (see the example in the README)";
  const message =
    problems.length === 1
      ? problems[0].message
      : `invalid ${what}, ${problems.length} problems:\n  ${problems.map((p) => problemLine(file, p)).join("\n  ")}`;
  return new ConfigError(message, file, problems, hint);
}

/**
 * Reads `file`, resolves its path fields against the file's folder, and validates it
 * against `schema`: the one way a config file becomes a typed config.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  file: string,
  opts: LoadWithChecks<z.output<S>> = {},
): z.output<S> {
  const { raw, source } = readConfigFile(file, opts);
  const based = opts.paths ? resolveConfigPaths(raw, dirname(resolve(file)), opts.paths) : raw;
  const config = checkConfig(schema, opts.transform ? opts.transform(based) : based, source, opts);
  return opts.after ? opts.after(config, source) : config;
}
