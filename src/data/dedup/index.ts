export {
  conversationOf,
  type DedupDecision,
  Deduplicator,
  type DedupStats,
  type DuplicateReason,
  dedupRecords,
  instructionOf,
} from "./dedup.js";
export { estimatedJaccard, MinHashLsh, optimalBands, shingleHashes } from "./minhash.js";
export { RougeFilter, type RougeMatch } from "./rouge-filter.js";
