/** Assertion helper for the failure paths: every user-facing failure must be an SftError. */
import assert from "node:assert/strict";
import { SftError } from "../../src/errors.js";

/** Runs `fn`, asserts it throws an SftError, and returns that error for further checks. */
export function errorOf(fn: () => unknown): SftError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SftError, `expected SftError, got ${e}`);
    return e;
  }
  assert.fail("expected an error");
}
