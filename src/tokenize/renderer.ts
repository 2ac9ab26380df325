/** Picks the renderer for a tokenizer: a named/user template, or a Jinja chat template. */
import { existsSync } from "node:fs";
import { SftError } from "../errors.js";
import { ChatTemplateRenderer } from "./chat-template.js";
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
  /** Use the tokenizer's Jinja chat template (`true`), or this Jinja source. */
  chatTemplate?: boolean | string;
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
  const key =
    typeof choice.template === "object"
      ? undefined
      : `${choice.template ?? ""}|${typeof choice.chatTemplate === "string" ? choice.chatTemplate : String(choice.chatTemplate ?? "")}`;
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
  if (typeof choice.chatTemplate === "string") {
    r = new ChatTemplateRenderer("custom-chat-template", choice.chatTemplate, tokenizer);
  } else if (choice.chatTemplate === true || (choice.template === undefined && tokenizer.chatTemplate)) {
    if (!tokenizer.chatTemplate) {
      throw new SftError(`${tokenizer.source} has no chat template`, {
        where: { file: tokenizer.source, field: "chat_template" },
        hint: `use a named template instead (--template ${builtinTemplateNames().slice(0, 4).join("|")}…)`,
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
