import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { exportModel } from "../../../src/engine/checkpoint/export.js";
import { quantizeQ8_0, readGgufMetadata } from "../../../src/engine/checkpoint/gguf.js";
import { DEQUANTISERS } from "../../../src/engine/checkpoint/gguf-quant.js";
import { quantizeQ4_0 } from "../../../src/engine/checkpoint/gguf-quantize.js";
import { loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import { encodeBF16, encodeF16 } from "../../../src/engine/checkpoint/numeric.js";
import { ggufWriterOf } from "../../../src/engine/models/registry.js";
import type { Tensor } from "../../../src/engine/tensor.js";
import { FAMILY_CASES } from "../../helpers/families.js";
import { randomModelDir } from "../../helpers/random-model.js";

const dir = mkdtempSync(join(tmpdir(), "sft-gguf-model-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What a tensor stored as `type` reads back as: the writer's encoding, then the reader's decoding. */
function stored(data: Float32Array, type: string): Float32Array {
  if (type === "F32") return data;
  let bytes: Uint8Array;
  if (type === "F16" || type === "BF16") {
    bytes = new Uint8Array(data.length * 2);
    (type === "F16" ? encodeF16 : encodeBF16)(data, bytes);
  } else bytes = type === "Q8_0" ? quantizeQ8_0(data) : quantizeQ4_0(data);
  const out = new Float32Array(data.length);
  DEQUANTISERS[type](bytes, out);
  return out;
}

const TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0"];

for (const c of FAMILY_CASES) {
  test(`GGUF export → import round-trips ${c.name} in ${TYPES.join(", ")}`, () => {
    const name = c.name.split(" ")[0];
    const { dir: modelDir, tensors } = randomModelDir(join(dir, name), c.config, c.tokenizerDir);
    const mapping = ggufWriterOf(c.config);
    const tj = JSON.parse(readFileSync(join(c.tokenizerDir, "tokenizer.json"), "utf8"));
    for (const type of TYPES) {
      const out = join(dir, `${name}-${type}.gguf`);
      exportModel({ model: modelDir, out, format: "gguf", dtype: type });
      const h = readGgufMetadata(out);
      const m = h.metadata;
      assert.equal(m["general.architecture"], mapping?.arch);
      assert.equal(m["tokenizer.ggml.model"], c.pre ? "gpt2" : "llama");
      assert.equal(m["tokenizer.ggml.pre"], c.pre ?? undefined);
      const tokens = m["tokenizer.ggml.tokens"] as string[];
      assert.equal(tokens.length, c.config.vocabSize);
      if (c.pre) {
        const merges = m["tokenizer.ggml.merges"] as string[];
        const want = (tj.model.merges as (string | string[])[]).map((x) =>
          Array.isArray(x) ? x.join(" ") : x,
        );
        assert.deepEqual(merges, want);
        for (const a of tj.added_tokens as { id: number; content: string; special: boolean }[]) {
          assert.equal(tokens[a.id], a.content);
          assert.equal((m["tokenizer.ggml.token_type"] as number[])[a.id], a.special ? 3 : 4, a.content);
        }
        for (const [piece, id] of Object.entries(tj.model.vocab as Record<string, number>))
          assert.equal(tokens[id], piece);
      }
      const back = loadCheckpoint(out);
      assert.deepEqual(
        { ...back.config, modelType: c.config.modelType },
        c.config,
        `${type}: config read back`,
      );
      assert.equal(back.tensors.size, tensors.size);
      for (const [tName, t] of tensors) {
        const got = back.tensors.get(tName);
        assert.ok(got, tName);
        assert.deepEqual(got.shape, t.shape, tName);
        // 1-D tensors stay F32; matrices are stored as `type` in llama.cpp's layout.
        let want: Float32Array = t.data;
        if (t.shape.length === 2 && mapping) {
          const g: Tensor = mapping.toGgufLayout ? mapping.toGgufLayout(tName, t, c.config) : t;
          const s = { ...g, data: stored(g.data, type), dtype: "F32" as const };
          want = (mapping.fromGgufLayout ? mapping.fromGgufLayout(tName, s, c.config) : s).data;
        }
        assert.deepEqual(got.data, want, `${type}: ${tName}`);
      }
    }
  });
}
