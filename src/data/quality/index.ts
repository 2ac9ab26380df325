export {
  type CompletenessOptions,
  type CompletenessResult,
  checkCompleteness,
  listItemCount,
  requestedItemCount,
} from "./completeness.js";
export { checkLength, type LengthResult, type LengthRule } from "./length.js";
export {
  checkRecords,
  instructionAndResponse,
  QualityChecker,
  type QualityDecision,
  type QualityParts,
  type QualityReport,
  type QualityRuntime,
} from "./quality.js";
export {
  keyTerms,
  type LexicalRelevance,
  lexicalRelevance,
  lightStem,
  type RelevanceResult,
  relevance,
} from "./relevance.js";
export { moderate, SafetyChecker, type SafetyResult } from "./safety.js";
