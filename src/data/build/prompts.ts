/**
 * Built-in prompt texts for building instruction data, in English and Chinese. All of them
 * can be replaced from the build config (`prompts:`). Placeholders: {{topic}}, {{task_type}},
 * {{subtype}}, {{domain}}, {{difficulty}}, {{style}}, {{examples}}, {{n}}.
 */
import type { PromptType } from "../../config/build.js";

export type Language = "en" | "zh";

export interface PromptSet {
  /** system prompt when asking for an instruction */
  instruction_system: string;
  /** one instruction-writing prompt per prompt type */
  types: Record<PromptType, string>;
  /** system prompt when answering a generated instruction */
  response_system: string;
  /** self-instruct: propose one new task after seeing examples */
  self_instruct: string;
}

const EN: PromptSet = {
  instruction_system:
    "You write instructions for training an AI assistant. Reply with the instruction only: no preamble, no numbering, no answer.",
  types: {
    qa: "Write one question about the topic: {{topic}}. It should need a {{task_type}} answer ({{subtype}}), fit the domain {{domain}}, be {{difficulty}} to answer, and be phrased in a {{style}} style.",
    task: "Write one task instruction about the topic: {{topic}}. It asks the assistant to do a concrete {{task_type}} task ({{subtype}}) in the domain {{domain}}, at {{difficulty}} difficulty, phrased in a {{style}} style. If the task needs input text, add it after a line 'Input:'.",
    reasoning:
      "Write one problem about the topic: {{topic}} that needs careful step-by-step reasoning to solve ({{task_type}}: {{subtype}}). Domain {{domain}}, {{difficulty}} difficulty, {{style}} style. Give all facts needed to solve it.",
    creative:
      "Write one creative request about the topic: {{topic}} (for example a {{subtype}}), with clear constraints on form or length. Domain {{domain}}, {{difficulty}} difficulty, {{style}} style.",
  },
  response_system:
    "You are a helpful, accurate assistant. Answer the request completely and directly, without mentioning that you are an AI.",
  self_instruct:
    "Come up with a new task for training an AI assistant. Here are examples of tasks:\n\n{{examples}}\n\nThe new task must differ from the examples in topic and wording. Reply in exactly this form:\nInstruction: <the task>\nInput: <input text for the task, or <noinput>>",
};

const ZH: PromptSet = {
  instruction_system: "你负责为训练AI助手撰写指令。只回复指令本身：不要开场白，不要编号，不要给出答案。",
  types: {
    qa: "请围绕以下主题：{{topic}}，写一个问题。回答它需要{{task_type}}（{{subtype}}）类型的回答，领域为{{domain}}，难度{{difficulty}}，措辞风格为{{style}}。",
    task: "请围绕以下主题：{{topic}}，写一条任务指令，要求助手完成一个具体的{{task_type}}任务（{{subtype}}），领域为{{domain}}，难度{{difficulty}}，风格{{style}}。如果任务需要输入文本，请在“Input:”一行之后给出。",
    reasoning:
      "请围绕以下主题：{{topic}}，写一道需要逐步推理才能解决的题目（{{task_type}}：{{subtype}}）。领域{{domain}}，难度{{difficulty}}，风格{{style}}。给出解题所需的全部条件。",
    creative:
      "请围绕以下主题：{{topic}}，写一个创作类请求（例如{{subtype}}），并对形式或长度给出明确要求。领域{{domain}}，难度{{difficulty}}，风格{{style}}。",
  },
  response_system: "你是一个乐于助人、准确可靠的助手。请完整、直接地回答请求，不要提及你是AI。",
  self_instruct:
    "请想出一个新的任务，用于训练AI助手。以下是一些任务示例：\n\n{{examples}}\n\n新任务在主题和措辞上都要与示例不同。请严格按以下格式回复：\nInstruction: <任务>\nInput: <任务的输入文本，没有则写 <noinput>>",
};

export function defaultPrompts(language: Language): PromptSet {
  return language === "zh" ? ZH : EN;
}

/** Replaces {{name}} placeholders; unknown names are left as they are so typos stay visible. */
export function renderPrompt(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (m, name: string) =>
    vars[name] !== undefined ? String(vars[name]) : m,
  );
}

/**
 * Turns a model's reply into an instruction and optional input: strips a leading
 * "Instruction:" label, quotes and list numbering, and splits off an "Input:" part
 * ("<noinput>" or "none" means no input).
 */
export function parseInstructionReply(reply: string): { instruction: string; input: string } {
  let text = reply.trim();
  text = text.replace(/^```[a-z]*\n([\s\S]*?)\n```$/i, "$1").trim();
  let input = "";
  const inputMatch = /\n\s*(?:input|输入)\s*[:：]\s*([\s\S]*)$/i.exec(text);
  if (inputMatch) {
    input = inputMatch[1].trim();
    text = text.slice(0, inputMatch.index).trim();
  }
  text = text
    .replace(/^(?:\d+[.)]\s*)?(?:instruction|task|question|指令|任务|问题)\s*[:：]\s*/i, "")
    .replace(/^["“「](.*)["”」]$/s, "$1")
    .trim();
  if (/^<?\s*(no ?input|none|无)\s*>?$/i.test(input)) input = "";
  return { instruction: text, input };
}

/** The user turn of a built row: the instruction, then its input after a blank line. */
export function userTurn(instruction: string, input: string): string {
  return input ? `${instruction}\n\n${input}` : instruction;
}
