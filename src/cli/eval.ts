/**
 * `sft eval`: measure the fine-tuned model against its base.
 *   sft eval CONFIG.yaml                  base vs SFT over suites → report.json + report.html
 *   sft eval ifeval --prompts … --responses … --out …   IFEval strict/loose accuracies
 *   sft eval suite --suite S.jsonl --responses R.jsonl  score one model's responses on a suite
 *   sft eval judge --base A.jsonl --sft B.jsonl --base-url … --model …  pairwise judge
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { llmConfigSchema } from "../config/build.js";
import { readEvalConfig } from "../config/eval.js";
import { SftError } from "../errors.js";
import { configDir, resolvePath } from "../eval/generators.js";
import { runIfevalFiles } from "../eval/ifeval/evaluate.js";
import { judgePairs } from "../eval/judge.js";
import { pairResponses } from "../eval/judge-files.js";
import { writeReport } from "../eval/report/index.js";
import { runEvaluation, scoreResponsesFile } from "../eval/runner.js";
import { createLlmBackend } from "../llm/index.js";
import { writeFileAtomicSync } from "../util/atomic.js";

const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);

function parsePositiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new SftError(`${flag} must be a positive integer, got "${v}"`, { where: { field: flag } });
  return n;
}

export async function runEvalConfigCommand(
  configFile: string,
  opts: { outDir?: string; maxSamples?: string; quiet?: boolean; python?: string },
): Promise<void> {
  const config = readEvalConfig(configFile);
  if (opts.outDir) config.out = opts.outDir;
  if (opts.python) config.python = opts.python;
  if (opts.maxSamples) config.max_samples = parsePositiveInt(opts.maxSamples, "--max-samples");
  const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const result = await runEvaluation(config, { configFile, log });
  // --out-dir is relative to the working directory; `out` in the YAML to the config file
  const outDir = opts.outDir ? resolve(opts.outDir) : resolvePath(configDir(configFile), config.out);
  const paths = writeReport(result, outDir);
  const o = result.overall;
  process.stdout.write(
    [
      `base ${result.models.base}: ${o.base.score.toFixed(3)}  SFT ${result.models.sft}: ${o.sft.score.toFixed(3)}  improvement ${o.improvement >= 0 ? "+" : ""}${o.improvement.toFixed(3)}`,
      ...result.tasks.map(
        (t) =>
          `  ${t.task.padEnd(20)} n=${String(t.n).padEnd(4)} ${t.base.score.toFixed(3)} → ${t.sft.score.toFixed(3)}${t.needs_attention ? "  (needs attention)" : ""}`,
      ),
      ...(result.pass_at_k
        ? [
            `pass@k over ${result.pass_at_k.n} samples: ${result.pass_at_k.k
              .map((k) => {
                const v = (x: number | null) => (x === null ? "n/a" : x.toFixed(3));
                return `pass@${k} ${v(result.pass_at_k!.overall.base[`pass@${k}`])} → ${v(result.pass_at_k!.overall.sft[`pass@${k}`])}`;
              })
              .join("  ")}`,
          ]
        : []),
      ...(result.judge
        ? [
            `judge: win rate ${pct(result.judge.win_rate)} (length-controlled ${pct(result.judge.length_controlled_win_rate)}) over ${result.judge.judged} judged prompts; unparsed verdicts ${result.judge.unparsed_verdicts} of ${result.judge.total_verdicts}`,
          ]
        : []),
      ...(result.sandbox ? [`code sandbox: ${result.sandbox.gaps.join("; ")}`] : []),
      `wrote ${paths.json} and ${paths.html}`,
      "",
    ].join("\n"),
  );
}

export function register(parent: Command): void {
  const evalCmd = parent
    .command("eval")
    .description("evaluate base vs fine-tuned models (suites, IFEval, format, judge) and write a report")
    .argument("[config]", "eval config YAML (base, sft, suites, ifeval, judge, generation, out)")
    .option("--out-dir <dir>", "output directory for report.json and report.html (overrides `out`)")
    .option("--max-samples <n>", "use at most N samples per suite")
    .option("--python <path>", "Python interpreter for code checkers (overrides `python`; default python3)")
    .option("--quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Config (YAML):
  base: { kind: responses, path: base.jsonl }     # or kind: openai, base_url, model, api_key_env
  sft:  { kind: openai, base_url: http://127.0.0.1:8000/v1, model: my-sft }
  suites: [suite.jsonl]                           # rows {instruction, expected?, task, checker, …}, HumanEval or MBPP rows
  samples: 10                                     # responses per prompt (seeded); reports pass@k
  k: [1, 10]                                      # the k of pass@k (each ≤ samples)
  python: python3                                 # interpreter of the Python code checker
  ifeval: { prompts: input_data.jsonl }           # optional
  judge: { llm: { base_url: …, model: … } }       # optional pairwise judge
  out: eval-report

Examples:
  $ sft eval eval.yaml
  $ sft eval ifeval --prompts input_data.jsonl --responses responses.jsonl --out ifeval.json
  $ sft eval suite --suite math.jsonl --responses answers.jsonl`,
    )
    .action(
      async (
        config: string | undefined,
        opts: { outDir?: string; maxSamples?: string; quiet?: boolean; python?: string },
      ) => {
        if (!config) {
          throw new SftError("sft eval needs a config file or a subcommand", {
            hint: "run `sft eval CONFIG.yaml`, `sft eval ifeval …` or `sft eval --help`",
          });
        }
        await runEvalConfigCommand(config, opts);
      },
    );

  evalCmd
    .command("ifeval")
    .description("score responses with IFEval's 25 verifiable instruction types (strict and loose)")
    .requiredOption("--prompts <file>", "IFEval prompts JSONL: {key, prompt, instruction_id_list, kwargs}")
    .requiredOption("--responses <file>", "responses JSONL: {prompt, response}")
    .option("--out <file>", "write the result JSON here (accuracies + a row per prompt)")
    .addHelpText(
      "after",
      `
Example:
  $ sft eval ifeval --prompts input_data.jsonl --responses responses.jsonl --out ifeval.json`,
    )
    .action(async (opts: { prompts: string; responses: string; out?: string }) => {
      const r = await runIfevalFiles(opts);
      const a = r.accuracy;
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      const prompts = new Set(r.rows.map((row) => row.prompt)).size;
      process.stdout.write(
        `prompt-level strict ${pct(a.prompt_strict)}  loose ${pct(a.prompt_loose)}\ninstruction-level strict ${pct(a.instruction_strict)}  loose ${pct(a.instruction_loose)}\n${r.rows.length} responses to ${prompts} prompts${opts.out ? `; wrote ${opts.out}` : ""}\n`,
      );
    });

  evalCmd
    .command("judge")
    .description("pairwise-judge two response files (both orders, ties, raw and length-controlled win rate)")
    .requiredOption(
      "--base <file>",
      "base model responses JSONL: {prompt, response} (or {id, prompt, response})",
    )
    .requiredOption("--sft <file>", "fine-tuned model responses JSONL, same prompts")
    .requiredOption(
      "--base-url <url>",
      "OpenAI-compatible server of the judge model, e.g. http://127.0.0.1:8000/v1",
    )
    .requiredOption("--model <name>", "judge model name")
    .option("--api-key-env <name>", "environment variable holding the judge's API key")
    .option("--max-samples <n>", "judge at most N prompts")
    .option("--out <file>", "write the judgement summary (with every pair) as JSON")
    .addHelpText(
      "after",
      `
Example:
  $ sft eval judge --base base.jsonl --sft sft.jsonl --base-url https://api.openai.com/v1 --model gpt-4o-mini --api-key-env OPENAI_API_KEY`,
    )
    .action(
      async (opts: {
        base: string;
        sft: string;
        baseUrl: string;
        model: string;
        apiKeyEnv?: string;
        maxSamples?: string;
        out?: string;
      }) => {
        const pairs = await pairResponses(opts.base, opts.sft);
        const limit = opts.maxSamples ? parsePositiveInt(opts.maxSamples, "--max-samples") : pairs.length;
        const judge = createLlmBackend(
          llmConfigSchema.parse({ base_url: opts.baseUrl, model: opts.model, api_key_env: opts.apiKeyEnv }),
        );
        const s = await judgePairs(judge, pairs.slice(0, limit));
        if (opts.out) writeFileAtomicSync(opts.out, `${JSON.stringify(s, null, 2)}\n`);
        process.stdout.write(
          `SFT wins ${s.wins}, ties ${s.ties}, losses ${s.losses} of ${s.judged} judged prompts (${s.pairs.length} asked)\nunparsed verdicts ${s.unparsed_verdicts} of ${s.total_verdicts} (left out of the rates)\nwin rate ${pct(s.win_rate)}  length-controlled ${pct(s.length_controlled_win_rate)}  order-inconsistent ${pct(s.position_inconsistency)}\n`,
        );
      },
    );

  evalCmd
    .command("suite")
    .description("score one model's precomputed responses on a suite (checkers, format, IF score)")
    .requiredOption("--suite <file>", "suite JSONL")
    .requiredOption("--responses <file>", "responses JSONL: {id?, prompt?, response}")
    .option("--python <path>", "Python interpreter for code checkers (default python3)")
    .option("--out <file>", "write per-sample results and per-task scores as JSON")
    .addHelpText(
      "after",
      `
Example:
  $ sft eval suite --suite math.jsonl --responses answers.jsonl --out scores.json`,
    )
    .action(async (opts: { suite: string; responses: string; out?: string; python?: string }) => {
      const { tasks, samples, gaps } = await scoreResponsesFile(opts.suite, opts.responses, {
        python: opts.python,
      });
      if (opts.out)
        writeFileAtomicSync(
          opts.out,
          `${JSON.stringify({ tasks, samples, ...(gaps.length ? { sandbox: { gaps } } : {}) }, null, 2)}\n`,
        );
      if (gaps.length) process.stdout.write(`code sandbox: ${gaps.join("; ")}\n`);
      for (const t of tasks)
        process.stdout.write(
          `${t.task.padEnd(20)} n=${String(t.n).padEnd(4)} score ${t.score.toFixed(3)}  pass ${pct(t.pass_rate)}  IF ${t.if_score.toFixed(3)}\n`,
        );
    });
}
