#!/usr/bin/env node
// Bundles the dashboard's browser script (src/ui/page/app.ts) with esbuild into
// dist/ui/app.bundle.js, which the built server inlines into its page (src/ui/page.ts).
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
await build({
  entryPoints: [`${root}src/ui/page/app.ts`],
  outfile: `${root}dist/ui/app.bundle.js`,
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  logLevel: "warning",
});
