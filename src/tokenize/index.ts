/**
 * sftkit/tokenize — from records to the tensors the trainer feeds the engine.
 *
 *   const tok = await loadTokenizer("models/Qwen3-0.6B");        // or "model.gguf"
 *   const s = tokenizeRecord(record, tok, { chatTemplate: true, maxSeqLength: 2048 });
 *   // s.inputIds, s.labels (aligned; -100 = not trained), s.text, s.truncated
 *   const { rows, report } = packSamples(samples, { maxSeqLength: 2048 });
 *   const batch = collate(rows.slice(0, 4), { padTokenId: tok.padTokenId });
 *   // batch.B, batch.T, batch.inputIds / labels / positions / segments: Int32Array [B*T]
 *   const check = await preflight(records, tok, { chatTemplate: true, pack: true, maxSeqLength: 2048 });
 *   const prompt = renderGenerationPrompt(record, tok, { chatTemplate: true }); // for generation/eval
 *
 * - loadTokenizer(pathOrDir): a Hugging Face directory (tokenizer.json + tokenizer_config.json)
 *   or a GGUF file's SentencePiece vocabulary, behind one TextTokenizer interface (encode,
 *   decode, BOS/EOS/PAD ids, special tokens, the Jinja chat template).
 * - Templates: `{ template: NAME | FILE.yaml[#name] | spec }` for segment templates (alpaca,
 *   vicuna, chinese, simple, multi-turn, task, cot, qa, summarization, translation,
 *   classification, generation, task-aware), `{ chatTemplate: true | JINJA }` for the
 *   tokenizer's chat template. Neither: the chat template if the tokenizer has one, else alpaca.
 * - renderRecord / tokenizeRecord / tryTokenizeRecord: text, then tokens and token-exact labels
 *   (mask policies all_assistant, last_assistant, include_prompt; per-message `train` flags);
 *   a record with nothing to train throws SampleRejectedError (tryTokenizeRecord returns it).
 * - packSamples (best-fit decreasing, positions restart, one segment per sample) and collate
 *   (pad to a multiple of 8, labels -100, segment 0 on padding).
 * - preflight / checkSample / checkPacking: the pre-flight checks, each failure naming the
 *   record and its tokens.
 * - renderTerminal / renderHtml: views with trained tokens highlighted.
 */
export { ChatTemplateRenderer, toolsFromMeta } from "./chat-template.js";
export { describeLostContent, findLostContent, type LostContent, type LostKind } from "./content-loss.js";
export {
  type BoundaryIssue,
  IGNORE_INDEX,
  LOST_CONTENT_POLICIES,
  type LostContentPolicy,
  MASK_POLICIES,
  type MaskPolicy,
  type RejectionKind,
  renderGenerationPrompt,
  renderRecord,
  SampleRejectedError,
  type TokenizedSample,
  type TokenizeOptions,
  type TokenizeResult,
  TRUNCATIONS,
  type TrainedSpan,
  type Truncation,
  tokenizeRecord,
  tryTokenizeRecord,
} from "./mask.js";
export {
  type CollatedBatch,
  collate,
  type PackedRow,
  type PackReport,
  packSamples,
  type SampleTokens,
  singleRow,
} from "./pack.js";
export {
  checkPacking,
  checkSample,
  PREFLIGHT_CHECKS,
  type PreflightCheck,
  type PreflightFailure,
  type PreflightOptions,
  type PreflightReport,
  preflight,
  showTokens,
} from "./preflight.js";
export type {
  ConversationInput,
  ConversationRenderer,
  GenerationPromptOptions,
  RenderedConversation,
  RenderedTurn,
} from "./render-types.js";
export { createRenderer, type TemplateChoice } from "./renderer.js";
export {
  BUILTIN_TEMPLATES,
  builtinTemplateNames,
  loadTemplateFile,
  type SegmentTemplateSpec,
  segmentTemplateSchema,
  TASK_AWARE_TEMPLATES,
} from "./templates.js";
export {
  type DecodeOptions,
  type EncodeOptions,
  type LoadTokenizerOptions,
  loadTokenizer,
  type TextTokenizer,
} from "./tokenizer.js";
export { renderHtml, renderTerminal, type TokenPiece, tokenPieces } from "./view.js";
