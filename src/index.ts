/** sftkit's library entry point: the same capabilities as the `sft` CLI, typed. */

export type { AugmentConfig } from "./config/augment.js";
export { augmentConfigSchema } from "./config/augment.js";
export type {
  BalanceConfig,
  BuildConfig,
  DedupConfig,
  EmbeddingConfig,
  LlmConfig,
  QualityConfig,
} from "./config/build.js";
export {
  balanceConfigSchema,
  buildConfigSchema,
  dedupConfigSchema,
  llmConfigSchema,
  qualityConfigSchema,
} from "./config/build.js";
export type { EvalConfig, GenerationSettings, GeneratorConfig } from "./config/eval.js";
export { evalConfigSchema, readEvalConfig, validateEvalConfig } from "./config/eval.js";
export type { ConfigProblem, LoadOptions, PathField } from "./config/load.js";
export { ConfigError, loadConfig } from "./config/load.js";
export type { TrainConfig, TrainConfigInput } from "./config/train.js";
export {
  loadTrainConfig,
  resolveTrainConfig,
  trainConfigSchema,
  validateTrainConfig,
} from "./config/train.js";
export type { AugmentResult } from "./data/augment/index.js";
export { augmentRecords } from "./data/augment/index.js";
export type { BalanceReport } from "./data/balance.js";
export { balanceRecords } from "./data/balance.js";
export type { BuildResult } from "./data/build/index.js";
export { buildInstructionData } from "./data/build/index.js";
export type { DedupDecision } from "./data/dedup/index.js";
export { Deduplicator, dedupRecords, MinHashLsh, RougeFilter } from "./data/dedup/index.js";
export type { ColumnMapping, FormatName } from "./data/formats/index.js";
export { detectFormat, FORMAT_NAMES, parseColumnMapping, recordToRow } from "./data/formats/index.js";
export type {
  FileType,
  ReadRecordsOptions,
  Reject,
  RowItem,
  WriteRecordsOptions,
} from "./data/io/index.js";
export { readRecords, readRows, writeJsonl, writeRecords, writeRows } from "./data/io/index.js";
export type { QualityReport } from "./data/quality/index.js";
export {
  checkCompleteness,
  checkLength,
  checkRecords,
  lexicalRelevance,
  QualityChecker,
  SafetyChecker,
} from "./data/quality/index.js";
export type { DatasetStats, Percentiles } from "./data/stats.js";
export { computeStats, formatStats } from "./data/stats.js";
export type { DiversityReport, Taxonomy } from "./data/taxonomy/index.js";
export { DEFAULT_TAXONOMY, diversityReport, loadTaxonomy } from "./data/taxonomy/index.js";
export type { ValidationReport } from "./data/validate.js";
export { recordProblems, validateFile } from "./data/validate.js";
export type { ExportOptions } from "./engine/checkpoint/export.js";
export { exportModel } from "./engine/checkpoint/export.js";
export type { GgufTokenizerInfo, GgufValue } from "./engine/checkpoint/gguf.js";
export { readGguf, readGgufMetadata, readGgufTokenizer, writeGguf } from "./engine/checkpoint/gguf.js";
export type { LoadedCheckpoint } from "./engine/checkpoint/hf.js";
export {
  convertToHfDir,
  loadCheckpoint,
  parseHfConfig,
  saveGgufModel,
  saveHfModel,
  toHfConfig,
} from "./engine/checkpoint/hf.js";
export { hfTokenizerFromGguf } from "./engine/checkpoint/hf-tokenizer.js";
export type { LoraAdapter, PeftLoraConfig } from "./engine/checkpoint/peft.js";
export { mergeLora, readPeftAdapter, writePeftAdapter } from "./engine/checkpoint/peft.js";
export { readSafetensors, readSafetensorsSync, writeSafetensors } from "./engine/checkpoint/safetensors.js";
export type { Architecture, ModelConfig } from "./engine/config.js";
export type {
  FinishReason,
  GeneratedSequence,
  GenerateTokensOptions,
  GenerationTiming,
} from "./engine/generate.js";
export { generateTokens } from "./engine/generate.js";
export type { LoadedModel, LoadModelOptions } from "./engine/load.js";
export { loadModel } from "./engine/load.js";
export type { LoraOptions } from "./engine/lora.js";
export { LORA_TARGETS } from "./engine/lora.js";
export type { Batch, CreateModelOptions, KVCache, LossResult } from "./engine/model.js";
export { createModel, initRandom, Model } from "./engine/model.js";
export type { Param } from "./engine/params.js";
export { adamwStep, OptimizerState } from "./engine/params.js";
export type { SamplingOptions } from "./engine/sampling.js";
export type { Tensor, TensorMap } from "./engine/tensor.js";
export { isSftError, SftError } from "./errors.js";
export type { CheckerName, CheckerOptions, CheckResult } from "./eval/checkers/checkers.js";
export { CHECKERS, runChecker } from "./eval/checkers/checkers.js";
export type { FormatAnalysis, PerplexityScorer } from "./eval/format.js";
export { analyzeFormats } from "./eval/format.js";
export type {
  BackendGeneratorOptions,
  GenerationRequest,
  GeneratorContext,
  GeneratorKind,
  ResponseGenerator,
} from "./eval/generators.js";
export { BackendGenerator, PrecomputedGenerator, registerGeneratorKind } from "./eval/generators.js";
export type { IfevalResult } from "./eval/ifeval/evaluate.js";
export { evaluateIfeval, runIfevalFiles, scoreIfevalPrompt } from "./eval/ifeval/evaluate.js";
export { INSTRUCTION_IDS } from "./eval/ifeval/instructions.js";
export { detectLanguage } from "./eval/ifeval/language.js";
export type { IfScoreParts } from "./eval/ifscore.js";
export { IF_WEIGHTS, instructionFollowingScore } from "./eval/ifscore.js";
export type { JudgeSummary } from "./eval/judge.js";
export { judgePairs } from "./eval/judge.js";
export { corpusBleu, sentenceBleu } from "./eval/metrics/bleu.js";
export { chrf } from "./eval/metrics/chrf.js";
export { LocalPerplexityScorer } from "./eval/perplexity-local.js";
export { renderReportHtml, writeReport } from "./eval/report/index.js";
export type { EvalResult, RunEvalOptions, SampleResult, TaskResult } from "./eval/runner.js";
export { registerPerplexityScorerFactory, runEvaluation, runEvaluationFile } from "./eval/runner.js";
export type { EvalItem } from "./eval/suite.js";
export { readSuite } from "./eval/suite.js";
export type {
  GeneratedText,
  GenerationInput,
  LocalModelSpec,
  TextGenerationOptions,
} from "./generate/index.js";
export { LocalLanguageModel } from "./generate/index.js";
export type {
  BatchOptions,
  ChatMessage,
  EmbeddingBackend,
  GenerationOptions,
  GenerationResult,
  LlmBackend,
  LlmPrompt,
  LocalBackendOptions,
  UsageSummary,
} from "./llm/index.js";
export {
  answerAll,
  CachedBackend,
  createEmbeddingBackend,
  createLlmBackend,
  LlmStore,
  LocalBackend,
  OpenAiBackend,
  UsageMeter,
} from "./llm/index.js";
export type {
  QuickstartHeadline,
  QuickstartOptions,
  QuickstartReport,
  QuickstartResult,
  QuickstartSummary,
} from "./quickstart/index.js";
export { BUILTIN_MODEL_DIR, runQuickstart } from "./quickstart/index.js";
export type { Message, RecordMeta, Role, SftRecord, ToolCall } from "./record/record.js";
export { messageSchema, sftRecordSchema } from "./record/record.js";
export { countLength, normalizeForMatch, rougeL, tokenize as tokenizeWords } from "./text/index.js";
export type {
  CollatedBatch,
  MaskPolicy,
  PackedRow,
  PreflightReport,
  TextTokenizer,
  TokenizedSample,
  TokenizeOptions,
} from "./tokenize/index.js";
export {
  collate,
  createRenderer,
  IGNORE_INDEX,
  loadTokenizer,
  packSamples,
  preflight,
  renderGenerationPrompt,
  renderRecord,
  SampleRejectedError,
  tokenizeRecord,
  tryTokenizeRecord,
} from "./tokenize/index.js";
export type { LogEntry, TrainerState, TrainHooks, TrainResult, TrainRunResult } from "./train/index.js";
export { resumeTraining, train } from "./train/index.js";
export type { TorchEngineOptions, TorchTrainResult } from "./train/torch-engine/index.js";
export { resumeWithTorch, trainWithTorch } from "./train/torch-engine/index.js";
