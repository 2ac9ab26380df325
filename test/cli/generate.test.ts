/** `sft generate --show-tokens`: the ids and vocabulary pieces of prompt and response, and the speed line. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";

const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const stories = join(repo, "assets/models/stories260K");

test("--show-tokens prints prompt and response ids with their pieces; prompt/decode tokens/s at the end", async () => {
  const r = spawnSync(
    process.execPath,
    [
      join(repo, "bin/sft.js"),
      "generate",
      "--model",
      stories,
      "--raw",
      "--prompt",
      "Once upon",
      "--max-new-tokens",
      "6",
      "--show-tokens",
    ],
    { encoding: "utf8", cwd: repo },
  );
  assert.equal(r.status, 0, r.stderr);
  // greedy stories260K: "Once upon a time, there was"
  assert.equal(r.stdout, "a time, there was a\n");
  const tok = await loadTokenizer(stories);
  const promptIds = [tok.bosTokenId as number, ...tok.encode("Once upon")];
  const responseIds = tok.encode("a time, there was a");
  const pieces = (ids: number[]) => ids.map((id) => `${id} ${JSON.stringify(tok.idToToken(id))}`).join(", ");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines[0], `[prompt] prompt tokens (${promptIds.length}): [${pieces(promptIds)}]`);
  assert.equal(
    lines[1],
    `[prompt] response tokens (${responseIds.length}, length): [${pieces(responseIds)}]`,
  );
  assert.match(lines[0], /1 "<s>", 403 "▁Once", 407 "▁upon"/);
  assert.match(
    lines[2],
    /^prompt 3 tokens in \d+\.\d\d s \(\d+ tokens\/s\); decode 6 tokens in \d+\.\d\d s( \(\d+ tokens\/s\))?$/,
  );
  // without the flag: only the speed line on stderr
  const plain = spawnSync(
    process.execPath,
    [
      join(repo, "bin/sft.js"),
      "generate",
      "--model",
      stories,
      "--raw",
      "--prompt",
      "Once upon",
      "--max-new-tokens",
      "6",
    ],
    { encoding: "utf8", cwd: repo },
  );
  assert.equal(plain.stdout, r.stdout);
  assert.match(plain.stderr, /^prompt 3 tokens in .* tokens\/s.*; decode 6 tokens/);
  assert.equal(plain.stderr.trim().split("\n").length, 1);
});
