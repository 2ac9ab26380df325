/**
 * HumanEval- and MBPP-format suites written for these tests: their canonical solutions pass,
 * broken variants fail, and hostile answers are contained and scored 0 with the reason.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SftError } from "../../../src/errors.js";
import { scoreModel } from "../../../src/eval/runner.js";
import { type EvalItem, readSuite } from "../../../src/eval/suite.js";
import { skipWithoutPython, TEST_PYTHON } from "./python-available.js";

const dir = mkdtempSync(join(tmpdir(), "sft-code-formats-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const humanEval = [
  {
    task_id: "Mini/0",
    prompt:
      'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    """\n',
    canonical_solution: "    return a + b\n",
    test: "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-4, 4) == 0\n    assert candidate(10, -3) == 7\n",
    entry_point: "add",
    broken: "    return a - b\n",
  },
  {
    task_id: "Mini/1",
    prompt:
      'from typing import List\n\n\ndef running_max(xs: List[int]) -> List[int]:\n    """The maximum of each prefix of xs.\n    >>> running_max([1, 3, 2, 5])\n    [1, 3, 3, 5]\n    """\n',
    canonical_solution:
      "    out = []\n    best = None\n    for x in xs:\n        best = x if best is None else max(best, x)\n        out.append(best)\n    return out\n",
    test: "def check(candidate):\n    assert candidate([]) == []\n    assert candidate([1, 3, 2, 5]) == [1, 3, 3, 5]\n    assert candidate([-1, -5, -2]) == [-1, -1, -1]\n",
    entry_point: "running_max",
    broken: "    return sorted(xs)\n",
  },
  {
    task_id: "Mini/2",
    prompt:
      'def is_palindrome(text: str) -> bool:\n    """Whether text reads the same backwards, ignoring case.\n    >>> is_palindrome("Anna")\n    True\n    """\n',
    canonical_solution: "    t = text.lower()\n    return t == t[::-1]\n",
    test: "def check(candidate):\n    assert candidate('Anna')\n    assert candidate('')\n    assert not candidate('abc')\n    assert candidate('No on')\n",
    entry_point: "is_palindrome",
    broken: "    return text == text[::-1]\n",
  },
  {
    task_id: "Mini/3",
    prompt:
      'def count_vowels(s: str) -> int:\n    """How many of the characters of s are vowels (aeiou, any case)."""\n',
    canonical_solution: "    return sum(1 for c in s.lower() if c in 'aeiou')\n",
    test: "def check(candidate):\n    assert candidate('hello') == 2\n    assert candidate('AEIOU xyz') == 5\n    assert candidate('') == 0\n",
    entry_point: "count_vowels",
    broken: "    return len(s)\n",
  },
];

const mbpp = [
  {
    task_id: 901,
    text: "Write a function to return the second smallest distinct number of a list.",
    code: "def second_smallest(xs):\n    s = sorted(set(xs))\n    return s[1] if len(s) > 1 else None",
    test_list: [
      "assert second_smallest([4, 1, 3, 1]) == 3",
      "assert second_smallest([2, 2]) is None",
      "assert second_smallest([-2, 0, 5]) == 0",
    ],
    test_setup_code: "",
    broken: "def second_smallest(xs):\n    return sorted(xs)[1]",
  },
  {
    task_id: 902,
    text: "Write a function that counts the words of a sentence with the given splitter.",
    code: "def word_count(sentence):\n    return len(SPLIT(sentence))",
    test_list: ["assert word_count('a b  c') == 3", "assert word_count('') == 0"],
    test_setup_code: "def SPLIT(s):\n    return s.split()",
    broken: "def word_count(sentence):\n    return len(sentence.split(' '))",
  },
];

function writeJsonl(name: string, rows: object[]): string {
  const file = join(dir, name);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n"));
  return file;
}

async function score(items: EvalItem[], answers: string[]) {
  return scoreModel(items, answers, undefined, { python: TEST_PYTHON });
}

describe("HumanEval and MBPP suites", { skip: skipWithoutPython }, () => {
  it("HumanEval rows: canonical completions pass, as raw continuations and as fenced chat answers", async () => {
    const items = await readSuite(
      writeJsonl(
        "he.jsonl",
        humanEval.map(({ broken: _b, ...r }) => r),
      ),
    );
    assert.deepEqual(
      items.map((i) => [i.id, i.task, i.checker, i.options.language]),
      humanEval.map((r) => [r.task_id, "humaneval", "code", "python"]),
    );
    const raw = await score(
      items,
      humanEval.map((r) => r.canonical_solution),
    );
    assert.deepEqual(
      raw.map((s) => s.score),
      [1, 1, 1, 1],
      raw.map((s) => s.detail).join(" | "),
    );
    // a chat answer: the whole function in a fence, then a usage example in a second fence
    const chat = await score(
      items,
      humanEval.map(
        (r) =>
          `Here it is:\n\n\`\`\`python\n${r.prompt}${r.canonical_solution}\`\`\`\n\nExample:\n\`\`\`python\nprint(${r.entry_point}(input()))\n\`\`\``,
      ),
    );
    assert.deepEqual(
      chat.map((s) => s.score),
      [1, 1, 1, 1],
      chat.map((s) => s.detail).join(" | "),
    );
  });

  it("HumanEval rows: broken variants fail", async () => {
    const items = await readSuite(
      writeJsonl(
        "he2.jsonl",
        humanEval.map(({ broken: _b, ...r }) => r),
      ),
    );
    const broken = await score(
      items,
      humanEval.map((r) => r.broken),
    );
    assert.deepEqual(
      broken.map((s) => [s.score, s.pass]),
      humanEval.map(() => [0, false]),
    );
    assert.match(broken[0].detail ?? "", /AssertionError/);
  });

  it("MBPP rows: canonical code passes (with test_setup_code), broken code fails per test", async () => {
    const items = await readSuite(
      writeJsonl(
        "mbpp.jsonl",
        mbpp.map(({ broken: _b, ...r }) => r),
      ),
    );
    assert.equal(items[0].prompt.includes("assert second_smallest([4, 1, 3, 1]) == 3"), true);
    assert.equal(items[0].options.entry_point, "second_smallest");
    const ok = await score(
      items,
      mbpp.map((r) => `\`\`\`python\n${r.code}\n\`\`\``),
    );
    assert.deepEqual(
      ok.map((s) => s.score),
      [1, 1],
      ok.map((s) => s.detail).join(" | "),
    );
    const bad = await score(
      items,
      mbpp.map((r) => r.broken),
    );
    assert.equal(bad[0].score, 1 / 3); // [4,1,3,1] → 1 ≠ 3; [2,2] → 2 is not None; [-2,0,5] → 0 passes
    assert.equal(bad[1].score, 0); // split(' ') gives 4 words for 'a b  c' and 1 for ''
    assert.match(bad[1].detail ?? "", /python: 0\/2 tests passed; AssertionError/);
    assert.equal(bad[0].pass, false);
  });

  it("hostile HumanEval answers are contained and scored 0 with the reason", async (t) => {
    const items = await readSuite(
      writeJsonl(
        "he3.jsonl",
        [humanEval[0]].map(({ broken: _b, ...r }) => r),
      ),
    );
    const victim = join(dir, "victim.txt");
    writeFileSync(victim, "keep");
    const hostile = [
      `    import os\n    os.remove(${JSON.stringify(victim)})\n    return a + b\n`,
      "    import socket\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n    return a + b\n",
      "    import os\n    while True:\n        os.fork()\n",
      "    while True:\n        pass\n",
    ];
    const [probe] = await score(items, [humanEval[0].canonical_solution]);
    if (probe.sandbox_gaps?.length)
      return t.skip(
        `this machine's sandbox has gaps (${probe.sandbox_gaps.join("; ")}): hostile answers not run`,
      );
    for (const answer of hostile) {
      const [r] = await score(
        items.map((i) => ({ ...i, options: { ...i.options, timeout_ms: 1500 } })),
        [answer],
      );
      assert.equal(r.score, 0, answer);
      assert.match(r.detail ?? "", /python: 0\/1 tests passed; \S/, answer);
    }
    assert.equal(readFileSync(victim, "utf8"), "keep");
    assert.equal(existsSync(victim), true);
  });
});

describe("sftkit code rows in JavaScript and TypeScript", () => {
  it("the row's language or the fence tag chooses the runner; TypeScript is transpiled", async () => {
    const rows = [
      {
        id: "ts",
        instruction: "add",
        task: "code",
        checker: "code",
        language: "typescript",
        tests: ["assert.equal(add(2, 3), 5)"],
      },
      { id: "tag", instruction: "add", task: "code", checker: "code", tests: ["assert.equal(add(2, 3), 5)"] },
      { id: "esm", instruction: "add", task: "code", checker: "code", tests: ["assert.equal(add(2, 3), 5)"] },
    ];
    const items = await readSuite(writeJsonl("ts.jsonl", rows));
    const out = await score(items, [
      "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
      "```typescript\ninterface P { a: number }\nconst add = (a: number, b: number): number => a + b;\n```",
      "```js\nexport default function add(a, b) { return a + b; }\nexport { add };\n```",
    ]);
    assert.deepEqual(
      out.map((s) => s.score),
      [1, 1, 1],
      out.map((s) => s.detail).join(" | "),
    );
    assert.match(out[1].detail ?? "", /^typescript:/);
    const wrong = await score(items.slice(0, 1), [
      "export function add(a: number, b: number): number { return a * b; }",
    ]);
    assert.equal(wrong[0].score, 0);
    const bad = await score(items.slice(0, 1), ["function add(a: number, b: number): number {"]);
    assert.match(bad[0].detail ?? "", /does not compile/);
  });
});

describe("the Python interpreter", () => {
  it("a missing interpreter is a clear error, not a score of 0", async () => {
    const [item] = await readSuite(
      writeJsonl(
        "he4.jsonl",
        [humanEval[0]].map(({ broken: _b, ...r }) => r),
      ),
    );
    await assert.rejects(
      scoreModel([item], ["    return a + b\n"], undefined, { python: join(dir, "no-such-python3") }),
      (e: unknown) =>
        e instanceof SftError && e.where.field === "python" && /--python PATH/.test(e.hint ?? ""),
    );
  });
});
