/**
 * Streaming dataset I/O: raw rows (readRows / writeRows / writeJsonl) and SFT records
 * (readRecords / writeRecords) in JSONL, JSON array, CSV and Parquet files.
 */
export type { ConvertedRow, ReadRecordsOptions, WriteRecordsOptions } from "./records.js";
export { readConvertedRows, readRecords, writeRecords } from "./records.js";
export type { RowSource, WriteRowsOptions } from "./rows.js";
export { fileTypeOf, readRows, writeJsonl, writeRows } from "./rows.js";
export type { FileType, ReadRowsOptions, Reject, RowItem } from "./types.js";
export { FILE_TYPES } from "./types.js";
