/**
 * The dashboard page: one HTML document with its script inlined, so it works offline and
 * loads nothing from elsewhere. The script is `page/app.ts` bundled by esbuild: at build time
 * into `app.bundle.js` next to this module (scripts/build-ui.mjs), or, in a source checkout
 * without that file, once when the server starts.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

async function bundle(): Promise<string> {
  const built = fileURLToPath(new URL("./app.bundle.js", import.meta.url));
  if (existsSync(built)) return readFileSync(built, "utf8");
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [fileURLToPath(new URL("./page/app.ts", import.meta.url))],
    bundle: true,
    write: false,
    format: "iife",
    target: "es2020",
    minify: true,
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
body { margin: 0; }
header { padding: 10px 16px; background: #1b1f24; color: #fff; display: flex; gap: 12px; align-items: baseline; }
header h1 { font-size: 17px; margin: 0; }
header span { font-size: 13px; opacity: .75; }
main { display: grid; grid-template-columns: minmax(260px, 340px) 1fr; gap: 16px; padding: 16px; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; padding: 8px; } }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px; min-width: 0; }
h2 { font-size: 14px; margin: 0 0 8px; }
.run { display: grid; grid-template-columns: auto 1fr auto; gap: 2px 8px; padding: 6px 4px; border-top: 1px solid #eef0f2; font-size: 13px; align-items: center; }
.run .meta { grid-column: 2 / 4; color: #57606a; font-size: 12px; overflow-wrap: anywhere; }
.run .name { font-weight: 600; overflow-wrap: anywhere; }
.swatch { width: 10px; height: 10px; border-radius: 2px; display: inline-block; margin-right: 4px; }
.state { font-size: 11px; padding: 1px 6px; border-radius: 9px; background: #eef0f2; }
.state.running { background: #dafbe1; color: #116329; }
.state.failed { background: #ffebe9; color: #a40e26; }
.state.interrupted { background: #fff8c5; color: #7d4e00; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.chart h3 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .empty { font-size: 12px; color: #57606a; }
.axis { font-size: 10px; fill: #57606a; }
.grid { stroke: #eef0f2; }
.empty-list { color: #57606a; font-size: 13px; }
`;

export async function pageHtml(): Promise<string> {
  const script = (await bundle()).replaceAll("</script", "<\\/script");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>sft ui</title><style>${STYLE}</style></head>
<body><header><h1>sft ui</h1><span id="status">connecting…</span></header>
<main><section><h2>Runs</h2><div id="runs"></div></section>
<section><h2>Curves</h2><div class="charts" id="charts"></div></section></main>
<script>${script}</script></body></html>
`;
}
