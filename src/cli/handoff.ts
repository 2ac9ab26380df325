/** `sft handoff axolotl|trl CONFIG.yaml --out DIR`: the same run, prepared for another trainer. */
import type { Command } from "commander";
import { resolveTrainConfig } from "../config/train.js";
import { SftError } from "../errors.js";
import { runHandoff } from "../handoff/handoff.js";
import { HANDOFF_FORMATS, type HandoffFormat } from "../handoff/rows.js";

export function register(parent: Command): void {
  parent
    .command("handoff")
    .description("write an sftkit train config's tokenized data and an Axolotl config or TRL script")
    .argument("<target>", `trainer to hand off to: ${HANDOFF_FORMATS.join(", ")}`)
    .argument("<config>", "sftkit train config (YAML)")
    .requiredOption("--out <dir>", "directory to write the hand-off to")
    .addHelpText(
      "after",
      `
Writes DIR/train.jsonl (and eval.jsonl) pre-tokenized as sft train sees them, DIR/config.yml
(Axolotl) or DIR/train_trl.py (TRL), DIR/README.md with the launch command, and
DIR/unmapped.json: every sftkit option the target has no equivalent for.

Examples:
  $ sft handoff axolotl train.yaml --out handoff-axolotl && cd handoff-axolotl && axolotl train config.yml
  $ sft handoff trl train.yaml --out handoff-trl && cd handoff-trl && accelerate launch train_trl.py`,
    )
    .action(async (target: string, configFile: string, opts: { out: string }) => {
      if (!HANDOFF_FORMATS.includes(target as HandoffFormat))
        throw new SftError(`unknown hand-off target "${target}"`, {
          where: { field: "<target>" },
          hint: `use one of ${HANDOFF_FORMATS.join(", ")}`,
        });
      const config = resolveTrainConfig(configFile, {});
      const r = await runHandoff(target as HandoffFormat, config, opts.out);
      process.stderr.write(
        `wrote ${r.files.map((f) => `${r.dir}/${f}`).join(", ")} (${r.trainRows} train row(s)${r.evalRows ? `, ${r.evalRows} eval row(s)` : ""})\n`,
      );
      if (r.unmapped.length > 0)
        process.stderr.write(
          `no ${target} equivalent for: ${r.unmapped.map((u) => u.option).join(", ")} (see ${r.dir}/README.md)\n`,
        );
    });
}
