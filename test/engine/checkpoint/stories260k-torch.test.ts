import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { convertToHfDir } from "../../../src/engine/checkpoint/hf.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const storiesGguf = resolve(repoRoot, "../shared/models/stories260K/stories260K.gguf");
const python = "/usr/bin/python3";
const hasTorch = existsSync(python) && spawnSync(python, ["-c", "import torch, numpy"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "sft-torch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("an independent PyTorch Llama greedily decodes the story opening from the converted HF weights", {
  skip: hasTorch ? false : "Debian python3-torch is not installed (apt-get install -y python3-torch)",
}, () => {
  const out = join(dir, "stories260K");
  convertToHfDir(storiesGguf, out, { dtype: "F32" });
  const res = spawnSync(python, [join(repoRoot, "tools/check_stories260k.py"), storiesGguf, out], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(
    res.stdout,
    /OK {2}sftkit HF weights, rotate-half RoPE: 'Once upon a time, there was a little girl named Lily\. She loved to play outside in the park/,
  );
});
