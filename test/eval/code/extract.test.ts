import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { extractCode } from "../../../src/eval/code/extract.js";

describe("code extraction", () => {
  it("a fence-less answer is the code, in the fallback language", () => {
    assert.deepEqual(extractCode("    return a + b\n", { fallback: "python" }), {
      language: "python",
      code: "    return a + b\n",
    });
  });

  it("the fence tag picks the language unless the row names one", () => {
    const answer = "Sure:\n```ts\nconst x: number = 1;\n```\n";
    assert.equal(extractCode(answer, { fallback: "javascript" }).language, "typescript");
    assert.equal(
      extractCode(answer, { fallback: "javascript", language: "typescript" }).code,
      "const x: number = 1;",
    );
    assert.equal(extractCode("```py\nx = 1\n```", { fallback: "javascript" }).language, "python");
  });

  it("with several fences: helpers before the entry point are kept, usage examples after it dropped", () => {
    const answer = [
      "Imports first:",
      "```python\nimport math\n```",
      "The function:",
      "```python\ndef area(r):\n    return math.pi * r * r\n```",
      "Usage:",
      "```python\nprint(area(2))\nassert area(1) == 3\n```",
    ].join("\n");
    const { code } = extractCode(answer, { fallback: "python", entryPoint: "area" });
    assert.equal(code, "import math\ndef area(r):\n    return math.pi * r * r");
  });

  it("without an entry point the longest block wins; blocks of another language are ignored", () => {
    const answer =
      "```bash\npip install x\n```\n```python\nx = 1\n```\n```python\ndef f():\n    return 2\n```";
    assert.equal(extractCode(answer, { fallback: "python" }).code, "def f():\n    return 2");
  });

  it("an unterminated fence (cut at max_tokens) runs to the end", () => {
    assert.equal(
      extractCode("```js\nfunction f() { return 1; }\n", { fallback: "python" }).code,
      "function f() { return 1; }\n",
    );
  });
});
