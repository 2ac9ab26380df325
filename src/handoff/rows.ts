/**
 * Pre-tokenized rows for other trainers, built from the rows sftkit itself trains on (a single
 * sample or a packed row from src/tokenize/pack.ts), so ids, masks, truncation and packing are
 * the same token for token.
 *
 * - axolotl: Axolotl's custom pre-tokenized dataset (`datasets: [{ path, ds_type: json }]`
 *   with no `type:`): `input_ids`, `attention_mask` (all 1: no padding is stored), `labels`
 *   (-100 = not trained), and `position_ids` for packed rows, restarting at 0 at each packed
 *   sample so an engine with sample-aware attention (flash-attention varlen) keeps them apart.
 * - trl: what TRL's SFTTrainer (1.13) takes as an already-processed dataset (it recognises one
 *   by its `input_ids` column): `input_ids` and `labels`, used as they are, plus `seq_lengths`
 *   for packed rows (the length of each packed sample), from which its padding-free collator
 *   builds position ids that restart at every sample.
 *
 * Labels are aligned with input_ids as in Hugging Face (the model shifts them by one).
 */
import { SftError } from "../errors.js";
import type { PackedRow, SampleTokens } from "../tokenize/pack.js";

export const HANDOFF_FORMATS = ["axolotl", "trl"] as const;
export type HandoffFormat = (typeof HANDOFF_FORMATS)[number];

export interface AxolotlRow {
  input_ids: number[];
  attention_mask: number[];
  labels: number[];
  position_ids?: number[];
}

export interface TrlRow {
  input_ids: number[];
  labels: number[];
  seq_lengths?: number[];
}

export type HandoffRow = AxolotlRow | TrlRow;

/** Column names of a format, in the order rows hold them. */
export function handoffColumns(format: HandoffFormat, packed: boolean): string[] {
  if (format === "axolotl")
    return ["input_ids", "attention_mask", "labels", ...(packed ? ["position_ids"] : [])];
  return ["input_ids", "labels", ...(packed ? ["seq_lengths"] : [])];
}

/** One row in `format`; a packed row (one with positions) carries its position ids. */
export function toHandoffRow(format: HandoffFormat, row: PackedRow | SampleTokens): HandoffRow {
  if (row.inputIds.length !== row.labels.length)
    throw new SftError(`a row has ${row.inputIds.length} input ids but ${row.labels.length} labels`, {
      where: { field: "labels" },
      hint: "labels must be aligned with input_ids, one per token",
    });
  const inputIds = [...row.inputIds];
  const positions = "positions" in row ? [...row.positions] : undefined;
  if (format === "axolotl") {
    const out: AxolotlRow = {
      input_ids: inputIds,
      attention_mask: new Array<number>(inputIds.length).fill(1),
      labels: [...row.labels],
    };
    if (positions) out.position_ids = positions;
    return out;
  }
  const out: TrlRow = { input_ids: inputIds, labels: [...row.labels] };
  if ("sampleStarts" in row) {
    const ends = [...row.sampleStarts.slice(1), row.inputIds.length];
    out.seq_lengths = row.sampleStarts.map((start, k) => ends[k] - start);
  }
  return out;
}
