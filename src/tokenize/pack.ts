/**
 * Packing and collation: the tensors the trainer hands to the engine.
 *
 * Packing puts several samples in one row (best-fit decreasing: longest first, each into the
 * row with the least room that still fits it). Position ids restart at 0 for every sample, and
 * each sample gets its own segment id so that the engine's attention never crosses samples.
 * Collation pads a batch of rows to the longest row rounded up to a multiple of 8; padded
 * positions get the pad id, label -100 and segment 0 (a segment of their own). Labels are
 * padded by position, never by comparing ids with the pad id — so a PAD that equals EOS
 * cannot mask a trained EOS.
 */
import { SftError } from "../errors.js";
import { IGNORE_INDEX } from "./mask.js";

/** What packing and collation need of a tokenized sample. */
export interface SampleTokens {
  id: string;
  inputIds: readonly number[];
  labels: readonly number[];
}

/** One row: one sample, or several packed ones. */
export interface PackedRow {
  inputIds: number[];
  labels: number[];
  /** Position ids, restarting at 0 for every sample. */
  positions: number[];
  /** Segment id per token: 1, 2, … for the samples of the row. */
  segments: number[];
  /** Ids of the samples, in order. */
  sampleIds: string[];
  /** Where each sample starts in the row. */
  sampleStarts: number[];
}

export interface PackReport {
  samples: number;
  rows: number;
  tokens: number;
  capacity: number;
  /** Pad tokens if every sample had its own row of `capacity` tokens. */
  paddingUnpacked: number;
  /** Pad tokens left in the packed rows (each row filled to `capacity`). */
  paddingPacked: number;
  paddingSaved: number;
  /** tokens / (rows × capacity). */
  fill: number;
}

function checkSample(s: SampleTokens): void {
  if (s.inputIds.length !== s.labels.length) {
    throw new SftError(`sample ${s.id}: ${s.inputIds.length} input ids but ${s.labels.length} labels`, {
      where: { field: `sample ${s.id}` },
      hint: "labels must be aligned with input_ids, one per token",
    });
  }
}

/** A row holding a single sample. */
export function singleRow(s: SampleTokens): PackedRow {
  checkSample(s);
  const n = s.inputIds.length;
  return {
    inputIds: [...s.inputIds],
    labels: [...s.labels],
    positions: Array.from({ length: n }, (_, i) => i),
    segments: new Array<number>(n).fill(1),
    sampleIds: [s.id],
    sampleStarts: [0],
  };
}

/**
 * Best-fit-decreasing packing into rows of at most `maxSeqLength` tokens. Samples longer than
 * that are an error (truncate them when tokenizing).
 */
export function packSamples(
  samples: readonly SampleTokens[],
  opts: { maxSeqLength: number },
): { rows: PackedRow[]; report: PackReport } {
  const cap = opts.maxSeqLength;
  if (!(cap > 0)) {
    throw new SftError(`max_seq_length must be positive, got ${cap}`, { where: { field: "max_seq_length" } });
  }
  const order = samples.map((_s, i) => i);
  for (const s of samples) {
    checkSample(s);
    if (s.inputIds.length > cap) {
      throw new SftError(`sample ${s.id} has ${s.inputIds.length} tokens, more than max_seq_length ${cap}`, {
        where: { field: `sample ${s.id}` },
        hint: "tokenize with maxSeqLength so long samples are truncated before packing",
      });
    }
  }
  // Longest first; ties keep input order so packing is deterministic.
  order.sort((a, b) => samples[b].inputIds.length - samples[a].inputIds.length || a - b);
  const bins: { used: number; members: number[] }[] = [];
  for (const i of order) {
    const len = samples[i].inputIds.length;
    let best = -1;
    let bestRoom = Number.POSITIVE_INFINITY;
    for (let b = 0; b < bins.length; b++) {
      const room = cap - bins[b].used;
      if (room >= len && room < bestRoom) {
        best = b;
        bestRoom = room;
        if (room === len) break;
      }
    }
    if (best < 0) bins.push({ used: len, members: [i] });
    else {
      bins[best].used += len;
      bins[best].members.push(i);
    }
  }
  const rows: PackedRow[] = bins.map((bin) => {
    const row: PackedRow = {
      inputIds: [],
      labels: [],
      positions: [],
      segments: [],
      sampleIds: [],
      sampleStarts: [],
    };
    bin.members.forEach((i, k) => {
      const s = samples[i];
      row.sampleStarts.push(row.inputIds.length);
      row.sampleIds.push(s.id);
      for (let t = 0; t < s.inputIds.length; t++) {
        row.inputIds.push(s.inputIds[t]);
        row.labels.push(s.labels[t]);
        row.positions.push(t);
        row.segments.push(k + 1);
      }
    });
    return row;
  });
  const tokens = samples.reduce((n, s) => n + s.inputIds.length, 0);
  const paddingUnpacked = samples.length * cap - tokens;
  const paddingPacked = rows.length * cap - tokens;
  return {
    rows,
    report: {
      samples: samples.length,
      rows: rows.length,
      tokens,
      capacity: cap,
      paddingUnpacked,
      paddingPacked,
      paddingSaved: paddingUnpacked - paddingPacked,
      fill: rows.length === 0 ? 0 : tokens / (rows.length * cap),
    },
  };
}

/** A batch in the engine's layout: [B*T] row-major Int32Arrays. */
export interface CollatedBatch {
  B: number;
  T: number;
  inputIds: Int32Array;
  labels: Int32Array;
  positions: Int32Array;
  /** 0 on padding, 1.. per sample within a row. */
  segments: Int32Array;
  /** Tokens whose label is not -100. */
  trainedTokens: number;
  sampleIds: string[][];
}

/** Pads rows (packed or single samples) to a common length, a multiple of `padToMultipleOf` (8). */
export function collate(
  rows: readonly (PackedRow | SampleTokens)[],
  opts: { padTokenId: number; padToMultipleOf?: number; maxSeqLength?: number },
): CollatedBatch {
  if (rows.length === 0) {
    throw new SftError("cannot collate an empty batch", { where: { field: "batch" } });
  }
  const packed = rows.map((r) => ("positions" in r ? r : singleRow(r)));
  const multiple = opts.padToMultipleOf ?? 8;
  const longest = Math.max(...packed.map((r) => r.inputIds.length));
  let T = Math.ceil(longest / multiple) * multiple;
  if (opts.maxSeqLength !== undefined && T > opts.maxSeqLength) T = Math.max(longest, opts.maxSeqLength);
  const B = packed.length;
  const inputIds = new Int32Array(B * T).fill(opts.padTokenId);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const positions = new Int32Array(B * T);
  const segments = new Int32Array(B * T);
  let trainedTokens = 0;
  packed.forEach((r, b) => {
    const base = b * T;
    for (let t = 0; t < r.inputIds.length; t++) {
      inputIds[base + t] = r.inputIds[t];
      labels[base + t] = r.labels[t];
      positions[base + t] = r.positions[t];
      segments[base + t] = r.segments[t];
      if (r.labels[t] !== IGNORE_INDEX) trainedTokens++;
    }
    // Padding keeps position 0 and segment 0: it attends only to padding, and its position
    // can never run past the model's rotary table.
  });
  return {
    B,
    T,
    inputIds,
    labels,
    positions,
    segments,
    trainedTokens,
    sampleIds: packed.map((r) => r.sampleIds),
  };
}
