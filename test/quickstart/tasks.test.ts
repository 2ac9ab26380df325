/**
 * The built-in quickstart tasks: distinct seed-word combinations, a held-out split that no
 * task trains on, answers the built-in model can write (ASCII only), and checks that accept
 * the reference answer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChecker } from "../../src/eval/checkers/checkers.js";
import { scoreIfevalPrompt } from "../../src/eval/ifeval/evaluate.js";
import { enumerateTask, isHeldOut, TASK_NAMES, toRecord } from "../../src/quickstart/tasks.js";

test("every task enumerates distinct combinations and its reference answer passes its own check", async () => {
  for (const task of TASK_NAMES) {
    const examples = enumerateTask(task, 120);
    assert.equal(examples.length, 120);
    assert.equal(new Set(examples.map((e) => e.key)).size, 120, `${task}: keys repeat`);
    assert.equal(new Set(examples.map((e) => e.instruction)).size, 120, `${task}: instructions repeat`);
    for (const ex of examples.slice(0, 20)) {
      const r = await runChecker(ex.check.checker, ex.response, { expected: ex.check.expected });
      assert.equal(r.pass, true, `${task}: ${ex.response} fails its own ${ex.check.checker} check`);
      if (ex.check.ifeval) {
        const s = scoreIfevalPrompt(
          {
            key: 0,
            prompt: ex.instruction,
            instruction_id_list: ex.check.ifeval.ids,
            kwargs: ex.check.ifeval.kwargs,
          },
          ex.response,
        );
        assert.equal(s.strict.follow_all_instructions, true, `${task}: ${ex.response} fails IFEval`);
      }
    }
  }
});

test("answers are ASCII (the model cannot write CJK) and Chinese tasks ask in Chinese", () => {
  for (const task of TASK_NAMES) {
    for (const ex of enumerateTask(task, 60)) {
      assert.match(ex.response, /^[\x20-\x7e]+$/, `${task}: ${ex.response}`);
      if (ex.language === "zh") assert.match(ex.instruction, /[\u4e00-\u9fff]/);
    }
  }
});

test("the held-out split is about a fifth and shared by tasks with the same kind of key", () => {
  const all = TASK_NAMES.flatMap((t) => enumerateTask(t, 120));
  const held = all.filter((e) => isHeldOut(e));
  assert.ok(
    held.length > all.length * 0.12 && held.length < all.length * 0.28,
    `${held.length}/${all.length}`,
  );
  // a sentence held out in one task is never trained in another
  const heldKeys = new Set(held.map((e) => e.key));
  for (const ex of all) if (heldKeys.has(ex.key)) assert.equal(isHeldOut(ex), true);
  for (const task of TASK_NAMES)
    assert.ok(
      held.some((e) => e.task === task),
      `${task} has no held-out example`,
    );
});

test("toRecord makes one user/assistant exchange with the grouping meta", () => {
  const [ex] = enumerateTask("zh_who_went", 1);
  const r = toRecord(ex, "x");
  assert.deepEqual(
    r.messages.map((m) => m.role),
    ["user", "assistant"],
  );
  assert.equal(r.meta.task, "zh_who_went");
  assert.equal(r.meta.type, "extraction");
  assert.equal((r.meta as Record<string, unknown>).language, "zh");
});
