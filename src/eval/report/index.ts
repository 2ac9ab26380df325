/** Writes an evaluation result as report.json (every per-sample result kept) and report.html. */
import { join } from "node:path";
import { writeFileAtomicSync } from "../../util/atomic.js";
import type { EvalResult } from "../runner.js";
import { renderReportHtml } from "./html.js";

export { renderReportHtml } from "./html.js";

export function writeReport(result: EvalResult, dir: string): { json: string; html: string } {
  const json = join(dir, "report.json");
  const html = join(dir, "report.html");
  writeFileAtomicSync(json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomicSync(html, renderReportHtml(result));
  return { json, html };
}
