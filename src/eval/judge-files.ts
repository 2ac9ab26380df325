/** The inputs of `sft eval judge`: two response files paired by prompt text. */
import { SftError } from "../errors.js";
import { readJsonl } from "./io/jsonl.js";

/** Pairs base and SFT responses by prompt text (every base prompt must have an SFT answer). */
export async function pairResponses(
  baseFile: string,
  sftFile: string,
): Promise<{ id: string; prompt: string; base: string; sft: string }[]> {
  const read = async (file: string) => {
    const rows: { id: string; prompt: string; response: string; line: number }[] = [];
    for (const { value, line } of await readJsonl(file)) {
      const v = value as { id?: unknown; prompt?: unknown; instruction?: unknown; response?: unknown };
      const prompt = typeof v.prompt === "string" ? v.prompt : v.instruction;
      if (typeof prompt !== "string" || typeof v.response !== "string")
        throw new SftError("a judged row needs a string prompt (or instruction) and a string response", {
          where: { file, line },
        });
      rows.push({ id: v.id === undefined ? `${line}` : String(v.id), prompt, response: v.response, line });
    }
    return rows;
  };
  const base = await read(baseFile);
  const sft = new Map((await read(sftFile)).map((r) => [r.prompt, r.response]));
  return base.map((b) => {
    const s = sft.get(b.prompt);
    if (s === undefined)
      throw new SftError("this prompt has no response in the fine-tuned file", {
        where: { file: baseFile, line: b.line },
        hint: `add a row with the same prompt to ${sftFile}`,
      });
    return { id: b.id, prompt: b.prompt, base: b.response, sft: s };
  });
}
