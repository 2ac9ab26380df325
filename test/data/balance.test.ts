import assert from "node:assert/strict";
import { test } from "node:test";
import { balanceRecords, groupKeyOf } from "../../src/data/balance.js";
import type { SftRecord } from "../../src/record/record.js";

const rec = (id: string, type: string, topic: string | undefined, quality?: number): SftRecord => ({
  id,
  messages: [{ role: "user", content: id }],
  meta: { source: "t", type, ...(topic ? { topic } : {}), ...(quality !== undefined ? { quality } : {}) },
});

test("keeps the best rows per type × topic, reports short groups, is deterministic", async () => {
  const rows = [
    rec("a1", "qa", "math", 0.5),
    rec("a2", "qa", "math", 0.9),
    rec("a3", "qa", "math", 0.7),
    rec("a4", "qa", "math", 0.9),
    rec("b1", "task", "math", 0.2),
    rec("c1", "qa", "art"),
    rec("c2", "qa", "art", 0.1),
    rec("d1", "creative", undefined, 0.8),
  ];
  const { records, report } = await balanceRecords(rows, {
    group_by: ["type", "topic"],
    per_group: 2,
    targets: { "task|math": 3, "reasoning|math": 1 },
  });
  assert.deepEqual(
    records.map((r) => r.id),
    ["d1", "c2", "c1", "a2", "a4", "b1"],
    "groups in key order; best quality first; ties by id; missing quality last",
  );
  assert.deepEqual(
    report.short_groups.map((g) => [g.group, g.selected, g.target]),
    [
      ["creative|(none)", 1, 2],
      ["reasoning|math", 0, 1],
      ["task|math", 1, 3],
    ],
  );
  assert.equal(report.input_rows, 8);
  assert.equal(report.output_rows, 6);
  const again = await balanceRecords([...rows].reverse(), {
    group_by: ["type", "topic"],
    per_group: 2,
    targets: { "task|math": 3, "reasoning|math": 1 },
  });
  assert.deepEqual(
    again.records.map((r) => r.id),
    records.map((r) => r.id),
    "input order does not matter",
  );
  assert.equal(groupKeyOf(rows[0], ["type", "difficulty"]), "qa|(none)");
});
