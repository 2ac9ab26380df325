export { normalizeForMatch } from "./normalize.js";
export { lcsLength, type RougeScore, rougeL, rougeLTokens } from "./rouge.js";
export { countLength, isCjkChar, isMostlyCjk, type LengthCount, ngrams, tokenize } from "./tokenize.js";
