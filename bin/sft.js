#!/usr/bin/env node
// Entry point of the `sft` command. In a source checkout (src/ present) it runs the
// TypeScript sources through tsx so the CLI is never stale; an installed package runs dist/.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const sourceMain = `${here}../src/cli/main.ts`;
if (existsSync(sourceMain)) {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import(pathToFileURL(sourceMain).href);
  await main(process.argv);
} else {
  const { main } = await import(pathToFileURL(`${here}../dist/cli/main.js`).href);
  await main(process.argv);
}
