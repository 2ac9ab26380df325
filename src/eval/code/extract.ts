/**
 * The code in a model's answer, and its language.
 *
 * - No fence: the answer is the code (a HumanEval-style completion continues the prompt).
 * - Fences: the blocks tagged with the target language (untagged ones count as that language).
 *   With one block, that block. With several, when the entry point is known, the first block
 *   that defines it together with the blocks before it (imports and helpers come first in
 *   answers; later blocks are usage examples or tests, which would run against the checker's
 *   own tests); without an entry point, the longest block.
 * - The language is the suite row's `language`, else the first fence tag that names a
 *   supported language, else the suite format's default.
 */
export const CODE_LANGUAGES = ["python", "javascript", "typescript"] as const;
export type CodeLanguage = (typeof CODE_LANGUAGES)[number];

const TAGS: Record<string, CodeLanguage> = {
  py: "python",
  python: "python",
  python3: "python",
  js: "javascript",
  javascript: "javascript",
  node: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  ts: "typescript",
  typescript: "typescript",
  tsx: "typescript",
};

export function languageOfTag(tag: string): CodeLanguage | undefined {
  return TAGS[tag.trim().toLowerCase()];
}

interface Block {
  tag: string;
  code: string;
}

function fencedBlocks(answer: string): Block[] {
  const out: Block[] = [];
  const fence = /(^|\n)[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*?)\n[ \t]*\2[ \t]*(?=\n|$)/g;
  for (const m of answer.matchAll(fence)) out.push({ tag: m[3].toLowerCase(), code: m[4] });
  // an unterminated last fence (the answer was cut at max_tokens): its code runs to the end
  if (out.length === 0) {
    const open = /(^|\n)[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*)$/.exec(answer);
    if (open) out.push({ tag: open[3].toLowerCase(), code: open[4] });
  }
  return out;
}

function definesEntryPoint(code: string, entry: string, language: CodeLanguage): boolean {
  const name = entry.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re =
    language === "python"
      ? new RegExp(`^\\s*(?:async\\s+)?def\\s+${name}\\s*\\(|^\\s*${name}\\s*=`, "m")
      : new RegExp(
          `\\bfunction\\s*\\*?\\s*${name}\\s*[(<]|\\b(?:const|let|var)\\s+${name}\\b|\\bclass\\s+${name}\\b`,
        );
  return re.test(code);
}

export interface ExtractedCode {
  language: CodeLanguage;
  code: string;
}

/**
 * `language`: the row's language if it has one; `fallback`: the default of the suite format.
 */
export function extractCode(
  answer: string,
  opts: { language?: CodeLanguage; fallback: CodeLanguage; entryPoint?: string },
): ExtractedCode {
  const blocks = fencedBlocks(answer);
  const tagged = blocks.map((b) => languageOfTag(b.tag)).find((l) => l !== undefined);
  const language = opts.language ?? tagged ?? opts.fallback;
  if (blocks.length === 0) return { language, code: answer };
  const mine = blocks.filter((b) => b.tag === "" || languageOfTag(b.tag) === language);
  if (mine.length === 0) return { language, code: "" };
  if (mine.length === 1) return { language, code: mine[0].code };
  if (opts.entryPoint) {
    const at = mine.findIndex((b) => definesEntryPoint(b.code, opts.entryPoint!, language));
    if (at >= 0)
      return {
        language,
        code: mine
          .slice(0, at + 1)
          .map((b) => b.code)
          .join("\n"),
      };
  }
  return { language, code: mine.reduce((a, b) => (b.code.length > a.code.length ? b : a)).code };
}
