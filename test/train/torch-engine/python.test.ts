/** The interpreter checks of the torch engine: version order and the pins read from python/requirements.txt. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compareVersions, pinnedVersions } from "../../../src/train/torch-engine/python.js";

test("versions compare by release number, local tags ignored", () => {
  assert.equal(compareVersions("2.13.0+cpu", "2.13.0"), 0);
  assert.equal(compareVersions("1.13.1", "2.13.0"), -1);
  assert.equal(compareVersions("5.17.0", "5.9"), 1);
  assert.equal(compareVersions("3.10", "3.10.0"), 0);
});

test("the pins come from the shipped python/requirements.txt, torch exactly", () => {
  const pins = pinnedVersions();
  for (const name of ["torch", "transformers", "peft", "safetensors"])
    assert.match(pins[name] ?? "", /^\d+\.\d+/, `${name} is pinned`);
});
