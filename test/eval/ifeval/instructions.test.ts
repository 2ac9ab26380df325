import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SftError } from "../../../src/errors.js";
import { scoreIfevalPrompt } from "../../../src/eval/ifeval/evaluate.js";
import { bindInstruction, INSTRUCTION_IDS } from "../../../src/eval/ifeval/instructions.js";

interface Case {
  kwargs: Record<string, unknown>;
  /** followed in strict mode (so also in loose mode) */
  pass: string[];
  /** not followed in either mode */
  fail: string[];
  /** not followed strictly, followed loosely (a preamble line, a closing line, or asterisks) */
  looseOnly?: string[];
}

const cases: Record<string, Case> = {
  "keywords:existence": {
    kwargs: { keywords: ["banana", "Moon"] },
    pass: ["The moon looked like a BANANA tonight."],
    fail: ["The moon was bright.", "Bananas? No, an apple."],
  },
  "keywords:frequency": {
    kwargs: { keyword: "data", frequency: 3, relation: "at least" },
    pass: ["Data beats opinions; data needs care; big DATA."],
    fail: ["Data once, data twice."],
  },
  "keywords:forbidden_words": {
    kwargs: { forbidden_words: ["cat", "dog"] },
    pass: ["A category of hotdogs is not a pet."],
    fail: ["My Cat sleeps.", "the dog."],
  },
  "keywords:letter_frequency": {
    kwargs: { letter: "z", let_frequency: 3, let_relation: "less than" },
    pass: ["Zero zebras here."],
    fail: ["Zizzy zebras buzz."],
  },
  "language:response_language": {
    kwargs: { language: "es" },
    pass: ["El perro de mi vecino es muy simpático y siempre está en el jardín con los niños."],
    fail: ["The neighbour's dog is very friendly and is always in the garden with the children."],
  },
  "length_constraints:number_sentences": {
    kwargs: { num_sentences: 3, relation: "less than" },
    pass: ["Dr. Smith arrived at 5 p.m. and left. He was happy!"],
    fail: ["One. Two. Three."],
  },
  "length_constraints:number_paragraphs": {
    kwargs: { num_paragraphs: 3 },
    pass: ["First part.\n***\nSecond part.\n***\nThird part.", "***\nA\n***\nB\n***\nC\n***"],
    fail: ["A\n***\nB", "A\n***\n\n***\nB\n***\nC"],
  },
  "length_constraints:number_words": {
    kwargs: { num_words: 5, relation: "at least" },
    pass: ["state-of-the-art models win"],
    fail: ["only three words"],
  },
  "length_constraints:nth_paragraph_first_word": {
    kwargs: { num_paragraphs: 2, nth_paragraph: 2, first_word: "because" },
    pass: ['Intro paragraph.\n\n"Because, of reasons" we stop.'],
    fail: ["Intro.\n\nSince then.", "Because x.\n\nIntro.\n\nThird."],
  },
  "detectable_content:number_placeholders": {
    kwargs: { num_placeholders: 2 },
    pass: ["Send it to [name] at [address]."],
    fail: ["Send it to [name] soon."],
  },
  "detectable_content:postscript": {
    kwargs: { postscript_marker: "P.S." },
    pass: ["Hello there.\n\nP.S. see you soon"],
    fail: ["Hello there. PS see you soon"],
  },
  "detectable_format:number_bullet_lists": {
    kwargs: { num_bullets: 2 },
    pass: ["Points:\n* one\n- two"],
    fail: ["* a\n* b\n* c\n* d\n* e", "**bold** only"],
  },
  "detectable_format:constrained_response": {
    kwargs: {},
    pass: ["Well... My answer is maybe. It depends."],
    fail: ["my answer is yes."],
  },
  "detectable_format:number_highlighted_sections": {
    kwargs: { num_highlights: 2 },
    pass: ["*Intro* text and **Key point** here."],
    fail: ["*Intro* only, and ** ** is empty."],
  },
  "detectable_format:multiple_sections": {
    kwargs: { section_spliter: "Section", num_sections: 2 },
    pass: ["Section 1\nfirst\nSection 2\nsecond"],
    fail: ["Section one\nSection 2 only one numbered", "SECTION 1\nx\nSECTION 2\ny"],
  },
  "detectable_format:json_format": {
    kwargs: {},
    pass: ['```json\n{"a": [1, 2, NaN]}\n```', "[1, 2]"],
    fail: ["{a: 1}", 'Here is JSON: {"a": 1}'],
    looseOnly: ['Here you go:\n{"a": 1}'],
  },
  "detectable_format:title": {
    kwargs: {},
    pass: ["<<Ode to Joy>>\nLine one."],
    fail: ["<< >> nothing", "<<broken\ntitle>>"],
  },
  "combination:two_responses": {
    kwargs: {},
    pass: ["First answer.\n******\nSecond answer."],
    fail: ["Same.\n******\nSame.", "A\n******\n\n******\nB", "only one"],
  },
  "combination:repeat_prompt": {
    kwargs: { prompt_to_repeat: "Write a haiku about rain." },
    pass: ["write a haiku about rain. Drops fall on the roof"],
    fail: ["Sure! Write a haiku about rain."],
    looseOnly: ["Sure!\nWrite a haiku about rain. Drops fall"],
  },
  "startend:end_checker": {
    kwargs: { end_phrase: "Any other questions?" },
    pass: ['"That is all. Any other questions?"\n'],
    fail: ["Any other questions? Bye."],
    looseOnly: ["That is all. Any other questions?\nBest regards"],
  },
  "startend:quotation": {
    kwargs: {},
    pass: ['  "Quoted answer."  '],
    fail: ['"', "'single'", '"open only'],
    looseOnly: ['Here it is:\n"Quoted answer."'],
  },
  "change_case:capital_word_frequency": {
    kwargs: { capital_frequency: 3, capital_relation: "at least" },
    pass: ["I DON'T like it."],
    fail: ["NASA and ESA are agencies."],
  },
  "change_case:english_capital": {
    kwargs: {},
    pass: ["THIS IS THE ANSWER THAT YOU WANTED, AND IT IS ALL IN CAPITALS."],
    fail: ["This is the answer.", "ESTO ES LA RESPUESTA QUE QUERÍAS Y ESTÁ EN MAYÚSCULAS."],
    looseOnly: ["Sure, here it is:\nTHIS IS THE ANSWER THAT YOU WANTED."],
  },
  "change_case:english_lowercase": {
    kwargs: {},
    pass: ["this is the answer that you wanted, and it is all in lowercase."],
    fail: ["this is the answer that I wanted.", "esto es la respuesta que querías y está en minúsculas."],
  },
  "punctuation:no_comma": {
    kwargs: {},
    pass: ["No commas here at all."],
    fail: ["One, two."],
  },
};

const modeVerdicts = (id: string, kwargs: Record<string, unknown>, response: string) => {
  const scored = scoreIfevalPrompt(
    { key: 1, prompt: "p", instruction_id_list: [id], kwargs: [kwargs] },
    response,
  );
  return { strict: scored.strict.follow_instruction_list[0], loose: scored.loose.follow_instruction_list[0] };
};

describe("IFEval instruction rules", () => {
  it("covers all 25 instruction types", () => {
    assert.equal(INSTRUCTION_IDS.length, 25);
    assert.deepEqual([...INSTRUCTION_IDS].sort(), Object.keys(cases).sort());
  });

  for (const [id, c] of Object.entries(cases)) {
    it(id, () => {
      for (const r of c.pass)
        assert.deepEqual(modeVerdicts(id, c.kwargs, r), { strict: true, loose: true }, r);
      for (const r of c.fail)
        assert.deepEqual(modeVerdicts(id, c.kwargs, r), { strict: false, loose: false }, r);
      for (const r of c.looseOnly ?? [])
        assert.deepEqual(modeVerdicts(id, c.kwargs, r), { strict: false, loose: true }, r);
    });
  }

  it("asterisk removal in loose mode rescues a bold first word", () => {
    const kwargs = { num_paragraphs: 1, nth_paragraph: 1, first_word: "yes" };
    assert.deepEqual(modeVerdicts("length_constraints:nth_paragraph_first_word", kwargs, "**Yes** indeed."), {
      strict: false,
      loose: true,
    });
  });

  it("a blank response follows nothing, even no_comma", () => {
    assert.deepEqual(modeVerdicts("punctuation:no_comma", {}, "   \n "), { strict: false, loose: false });
  });

  it("null kwargs are dropped as the reference does, and bad kwargs are SftErrors", () => {
    const rule = bindInstruction("punctuation:no_comma", { keywords: null, num_words: null });
    assert.equal(rule("a b"), true);
    assert.throws(() => bindInstruction("keywords:frequency", { keyword: "x", frequency: 2 }), SftError);
    assert.throws(() => bindInstruction("no:such_rule", {}), /unknown IFEval instruction id/);
    assert.throws(
      () => bindInstruction("length_constraints:number_words", { num_words: 3, relation: "at most" }),
      SftError,
    );
  });
});
