/**
 * The SQLite file behind a job: a response cache (the same prompt + parameters is never paid
 * for twice) and the job's finished slots. Every write is its own transaction in WAL mode,
 * so a process killed at any instant (even SIGKILL) leaves either the whole row or none.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SftError } from "../errors.js";
import type { GenerationResult } from "./types.js";

export interface SlotRow {
  slot: number;
  /** "ok": `data` is the produced row; "rejected": `data` holds the candidate and reasons. */
  status: "ok" | "rejected";
  data: unknown;
}

/** sha256 of a canonical JSON form (object keys sorted), for cache keys and job ids. */
export function stableHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

export class LlmStore {
  private readonly db: Database.Database;
  private readonly getCache: Database.Statement;
  private readonly putCache: Database.Statement;
  private readonly getSlotStmt: Database.Statement;
  private readonly putSlotStmt: Database.Statement;
  private readonly listSlotsStmt: Database.Statement;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
    } catch (e) {
      throw new SftError(`cannot open the job state database ${path}: ${(e as Error).message}`, {
        where: { file: path },
        hint: "check the path is writable, or set state: to another file",
        cause: e,
      });
    }
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 10000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS llm_cache (key TEXT PRIMARY KEY, response TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS job_slots (job TEXT NOT NULL, slot INTEGER NOT NULL, status TEXT NOT NULL,
        data TEXT NOT NULL, PRIMARY KEY (job, slot));
      CREATE TABLE IF NOT EXISTS jobs (job TEXT PRIMARY KEY, info TEXT NOT NULL);
    `);
    this.getCache = this.db.prepare("SELECT response FROM llm_cache WHERE key = ?");
    this.putCache = this.db.prepare(
      "INSERT OR IGNORE INTO llm_cache (key, response, created_at) VALUES (?, ?, ?)",
    );
    this.getSlotStmt = this.db.prepare("SELECT slot, status, data FROM job_slots WHERE job = ? AND slot = ?");
    this.putSlotStmt = this.db.prepare(
      "INSERT OR REPLACE INTO job_slots (job, slot, status, data) VALUES (?, ?, ?, ?)",
    );
    this.listSlotsStmt = this.db.prepare(
      "SELECT slot, status, data FROM job_slots WHERE job = ? ORDER BY slot",
    );
  }

  cached(key: string): GenerationResult | undefined {
    const row = this.getCache.get(key) as { response: string } | undefined;
    return row ? (JSON.parse(row.response) as GenerationResult) : undefined;
  }

  cache(key: string, result: GenerationResult): void {
    this.putCache.run(key, JSON.stringify({ ...result, cached: undefined }), Date.now());
  }

  cacheSize(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM llm_cache").get() as { n: number }).n;
  }

  slot(job: string, slot: number): SlotRow | undefined {
    const row = this.getSlotStmt.get(job, slot) as { slot: number; status: string; data: string } | undefined;
    return row
      ? { slot: row.slot, status: row.status as SlotRow["status"], data: JSON.parse(row.data) }
      : undefined;
  }

  saveSlot(job: string, row: SlotRow): void {
    this.putSlotStmt.run(job, row.slot, row.status, JSON.stringify(row.data));
  }

  /** Finished slots of a job in slot order (the deterministic output order). */
  *slots(job: string): Generator<SlotRow> {
    for (const r of this.listSlotsStmt.iterate(job) as Iterable<{
      slot: number;
      status: string;
      data: string;
    }>) {
      yield { slot: r.slot, status: r.status as SlotRow["status"], data: JSON.parse(r.data) };
    }
  }

  slotCount(job: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM job_slots WHERE job = ?").get(job) as { n: number }).n;
  }

  jobInfo(job: string): unknown {
    const row = this.db.prepare("SELECT info FROM jobs WHERE job = ?").get(job) as
      | { info: string }
      | undefined;
    return row ? JSON.parse(row.info) : undefined;
  }

  setJobInfo(job: string, info: unknown): void {
    this.db.prepare("INSERT OR REPLACE INTO jobs (job, info) VALUES (?, ?)").run(job, JSON.stringify(info));
  }

  close(): void {
    this.db.close();
  }
}
