/**
 * The one record type that flows through the whole package (see docs: "The data flow").
 * Every input format is converted into it on read and out of it on write; tokenize, train,
 * generate and eval take it as is. The bottom layer: imports nothing from the package.
 */
import { z } from "zod";

export const ROLES = ["system", "user", "assistant", "tool"] as const;
export type Role = (typeof ROLES)[number];

export const toolCallSchema = z.object({
  id: z.string().optional(),
  type: z.literal("function").default("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof toolCallSchema>;

export const messageSchema = z.object({
  role: z.enum(ROLES),
  content: z.string(),
  /** Whether this turn's tokens are trained. Absent: the default policy decides (assistant turns). */
  train: z.boolean().optional(),
  /** Tool calls made by an assistant turn (OpenAI shape). */
  tool_calls: z.array(toolCallSchema).optional(),
  /** For role "tool": the call this message answers, and/or the tool's name. */
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});
export type Message = z.infer<typeof messageSchema>;

/**
 * Where a record came from when it was read from a dataset file, so that writing it back in
 * its own format reproduces the source rows field by field. `derived` names the record
 * fields sftkit made up (not in the source row); `layout` holds format-specific shape hints
 * (e.g. how an Alpaca `input` was joined into the user turn). Writers use these hints only
 * while they still match the record's content.
 */
export const originSchema = z
  .object({
    format: z.string(),
    derived: z.array(z.enum(["id", "source"])).optional(),
    layout: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown());
export type RecordOrigin = z.infer<typeof originSchema>;

export const metaSchema = z
  .object({
    task: z.string().optional(),
    topic: z.string().optional(),
    type: z.string().optional(),
    difficulty: z.string().optional(),
    style: z.string().optional(),
    domain: z.string().optional(),
    source: z.string().default("unknown"),
    quality: z.number().optional(),
    parent: z.string().optional(),
    augmentation: z.string().optional(),
    /** Tool/function schemas offered to the model in this conversation (JSON strings or objects). */
    tools: z.unknown().optional(),
    origin: originSchema.optional(),
  })
  .catchall(z.unknown());
export type RecordMeta = z.infer<typeof metaSchema>;

export const sftRecordSchema = z.object({
  id: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  meta: metaSchema.default({ source: "unknown" }),
});
export type SftRecord = z.infer<typeof sftRecordSchema>;
