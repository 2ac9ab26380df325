/** `sft ui`: serves the dashboard over the runs folder (see src/ui/server.ts for the API). */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { SftError } from "../errors.js";
import { startUiServer } from "../ui/server.js";

interface UiCliOptions {
  runs: string;
  data?: string;
  port: string;
  host: string;
}

function folder(path: string, flag: string): string {
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isDirectory())
    throw new SftError(`${flag} ${path} is not a folder`, {
      where: { field: flag },
      hint: `create it first (mkdir -p ${path}), or point ${flag} at the folder \`sft train --out\` writes under`,
    });
  return abs;
}

export function register(parent: Command): void {
  parent
    .command("ui")
    .description("serve a local dashboard of training runs (live curves) on 127.0.0.1")
    .option("--runs <dir>", "folder whose subfolders are run directories", "runs")
    .option("--data <dir>", "folder of dataset files (checked to exist; the data view is not built yet)")
    .option("--port <n>", "port (0 picks a free one)", "7860")
    .option(
      "--host <host>",
      "address to bind; anything but 127.0.0.1/localhost exposes the dashboard",
      "127.0.0.1",
    )
    .addHelpText("after", "\nExamples:\n  sft ui --runs runs\n  sft ui --runs runs --port 0\n")
    .action(async (opts: UiCliOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new SftError(`--port must be an integer from 0 to 65535, got "${opts.port}"`, {
          where: { field: "--port" },
        });
      const runsDir = folder(opts.runs, "--runs");
      const dataDir = opts.data === undefined ? undefined : folder(opts.data, "--data");
      const ui = await startUiServer({ runsDir, dataDir, host: opts.host, port });
      process.stdout.write(`sft ui: serving runs in ${runsDir}\n  open ${ui.url}\n`);
      const stop = () => void ui.close().then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
}
