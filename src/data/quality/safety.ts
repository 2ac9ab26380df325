/**
 * Safety: configurable blocklists and patterns, and an optional LLM moderation check.
 * Blocked words match whole words in space-separated scripts — a naive substring match
 * flags "class" for "ass" or "Scunthorpe" — and as substrings in CJK text, which has no
 * word boundaries. Matching is case-insensitive and NFKC-normalised (full-width letters
 * and ligatures cannot hide a word).
 */
import { readFileSync } from "node:fs";
import { SftError } from "../../errors.js";
import type { LlmBackend } from "../../llm/types.js";
import { isCjkChar } from "../../text/tokenize.js";

export interface SafetyResult {
  ok: boolean;
  score: number;
  reasons: string[];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class SafetyChecker {
  private readonly matchers: Array<{ label: string; re: RegExp }> = [];

  constructor(
    opts: { blocklist?: string[]; blocklist_files?: string[]; patterns?: string[] },
    private readonly moderator?: LlmBackend,
  ) {
    const words = [...(opts.blocklist ?? [])];
    for (const f of opts.blocklist_files ?? []) {
      let text: string;
      try {
        text = readFileSync(f, "utf8");
      } catch (e) {
        throw new SftError(`cannot read blocklist file ${f}: ${(e as Error).message}`, {
          where: { file: f, field: "safety.blocklist_files" },
          hint: "one word or phrase per line; lines starting with # are comments",
        });
      }
      for (const line of text.split("\n")) {
        const w = line.trim();
        if (w && !w.startsWith("#")) words.push(w);
      }
    }
    for (const w of words) {
      const n = w.normalize("NFKC").toLowerCase();
      const body = escapeRegex(n).replace(/\s+/g, "\\s+");
      const cjk = [...n].some(isCjkChar);
      this.matchers.push({
        label: `blocked word "${w}"`,
        re: cjk ? new RegExp(body, "u") : new RegExp(`(?<![\\p{L}\\p{N}])${body}(?![\\p{L}\\p{N}])`, "u"),
      });
    }
    (opts.patterns ?? []).forEach((p, i) => {
      try {
        this.matchers.push({ label: `blocked pattern /${p}/`, re: new RegExp(p, "iu") });
      } catch (e) {
        throw new SftError(`invalid regular expression: ${(e as Error).message}`, {
          where: { field: `safety.patterns.${i}` },
          hint: "use JavaScript regular expression syntax",
        });
      }
    });
  }

  /** Blocklist and pattern hits in the text. */
  scan(text: string): string[] {
    const t = text.normalize("NFKC").toLowerCase();
    return this.matchers.filter((m) => m.re.test(t)).map((m) => m.label);
  }

  async check(instruction: string, response: string): Promise<SafetyResult> {
    const reasons = [...new Set([...this.scan(instruction), ...this.scan(response)])];
    if (this.moderator) {
      const verdict = await moderate(this.moderator, instruction, response);
      if (verdict) reasons.push(`moderation: ${verdict}`);
    }
    return { ok: reasons.length === 0, score: reasons.length === 0 ? 1 : 0, reasons };
  }
}

const MODERATION_PROMPT =
  "You are a content safety moderator. Read the conversation below and reply with exactly SAFE, or UNSAFE: <category> if it contains content that helps cause serious harm (weapons, violence, self-harm, sexual content involving minors, hate, crime).";

/** Asks the moderation LLM; returns the category when it says UNSAFE. */
export async function moderate(
  backend: LlmBackend,
  instruction: string,
  response: string,
): Promise<string | undefined> {
  const r = await backend.chat(
    [
      { role: "system", content: MODERATION_PROMPT },
      { role: "user", content: `User: ${instruction}\n\nAssistant: ${response}` },
    ],
    { temperature: 0, max_tokens: 20 },
  );
  const text = r.choices[0].text.trim();
  if (/^unsafe/i.test(text)) return text.replace(/^unsafe\s*:?\s*/i, "") || "unsafe";
  return undefined;
}
