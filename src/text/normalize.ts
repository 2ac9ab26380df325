/**
 * Normalisation for exact-duplicate detection: Unicode NFKC (full-width → ASCII forms),
 * lower case, punctuation and symbols removed, runs of whitespace collapsed. Two texts that
 * differ only in case, spacing, punctuation or full/half width normalise to the same string.
 */
export function normalizeForMatch(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, " ")
    .replace(/\s+/gu, " ")
    .trim();
}
