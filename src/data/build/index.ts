export { makeRng, sample, seedFrom, shuffled } from "../../util/rng.js";
export {
  BudgetSpent,
  type BuildProgress,
  type BuildResult,
  type BuildRuntime,
  buildInstructionData,
  jobUsageSaver,
  proposalProblem,
  type RejectedRow,
  rejectKind,
  rejectsPathFor,
  statePathFor,
} from "./builder.js";
export { runSlots, type SlotJobProgress } from "./job.js";
export {
  defaultPrompts,
  type Language,
  type PromptSet,
  parseInstructionReply,
  renderPrompt,
  userTurn,
} from "./prompts.js";
export { loadSeedTasks, type SeedTask } from "./seeds.js";
