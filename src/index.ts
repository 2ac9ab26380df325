/** sftkit's library entry point: the same capabilities as the `sft` CLI, typed. */

export type { Message, RecordMeta, Role, SftRecord, ToolCall } from "./data/record.js";
export { messageSchema, sftRecordSchema } from "./data/record.js";
export type { Architecture, ModelConfig } from "./engine/config.js";
export type { Tensor, TensorMap } from "./engine/tensor.js";
export { isSftError, SftError } from "./errors.js";
