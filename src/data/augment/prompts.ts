/**
 * Built-in augmentation prompts (English and Chinese). The instruction being rewritten is
 * placed between <<< and >>> so that it cannot be confused with the request itself.
 */
export const PARAPHRASE_PROMPTS = {
  en: [
    "Rewrite the instruction below in different words. Keep its meaning and everything it asks for; do not answer it. Reply with the rewritten instruction only.\n<<<{{text}}>>>",
    "Rewrite the instruction below in different words, as a different person would naturally ask it. Keep every requirement. Reply with the rewritten instruction only.\n<<<{{text}}>>>",
    "Rewrite the instruction below in different words with a different sentence structure (for example a question instead of a command, or the reverse). Same meaning. Reply with the rewritten instruction only.\n<<<{{text}}>>>",
  ],
  zh: [
    "请用不同的措辞改写下面的指令，保持原意和全部要求，不要回答它。只回复改写后的指令。\n<<<{{text}}>>>",
    "请用不同的措辞改写下面的指令，像另一个人自然地提问那样，保留所有要求。只回复改写后的指令。\n<<<{{text}}>>>",
    "请用不同的措辞和不同的句式（例如把命令改成疑问，或反过来）改写下面的指令，意思不变。只回复改写后的指令。\n<<<{{text}}>>>",
  ],
};

/** In-depth evolving operations (Evol-Instruct style) for "harder". */
export const HARDER_OPERATIONS = {
  en: [
    "add one more constraint or requirement",
    "ask for more depth: replace a general concept with a more specific one",
    "make it require several explicit reasoning steps",
    "make it more concrete with specific details or numbers",
  ],
  zh: [
    "增加一个约束或要求",
    "要求更深入：把一般概念换成更具体的概念",
    "让它需要多个明确的推理步骤",
    "加入具体的细节或数字，使其更具体",
  ],
};

export const EVOLVE_PROMPT = {
  en: {
    harder:
      "Rewrite the instruction below into a harder version: {{operation}}. The new instruction must still be reasonable and answerable by a person, add at most 10 to 20 words, and must not mention that it was rewritten. Reply with the new instruction only.\n<<<{{text}}>>>",
    simpler:
      "Rewrite the instruction below into a simpler version that a beginner can answer: fewer requirements, plain words. It must stay about the same subject. Reply with the new instruction only.\n<<<{{text}}>>>",
  },
  zh: {
    harder:
      "请把下面的指令改写成更难的版本：{{operation}}。新指令必须合理、人能回答，最多增加10到20个字，且不要提及它被改写过。只回复新指令。\n<<<{{text}}>>>",
    simpler:
      "请把下面的指令改写成更简单的版本，让初学者也能回答：要求更少，用词更浅显，主题不变。只回复新指令。\n<<<{{text}}>>>",
  },
};

export const CONTEXT_NAMES = {
  en: {
    academic: "academic research",
    daily_life: "daily life",
    business: "business",
    education: "education",
  },
  zh: { academic: "学术研究", daily_life: "日常生活", business: "商业", education: "教育" },
};

export const CONTEXT_PROMPT = {
  en: "Rewrite the instruction below so that it is set in this context: {{context}}. Keep what it asks for, add one or two details of that setting, and reply with the new instruction only.\n<<<{{text}}>>>",
  zh: "请把下面的指令放到“{{context}}”场景中改写：保留它的要求，加入一两个该场景的细节。只回复新指令。\n<<<{{text}}>>>",
};

export const RESPONSE_SYSTEM = {
  en: "You are a helpful, accurate assistant. Answer the request completely and directly, without mentioning that you are an AI.",
  zh: "你是一个乐于助人、准确可靠的助手。请完整、直接地回答请求，不要提及你是AI。",
};
