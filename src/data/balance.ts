/**
 * Balancing: rows are grouped by meta fields (default type × topic), each group keeps at
 * most its target number of rows — the best by meta.quality first (ties: by id, so the
 * result is deterministic) — and groups that have fewer rows than their target are reported.
 * Memory is bounded by the sum of the targets, not by the input size.
 */
import type { BalanceConfig } from "../config/build.js";
import type { SftRecord } from "../record/record.js";

export interface GroupReport {
  group: string;
  target: number;
  available: number;
  selected: number;
  /** target − selected when positive */
  missing: number;
}

export interface BalanceReport {
  group_by: string[];
  groups: GroupReport[];
  short_groups: GroupReport[];
  input_rows: number;
  output_rows: number;
}

export function groupKeyOf(r: SftRecord, groupBy: readonly string[]): string {
  const m = r.meta as Record<string, unknown>;
  return groupBy.map((f) => (m[f] === undefined || m[f] === null ? "(none)" : String(m[f]))).join("|");
}

function qualityOf(r: SftRecord): number {
  return typeof r.meta.quality === "number" ? r.meta.quality : Number.NEGATIVE_INFINITY;
}

/** better first: higher quality, then smaller id */
function compare(a: SftRecord, b: SftRecord): number {
  const d = qualityOf(b) - qualityOf(a);
  if (d !== 0 && !Number.isNaN(d)) return d;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export async function balanceRecords(
  records: AsyncIterable<SftRecord> | Iterable<SftRecord>,
  config: BalanceConfig,
): Promise<{ records: SftRecord[]; report: BalanceReport }> {
  const groups = new Map<string, { target: number; available: number; best: SftRecord[] }>();
  let input = 0;
  for await (const r of records) {
    input++;
    const key = groupKeyOf(r, config.group_by);
    let g = groups.get(key);
    if (!g) {
      g = { target: config.targets?.[key] ?? config.per_group, available: 0, best: [] };
      groups.set(key, g);
    }
    g.available++;
    if (g.target === 0) continue;
    // keep `best` sorted and at most `target` long (binary insertion)
    if (g.best.length === g.target && compare(r, g.best[g.best.length - 1]) >= 0) continue;
    let lo = 0;
    let hi = g.best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(g.best[mid], r) <= 0) lo = mid + 1;
      else hi = mid;
    }
    g.best.splice(lo, 0, r);
    if (g.best.length > g.target) g.best.pop();
  }
  // groups named in targets but absent from the data are short too
  for (const [key, target] of Object.entries(config.targets ?? {})) {
    if (!groups.has(key)) groups.set(key, { target, available: 0, best: [] });
  }
  const keys = [...groups.keys()].sort();
  const out: SftRecord[] = [];
  const reports: GroupReport[] = [];
  for (const key of keys) {
    const g = groups.get(key)!;
    out.push(...g.best);
    reports.push({
      group: key,
      target: g.target,
      available: g.available,
      selected: g.best.length,
      missing: Math.max(0, g.target - g.best.length),
    });
  }
  return {
    records: out,
    report: {
      group_by: [...config.group_by],
      groups: reports,
      short_groups: reports.filter((r) => r.missing > 0),
      input_rows: input,
      output_rows: out.length,
    },
  };
}
