/**
 * Describes a dataset: rows, turns, roles, char (and token) length percentiles, language
 * mix with CJK share, meta value counts, empty fields and duplicates. Streams the file;
 * memory grows only with per-record lengths and 16-byte hashes for duplicate detection.
 */
import { createHash } from "node:crypto";
import type { Message, SftRecord } from "../record/record.js";
import { loadTokenizer } from "../tokenize/tokenizer.js";
import type { FormatName } from "./formats/index.js";
import { type ReadRecordsOptions, readConvertedRows } from "./io/records.js";

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface DatasetStats {
  file: string;
  format: FormatName | undefined;
  /** Valid records described below. */
  rows: number;
  invalid_rows: number;
  /** Non-system messages per record. */
  turns_per_record: { min: number; mean: number; max: number };
  messages_by_role: Record<string, number>;
  tool_calls: number;
  /** Per record: prompt = system/user/tool text, response = assistant text and tool calls (Unicode code points). */
  chars: { prompt: Percentiles; response: Percentiles };
  tokens?: { tokenizer: string; prompt: Percentiles; response: Percentiles };
  language: {
    /** CJK letters (Han, kana, Hangul) / all letters, over the whole dataset. */
    cjk_char_share: number;
    /** Share of records whose letters are more than half CJK. */
    cjk_record_share: number;
    /** Records by the script most of their letters are in: cjk, latin, cyrillic, other, none. */
    by_script: Record<string, number>;
  };
  /** Value counts of meta.task / topic / type / difficulty (only keys that occur). */
  meta: Record<string, Record<string, number>>;
  /** Source fields holding an empty string, e.g. { input: 587, "conversations[].value": 2 }. */
  empty_fields: Record<string, number>;
  /** Records whose prompt (everything before the last assistant turn) / whole conversation repeats an earlier one. */
  duplicates: { prompts: number; records: number };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  const mean = arr.length === 0 ? 0 : arr.reduce((a, b) => a + b, 0) / arr.length;
  return {
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr.length === 0 ? 0 : arr[arr.length - 1],
    mean: round(mean),
  };
}

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const LETTER = /\p{L}/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;
const LATIN = /\p{Script=Latin}/gu;
const CYRILLIC = /\p{Script=Cyrillic}/gu;

function count(text: string, re: RegExp): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text) !== null) n++;
  return n;
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function responseText(m: Message): string {
  const calls = (m.tool_calls ?? []).map((c) => `${c.function.name}${c.function.arguments}`);
  return [m.content, ...calls].join("");
}

function hash(value: string): string {
  return createHash("sha1").update(value).digest("base64").slice(0, 22);
}

const META_KEYS = ["task", "topic", "type", "difficulty"] as const;

export interface StatsOptions extends Omit<ReadRecordsOptions, "skipInvalid" | "onReject"> {
  /** A tokenizer (Hugging Face model directory or .gguf file) for token length percentiles. */
  tokenizer?: string;
}

export async function computeStats(file: string, opts: StatsOptions = {}): Promise<DatasetStats> {
  const tokenizer = opts.tokenizer ? await loadTokenizer(opts.tokenizer) : undefined;
  const tokens = (text: string) =>
    tokenizer && text !== "" ? tokenizer.encode(text, { addSpecialTokens: false }).length : 0;
  let format: FormatName | undefined = opts.from;
  let invalid = 0;
  let rows = 0;
  const turns: number[] = [];
  const roles: Record<string, number> = { system: 0, user: 0, assistant: 0, tool: 0 };
  let toolCalls = 0;
  const promptChars: number[] = [];
  const responseChars: number[] = [];
  const promptTokens: number[] = [];
  const responseTokens: number[] = [];
  let letters = 0;
  let cjkLetters = 0;
  let cjkRecords = 0;
  const byScript: Record<string, number> = {};
  const meta: Record<string, Record<string, number>> = {};
  const empty: Record<string, number> = {};
  const seenPrompts = new Set<string>();
  const seenRecords = new Set<string>();
  let dupPrompts = 0;
  let dupRecords = 0;

  const source = readConvertedRows(file, {
    ...opts,
    skipInvalid: true,
    onFormat: (f) => {
      format = f;
    },
    onReject: () => {
      invalid++;
    },
  });
  for await (const { record, item } of source) {
    rows++;
    countEmptyFields(item.row, empty);
    describeRecord(record);
  }

  function describeRecord(record: SftRecord) {
    const msgs = record.messages;
    turns.push(msgs.filter((m) => m.role !== "system").length);
    let prompt = "";
    let response = "";
    let allText = "";
    for (const m of msgs) {
      roles[m.role] = (roles[m.role] ?? 0) + 1;
      toolCalls += m.tool_calls?.length ?? 0;
      if (m.role === "assistant") response += responseText(m);
      else prompt += m.content;
      allText += m.content;
    }
    promptChars.push(codePoints(prompt));
    responseChars.push(codePoints(response));
    if (tokenizer) {
      let pt = 0;
      let rt = 0;
      for (const m of msgs) {
        if (m.role === "assistant") rt += tokens(responseText(m));
        else pt += tokens(m.content);
      }
      promptTokens.push(pt);
      responseTokens.push(rt);
    }
    const l = count(allText, LETTER);
    const c = count(allText, CJK);
    letters += l;
    cjkLetters += c;
    if (l > 0 && c / l > 0.5) cjkRecords++;
    let script = "none";
    if (l > 0) {
      const latin = count(allText, LATIN);
      const cyr = count(allText, CYRILLIC);
      const other = l - c - latin - cyr;
      const best = Math.max(c, latin, cyr, other);
      script = best === c ? "cjk" : best === latin ? "latin" : best === cyr ? "cyrillic" : "other";
    }
    byScript[script] = (byScript[script] ?? 0) + 1;
    for (const key of META_KEYS) {
      const v = record.meta[key];
      if (v === undefined || v === null) continue;
      meta[key] ??= {};
      meta[key][String(v)] = (meta[key][String(v)] ?? 0) + 1;
    }
    const lastAssistant = msgs.map((m) => m.role).lastIndexOf("assistant");
    const promptKey = hash(
      JSON.stringify(msgs.slice(0, lastAssistant).map((m) => [m.role, m.content, m.tool_calls])),
    );
    const recordKey = hash(JSON.stringify(msgs.map((m) => [m.role, m.content, m.tool_calls])));
    if (seenPrompts.has(promptKey)) dupPrompts++;
    else seenPrompts.add(promptKey);
    if (seenRecords.has(recordKey)) dupRecords++;
    else seenRecords.add(recordKey);
  }

  const stats: DatasetStats = {
    file,
    format,
    rows,
    invalid_rows: invalid,
    turns_per_record: {
      min: turns.length ? turns.reduce((a, b) => Math.min(a, b)) : 0,
      mean: turns.length ? round(turns.reduce((a, b) => a + b, 0) / turns.length) : 0,
      max: turns.length ? turns.reduce((a, b) => Math.max(a, b)) : 0,
    },
    messages_by_role: roles,
    tool_calls: toolCalls,
    chars: { prompt: summarize(promptChars), response: summarize(responseChars) },
    language: {
      cjk_char_share: letters ? round(cjkLetters / letters) : 0,
      cjk_record_share: rows ? round(cjkRecords / rows) : 0,
      by_script: byScript,
    },
    meta,
    empty_fields: empty,
    duplicates: { prompts: dupPrompts, records: dupRecords },
  };
  if (tokenizer && opts.tokenizer) {
    stats.tokens = {
      tokenizer: opts.tokenizer,
      prompt: summarize(promptTokens),
      response: summarize(responseTokens),
    };
  }
  return stats;
}

/** Counts "" values among a source row's fields and the fields of its message lists. */
function countEmptyFields(row: unknown, into: Record<string, number>) {
  if (typeof row !== "object" || row === null || Array.isArray(row)) return;
  for (const [key, value] of Object.entries(row)) {
    if (value === "") into[key] = (into[key] ?? 0) + 1;
    else if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item !== "object" || item === null || Array.isArray(item)) continue;
        for (const [k, v] of Object.entries(item)) {
          if (v === "") into[`${key}[].${k}`] = (into[`${key}[].${k}`] ?? 0) + 1;
        }
      }
    }
  }
}

/** The human-readable form: aligned label/value lines and a percentile table. */
export function formatStats(s: DatasetStats): string {
  const lines: [string, string][] = [];
  const add = (label: string, value: string) => lines.push([label, value]);
  const counts = (rec: Record<string, number>) =>
    Object.entries(rec)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "-";
  add("file", s.file);
  add("format", s.format ?? "-");
  add("rows", `${s.rows} valid, ${s.invalid_rows} invalid`);
  add(
    "turns per record",
    `min ${s.turns_per_record.min}, mean ${s.turns_per_record.mean}, max ${s.turns_per_record.max}`,
  );
  add("messages by role", counts(s.messages_by_role));
  add("tool calls", String(s.tool_calls));
  add(
    "language",
    `CJK chars ${(100 * s.language.cjk_char_share).toFixed(1)}%, mostly-CJK records ${(100 * s.language.cjk_record_share).toFixed(1)}%; by script: ${counts(s.language.by_script)}`,
  );
  for (const [key, rec] of Object.entries(s.meta)) add(`meta.${key}`, counts(rec));
  add("empty fields", counts(s.empty_fields));
  add("duplicates", `prompts ${s.duplicates.prompts}, records ${s.duplicates.records}`);
  const width = Math.max(...lines.map(([l]) => l.length));
  const out = lines.map(([l, v]) => `${l.padEnd(width)}  ${v}`);
  const table: string[][] = [["length", "p50", "p90", "p99", "max", "mean"]];
  const row = (label: string, p: Percentiles) =>
    table.push([label, ...[p.p50, p.p90, p.p99, p.max, p.mean].map((x) => String(Math.round(x * 10) / 10))]);
  row("prompt chars", s.chars.prompt);
  row("response chars", s.chars.response);
  if (s.tokens) {
    row("prompt tokens", s.tokens.prompt);
    row("response tokens", s.tokens.response);
  }
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  out.push("");
  for (const r of table)
    out.push(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  return `${out.join("\n")}\n`;
}
