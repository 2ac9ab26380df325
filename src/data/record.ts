/**
 * The record type lives at the bottom of the package (src/record/), below tokenize and
 * generate, so that they can use it without importing the data side. This path keeps the
 * data side's imports working; new code imports src/record/record.js.
 */
export * from "../record/record.js";
