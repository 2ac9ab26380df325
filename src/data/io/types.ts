import type { SftError } from "../../errors.js";

/** The container a dataset file uses; chosen from the file extension unless given. */
export type FileType = "jsonl" | "json" | "csv" | "parquet";
export const FILE_TYPES: readonly FileType[] = ["jsonl", "json", "csv", "parquet"];

/** One raw row read from a file, with where it came from. */
export interface RowItem {
  row: unknown;
  /** 1-based line where the row starts (for Parquet: the 1-based row number). */
  line: number;
  file: string;
}

/** A row that could not be read or converted, and why. */
export interface Reject {
  file: string;
  line: number;
  /** `field: what is wrong` (no file/line), as written to rejects files. */
  reason: string;
  /** The parsed row, or the raw line text when it could not be parsed. */
  row: unknown;
  error: SftError;
}

export interface ReadRowsOptions {
  fileType?: FileType;
  /**
   * Called for every row that cannot be read (malformed JSON, invalid UTF-8, bad CSV
   * record); reading then continues. Without it the first such row throws.
   */
  onReject?: (reject: Reject) => void;
}
