/**
 * What a `chat_template` value means, in one place for every command and config:
 *
 *   true          the tokenizer's own Jinja template (tokenizer_config.json / GGUF metadata)
 *   NAME          a built-in template: chatml, llama3, mistral, gemma
 *   inline Jinja  a string holding `{{` or `{%`
 *   FILE          any other string: a file holding a Jinja template
 *
 * The built-ins are written here for models that ship without a template (a GGUF base, the
 * Mistral v0.1 tokenizer): each renders the conversation the way the model family's own
 * template does, so a model fine-tuned with one can later be served with the family's
 * template unchanged.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { SftError } from "../errors.js";

/**
 * ChatML as Qwen writes it: `<|im_start|>ROLE\n…<|im_end|>\n` per message, the generation
 * prompt `<|im_start|>assistant\n`. (Qwen3's own template adds a think block to the final
 * reply; this one does not.)
 */
const CHATML = `{%- for message in messages %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' }}
{%- endif %}`;

/**
 * Llama 3 Instruct: BOS once, `<|start_header_id|>ROLE<|end_header_id|>\n\n` + trimmed content
 * + `<|eot_id|>` per message; the assistant header only when a generation prompt is asked for.
 */
const LLAMA3 = `{%- for message in messages %}
{%- if loop.first %}{{- bos_token }}{%- endif %}
{{- '<|start_header_id|>' + message.role + '<|end_header_id|>\\n\\n' + message.content | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}`;

/**
 * Mistral Instruct: BOS, then \`[INST] user [/INST] answer</s>\` per exchange; a system prompt
 * opens the first user turn. The answer starts with a space so that its first word carries the
 * SentencePiece word-start marker, as Mistral's own encoder gives it.
 */
const MISTRAL = `{%- set system = '' %}
{%- set turns = messages %}
{%- if messages[0].role == 'system' %}
{%- set system = messages[0].content + '\\n\\n' %}
{%- set turns = messages[1:] %}
{%- endif %}
{{- bos_token }}
{%- for message in turns %}
{%- if message.role == 'user' %}
{{- '[INST] ' + (system if loop.first else '') + message.content + ' [/INST]' }}
{%- elif message.role == 'assistant' %}
{{- ' ' + message.content + eos_token }}
{%- else %}
{{- raise_exception('the mistral chat template renders only system, user and assistant messages, not ' + message.role) }}
{%- endif %}
{%- endfor %}`;

/**
 * Gemma: BOS, `<start_of_turn>user|model\n` + trimmed content + `<end_of_turn>\n`; a system
 * prompt opens the first user turn (Gemma has no system role).
 */
const GEMMA = `{%- set system = '' %}
{%- set turns = messages %}
{%- if messages[0].role == 'system' %}
{%- set system = messages[0].content + '\\n\\n' %}
{%- set turns = messages[1:] %}
{%- endif %}
{{- bos_token }}
{%- for message in turns %}
{%- set role = 'model' if message.role == 'assistant' else message.role %}
{{- '<start_of_turn>' + role + '\\n' + (system if loop.first else '') + message.content | trim + '<end_of_turn>\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<start_of_turn>model\\n' }}
{%- endif %}`;

export const BUILTIN_CHAT_TEMPLATES: Readonly<Record<string, string>> = {
  chatml: CHATML,
  llama3: LLAMA3,
  mistral: MISTRAL,
  gemma: GEMMA,
};

export function builtinChatTemplateNames(): string[] {
  return Object.keys(BUILTIN_CHAT_TEMPLATES);
}

/** A chat template given by value: its source and a short name for messages and ids. */
export interface ResolvedChatTemplate {
  name: string;
  source: string;
}

/** The `chat_template` values accepted everywhere (see the module comment). */
export type ChatTemplateValue = boolean | string | ResolvedChatTemplate;

/** The one-line help text that names every accepted value. */
export const CHAT_TEMPLATE_HELP = `the tokenizer's own (true / the bare flag), a built-in (${builtinChatTemplateNames().join(", ")}), a file holding a Jinja template, or inline Jinja`;

function looksLikeJinja(s: string): boolean {
  return s.includes("{{") || s.includes("{%");
}

/**
 * Resolves a `chat_template` value: `true` stays `true` (the tokenizer's own), false/undefined
 * give undefined, a name, inline Jinja or a file become their source. Relative file paths are
 * read from `baseDir` (default: the current directory).
 */
export function resolveChatTemplate(
  value: ChatTemplateValue | undefined,
  opts: { baseDir?: string; field?: string } = {},
): true | ResolvedChatTemplate | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return true;
  if (typeof value === "object") return value;
  const field = opts.field ?? "chat_template";
  const builtin = BUILTIN_CHAT_TEMPLATES[value];
  if (builtin !== undefined) return { name: value, source: builtin };
  if (looksLikeJinja(value)) return { name: "inline-chat-template", source: value };
  const path = resolve(opts.baseDir ?? ".", value);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new SftError(
      `chat template "${value}" is not a built-in name, not inline Jinja, and no file ${path} exists`,
      {
        where: { field },
        hint: `give ${CHAT_TEMPLATE_HELP}`,
        code: "E_CONFIG",
      },
    );
  }
  const source = readFileSync(path, "utf8");
  if (source.trim() === "") {
    throw new SftError(`the chat template file ${path} is empty`, {
      where: { file: path, field },
      hint: "write a Jinja chat template into it, or use a built-in name",
      code: "E_CONFIG",
    });
  }
  return { name: path, source };
}
