/**
 * Models under test as response generators. A generator turns the suites' sample requests
 * (id, prompt, sample number) into responses; the evaluator does not care whether they come
 * from a file or a model. Every model is an `LlmBackend` (src/llm, the one "model answers
 * prompts" interface) behind `BackendGenerator`; only recorded responses are not.
 *
 * Built-in kinds:
 * - `responses`: a precomputed JSONL file of `{id?, prompt? | instruction?, response, sample?}`
 *   rows, matched to samples by `id` first, then by exact prompt text; `sample` (0-based,
 *   default 0) numbers the responses of one prompt when `samples: n` > 1. An id (with its
 *   sample) given twice is an error, and so is a prompt answered twice differently and then
 *   looked up by its text;
 * - `openai`: any OpenAI-compatible chat server (OpenAI, vLLM, Ollama, llama.cpp server…)
 *   through src/llm, with the options of `llm` configs (base_url, model, api_key_env, …).
 * More kinds plug in with `registerGeneratorKind` (`local`, in generators-local.ts, is the
 * local engine's `LocalBackend` behind `BackendGenerator`).
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { llmConfigSchema } from "../config/build.js";
import { type GenerationSettings, type GeneratorConfig, generationSettingsSchema } from "../config/eval.js";
import { SftError } from "../errors.js";
import { answerAll, createLlmBackend } from "../llm/index.js";
import type { ChatMessage, LlmBackend, LlmPrompt } from "../llm/types.js";
import { describeIssue, readJsonl } from "./io/jsonl.js";

export interface GenerationRequest {
  /** the sample id (suite `id` or `<file>:<line>`) */
  id: string;
  prompt: string;
  system?: string;
  /** which of the n samples of this prompt (0-based; seeds sampling: generation.seed + sample) */
  sample?: number;
}

export interface ResponseGenerator {
  readonly name: string;
  /** One response per request, in the same order. */
  generate(requests: GenerationRequest[]): Promise<string[]>;
  /** Releases resources (servers, models); optional. */
  close?(): Promise<void>;
}

export interface GeneratorContext {
  /** directory relative paths are resolved against (the config file's directory) */
  baseDir: string;
  generation: GenerationSettings;
  /** where the generator was configured, for messages ("base" or "sft") */
  field: string;
  file?: string;
}

export interface GeneratorKind<S extends z.ZodType = z.ZodType> {
  /** options schema (without `kind` and `name`) */
  options: S;
  create(
    options: z.infer<S>,
    ctx: GeneratorContext,
    name: string | undefined,
  ): ResponseGenerator | Promise<ResponseGenerator>;
}

const KINDS = new Map<string, GeneratorKind>();

/** Adds a generator kind (e.g. `local` for the engine). Later registrations replace earlier ones. */
export function registerGeneratorKind<S extends z.ZodType>(kind: string, def: GeneratorKind<S>): void {
  KINDS.set(kind, def as unknown as GeneratorKind);
}

export function generatorKinds(): string[] {
  return [...KINDS.keys()];
}

export function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Builds the generator a config entry describes. */
export async function createGenerator(
  config: GeneratorConfig,
  ctx: GeneratorContext,
): Promise<ResponseGenerator> {
  const kind = KINDS.get(config.kind);
  if (!kind) {
    throw new SftError(`unknown generator kind "${config.kind}"`, {
      where: { file: ctx.file, field: `${ctx.field}.kind` },
      hint: `use one of: ${generatorKinds().join(", ")}`,
      code: "E_CONFIG",
    });
  }
  const { kind: _kind, name, ...rest } = config;
  const parsed = kind.options.safeParse(rest);
  if (!parsed.success) {
    const { field, message } = describeIssue(parsed.error);
    throw new SftError(`${ctx.field} (${config.kind}): ${field}: ${message}`, {
      where: { file: ctx.file, field: `${ctx.field}.${field}` },
      hint: `check the options of the "${config.kind}" generator`,
      code: "E_CONFIG",
    });
  }
  return kind.create(parsed.data, ctx, name);
}

const sampleKey = (key: string, sample: number) => (sample === 0 ? key : `${key}\u0000${sample}`);

/** Responses read from a file (see the module comment). */
export class PrecomputedGenerator implements ResponseGenerator {
  private constructor(
    readonly name: string,
    private readonly file: string,
    private readonly byId: Map<string, string>,
    private readonly byPrompt: Map<string, string | { ambiguous: number[] }>,
  ) {}

  static async fromFile(file: string, name?: string): Promise<PrecomputedGenerator> {
    const row = z.object({
      id: z.union([z.string(), z.number()]).optional(),
      prompt: z.string().optional(),
      instruction: z.string().optional(),
      response: z.string(),
      sample: z.number().int().nonnegative().optional(),
    });
    const byId = new Map<string, string>();
    const idLine = new Map<string, number>();
    const byPrompt = new Map<string, string | { ambiguous: number[] }>();
    const promptLine = new Map<string, number>();
    for (const { value, line } of await readJsonl(file)) {
      const parsed = row.safeParse(value);
      if (!parsed.success) {
        const { field, message } = describeIssue(parsed.error);
        throw new SftError(`not a responses row: ${message}`, {
          where: { file, line, field },
          hint: 'each row is {"id"?: …, "prompt"?: …, "response": "…"}',
        });
      }
      const r = parsed.data;
      const sample = r.sample ?? 0;
      if (r.id !== undefined) {
        const key = sampleKey(String(r.id), sample);
        const first = idLine.get(key);
        if (first !== undefined)
          throw new SftError(
            `duplicate response id "${r.id}"${r.sample !== undefined ? ` (sample ${sample})` : ""}: first given on line ${first}`,
            {
              where: { file, line, field: "id" },
              hint: "give each response its own id (or, for several samples of one prompt, a distinct `sample` number)",
            },
          );
        idLine.set(key, line);
        byId.set(key, r.response);
      }
      const prompt = r.prompt ?? r.instruction;
      if (prompt !== undefined) {
        const key = sampleKey(prompt, sample);
        const seen = byPrompt.get(key);
        if (seen === undefined) {
          byPrompt.set(key, r.response);
          promptLine.set(key, line);
        } else if (typeof seen === "string" && seen !== r.response)
          byPrompt.set(key, { ambiguous: [promptLine.get(key)!, line] });
        else if (typeof seen !== "string") seen.ambiguous.push(line);
      }
    }
    return new PrecomputedGenerator(name ?? file.split("/").pop() ?? file, file, byId, byPrompt);
  }

  async generate(requests: GenerationRequest[]): Promise<string[]> {
    return requests.map((r) => {
      const sample = r.sample ?? 0;
      const hit = this.byId.get(sampleKey(r.id, sample)) ?? this.byPrompt.get(sampleKey(r.prompt, sample));
      if (hit === undefined) {
        throw new SftError(`no response for sample "${r.id}"${sample > 0 ? ` (sample ${sample})` : ""}`, {
          where: { file: this.file },
          hint: `add a row with this id${sample > 0 ? ` and "sample": ${sample}` : ""}, or with the sample's exact prompt text`,
        });
      }
      if (typeof hit !== "string")
        throw new SftError(
          `the prompt of sample "${r.id}" has different responses on lines ${hit.ambiguous.join(", ")}`,
          {
            where: { file: this.file, line: hit.ambiguous[0] },
            hint: "give the rows ids that match the suite's sample ids",
          },
        );
      return hit;
    });
  }
}

/** Options of a model-backed generator that the generation settings do not cover. */
export interface BackendGeneratorOptions {
  /** Feed each prompt as plain text (`complete`, no template; a system prompt is not used). */
  raw?: boolean;
}

/**
 * Eval's adapter over the one "model answers prompts" interface, `LlmBackend` (a server, or
 * the local engine, which decodes the requests of one sample number as a batch): turns
 * sample requests into prompts with the generation settings, seeded generation.seed + sample.
 */
export class BackendGenerator implements ResponseGenerator {
  constructor(
    readonly name: string,
    private readonly backend: LlmBackend,
    private readonly settings: GenerationSettings = generationSettingsSchema.parse({}),
    private readonly opts: BackendGeneratorOptions = {},
  ) {}

  async generate(requests: GenerationRequest[]): Promise<string[]> {
    const prompts = requests.map((r): LlmPrompt => {
      const seed = this.settings.seed + (r.sample ?? 0);
      if (this.opts.raw) return { text: r.prompt, seed };
      const messages: ChatMessage[] = [];
      const system = r.system ?? this.settings.system;
      if (system) messages.push({ role: "system", content: system });
      messages.push({ role: "user", content: r.prompt });
      return { messages, seed };
    });
    const results = await answerAll(this.backend, prompts, {
      max_tokens: this.settings.max_tokens,
      temperature: this.settings.temperature,
      top_p: this.settings.top_p,
      stop: this.settings.stop,
      concurrency: this.settings.concurrency,
    });
    return results.map((res) => res.choices[0]?.text ?? "");
  }
}

registerGeneratorKind("responses", {
  options: z.strictObject({ path: z.string().min(1) }),
  create: (o, ctx, name) => PrecomputedGenerator.fromFile(resolvePath(ctx.baseDir, o.path), name),
});

registerGeneratorKind("openai", {
  options: llmConfigSchema,
  create: (o, ctx, name) => new BackendGenerator(name ?? o.model, createLlmBackend(o), ctx.generation),
});

/** The directory a config file's relative paths refer to. */
export function configDir(configFile: string | undefined): string {
  return configFile ? dirname(resolve(configFile)) : process.cwd();
}
