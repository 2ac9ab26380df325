/**
 * Ollama's Modelfile for an exported GGUF: FROM (and ADAPTER), the chat TEMPLATE in Ollama's
 * Go-template syntax, PARAMETER stop for the end tokens, and SYSTEM. A template is written
 * only when the model's Jinja chat template renders a probe conversation exactly as the Go
 * template would (checked here by rendering both), so a Modelfile never carries a template
 * that formats turns differently from training; otherwise TEMPLATE is left out and said so.
 */
import { join, relative } from "node:path";
import { Template } from "@huggingface/jinja";
import { writeAtomically } from "./file-io.js";
import { readGgufTokenizer } from "./gguf.js";

interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A chat format Ollama can express: its Go template, a renderer of the same text, its stops. */
interface OllamaFormat {
  name: string;
  template: string;
  render(messages: Message[]): string;
  stops: string[];
}

const FORMATS: OllamaFormat[] = [
  {
    name: "chatml",
    template:
      "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n",
    render: (ms) =>
      `${ms.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("")}<|im_start|>assistant\n`,
    stops: ["<|im_end|>", "<|im_start|>"],
  },
  {
    name: "llama3",
    template:
      "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n",
    render: (ms) =>
      `${ms.map((m) => `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content}<|eot_id|>`).join("")}<|start_header_id|>assistant<|end_header_id|>\n\n`,
    stops: ["<|eot_id|>", "<|start_header_id|>"],
  },
];

/** Probe conversations: with and without a system turn, several turns, non-ASCII content. */
const PROBES: Message[][] = [
  [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Name a prime." },
    { role: "assistant", content: "Seven." },
    { role: "user", content: "用中文说 🙂" },
  ],
  [{ role: "user", content: "Hello there" }],
];

/** The Ollama format whose rendering equals the Jinja template's on every probe, if any. */
export function ollamaFormatOf(chatTemplate: string, bosToken: string | null): OllamaFormat | null {
  let jinja: Template;
  try {
    jinja = new Template(chatTemplate);
  } catch {
    return null;
  }
  const renderJinja = (messages: Message[]): string | null => {
    try {
      const text = jinja.render({
        messages,
        add_generation_prompt: true,
        bos_token: bosToken ?? "",
        eos_token: "",
      });
      // llama.cpp adds BOS itself (tokenizer.ggml.add_bos_token): Ollama's template leaves it out.
      return bosToken && text.startsWith(bosToken) ? text.slice(bosToken.length) : text;
    } catch {
      return null;
    }
  };
  return FORMATS.find((f) => PROBES.every((p) => renderJinja(p) === f.render(p))) ?? null;
}

export interface ModelfileInput {
  /** Paths as the Modelfile names them (relative to the Modelfile's folder). */
  from: string;
  adapter?: string;
  chatTemplate: string | null;
  bosToken: string | null;
  /** End-of-sequence tokens of the vocabulary (always stops). */
  endTokens: string[];
  system?: string;
}

export interface Modelfile {
  text: string;
  /** The format whose TEMPLATE was written, or null when none matched the chat template. */
  format: string | null;
}

/** Modelfile strings are Go-quoted: triple quotes take anything but a triple quote. */
function quote(s: string): string {
  if (s.includes('"""')) throw new Error('a Modelfile value cannot contain """');
  return `"""${s}"""`;
}

export function buildModelfile(input: ModelfileInput): Modelfile {
  const format = input.chatTemplate ? ollamaFormatOf(input.chatTemplate, input.bosToken) : null;
  const lines = [`FROM ${input.from}`];
  if (input.adapter) lines.push(`ADAPTER ${input.adapter}`);
  if (format) lines.push(`TEMPLATE ${quote(format.template)}`);
  else
    lines.push(
      "# no TEMPLATE: the chat template is not one this exporter translates faithfully (chatml, llama3)",
    );
  const stops = [...new Set([...(format?.stops ?? []), ...input.endTokens])];
  for (const s of stops) lines.push(`PARAMETER stop ${JSON.stringify(s)}`);
  if (input.system) lines.push(`SYSTEM ${quote(input.system)}`);
  return { text: `${lines.join("\n")}\n`, format: format?.name ?? null };
}

/**
 * Writes `dir/Modelfile` for the GGUF at `ggufPath` (inside `dir`), from the vocabulary and
 * chat template the file embeds; returns the Modelfile's path and what it holds.
 */
export function writeOllamaModelfile(
  dir: string,
  ggufPath: string,
  opts: { system?: string; adapterPath?: string } = {},
): Modelfile & { path: string } {
  const tok = readGgufTokenizer(ggufPath);
  const token = (id: number | null | undefined) =>
    tok && id !== null && id !== undefined ? tok.tokens[id] : null;
  const eos = token(tok?.eosTokenId);
  const mf = buildModelfile({
    from: `./${relative(dir, ggufPath)}`,
    ...(opts.adapterPath ? { adapter: `./${relative(dir, opts.adapterPath)}` } : {}),
    chatTemplate: tok?.chatTemplate ?? null,
    bosToken: token(tok?.bosTokenId),
    endTokens: eos ? [eos] : [],
    ...(opts.system ? { system: opts.system } : {}),
  });
  const path = join(dir, "Modelfile");
  writeAtomically(path, (w) => w.write(Buffer.from(mf.text)));
  return { ...mf, path };
}
