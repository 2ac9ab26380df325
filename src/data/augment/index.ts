export {
  type AugmentResult,
  type AugmentRuntime,
  augmentRecords,
  cleanRewrite,
  paraphraseProblem,
} from "./augmenter.js";
export { type FormatVariant, formatVariant } from "./format.js";
