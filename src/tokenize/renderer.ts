/** Picks the renderer for a tokenizer: a named/user template, or a Jinja chat template. */
import { existsSync } from "node:fs";
import { SftError } from "../errors.js";
import { ChatTemplateRenderer } from "./chat-template.js";
import { CHAT_TEMPLATE_HELP, type ChatTemplateValue, resolveChatTemplate } from "./chat-templates.js";
import type { ConversationRenderer } from "./render-types.js";
import {
  BUILTIN_TEMPLATES,
  builtinTemplateNames,
  loadTemplateFile,
  SegmentTemplateRenderer,
  type SegmentTemplateSpec,
  TASK_AWARE,
  TaskAwareRenderer,
} from "./templates.js";
import type { TextTokenizer } from "./tokenizer.js";

export interface TemplateChoice {
  /**
   * A built-in template name, a path to a YAML/JSON template file (its first template, or
   * `file.yaml#name`), or a template object.
   */
  template?: string | SegmentTemplateSpec;
  /**
   * A Jinja chat template: `true` for the tokenizer's own, a built-in name (chatml, llama3,
   * mistral, gemma), inline Jinja, a file path, or an already resolved `{ name, source }`.
   */
  chatTemplate?: ChatTemplateValue;
  /** Already-built renderer (wins over the others). */
  renderer?: ConversationRenderer;
}

const cache = new WeakMap<TextTokenizer, Map<string, ConversationRenderer>>();

function resolveSpec(name: string): SegmentTemplateSpec | "task-aware" {
  if (name === TASK_AWARE) return TASK_AWARE;
  const builtin = BUILTIN_TEMPLATES[name];
  if (builtin) return builtin;
  const [file, wanted] = name.split("#");
  if (/\.(ya?ml|json)$/i.test(file) && existsSync(file)) {
    const loaded = loadTemplateFile(file);
    const names = Object.keys(loaded);
    const pick = wanted ?? names[0];
    if (!loaded[pick]) {
      throw new SftError(`template "${pick}" is not in ${file} (it has: ${names.join(", ")})`, {
        where: { file },
        hint: `use ${file}#NAME with one of: ${names.join(", ")}`,
      });
    }
    return loaded[pick];
  }
  throw new SftError(`unknown template "${name}"`, {
    where: { field: "template" },
    hint: `use one of ${builtinTemplateNames().join(", ")}, a template file (.yaml/.json), or --chat-template`,
  });
}

/**
 * The renderer for a choice. With neither `template` nor `chatTemplate`, the tokenizer's
 * chat template is used when it has one, otherwise `alpaca`.
 */
export function createRenderer(tokenizer: TextTokenizer, choice: TemplateChoice = {}): ConversationRenderer {
  if (choice.renderer) return choice.renderer;
  if (choice.template !== undefined && choice.chatTemplate) {
    throw new SftError("choose either a template or the chat template, not both", {
      where: { field: "template" },
      hint: "drop --template to use the tokenizer's chat template, or drop --chat-template",
    });
  }
  const chat = resolveChatTemplate(choice.chatTemplate);
  const key =
    typeof choice.template === "object"
      ? undefined
      : `${choice.template ?? ""}|${chat === undefined ? "" : chat === true ? "true" : `${chat.name}\u0000${chat.source}`}`;
  let perTok = cache.get(tokenizer);
  if (!perTok) {
    perTok = new Map();
    cache.set(tokenizer, perTok);
  }
  if (key !== undefined) {
    const hit = perTok.get(key);
    if (hit) return hit;
  }
  let r: ConversationRenderer;
  if (chat !== undefined && chat !== true) {
    r = new ChatTemplateRenderer(chat.name, chat.source, tokenizer);
  } else if (chat === true || (choice.template === undefined && tokenizer.chatTemplate)) {
    if (!tokenizer.chatTemplate) {
      throw new SftError(`${tokenizer.source} has no chat template`, {
        where: { file: tokenizer.source, field: "chat_template" },
        hint: `give one with --chat-template NAME|FILE (chat_template: in YAML): ${CHAT_TEMPLATE_HELP}; or a classic template (--template ${builtinTemplateNames().slice(0, 4).join("|")}…)`,
      });
    }
    r = new ChatTemplateRenderer("chat-template", tokenizer.chatTemplate, tokenizer);
  } else {
    const spec =
      typeof choice.template === "object" ? choice.template : resolveSpec(choice.template ?? "alpaca");
    r = spec === TASK_AWARE ? new TaskAwareRenderer(tokenizer) : new SegmentTemplateRenderer(spec, tokenizer);
  }
  if (key !== undefined) perTok.set(key, r);
  return r;
}
