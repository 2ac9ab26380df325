/**
 * The built-in instruction tasks of `sft quickstart`: small procedures that turn seed words
 * into instruction/response pairs a tiny story model can learn — reading a fact out of the
 * prompt, copying a sentence, following a format instruction (end with a phrase, lowercase,
 * quotation marks), and the same skills asked in Chinese. Every task has a verifiable
 * answer, so the evaluation can score base and fine-tuned models on held-out prompts
 * (combinations of seed words never seen in training).
 *
 * Why the Chinese tasks answer in ASCII: the built-in model (stories260K) never saw a
 * UTF-8 continuation byte in pretraining, so its output rows for those byte tokens are
 * identical and a LoRA with a frozen output layer cannot make it write a Chinese character.
 * It reads Chinese instructions (as byte tokens) fine, so the Chinese tasks ask in Chinese
 * and take an English payload as the answer.
 */
import type { SftRecord } from "../record/record.js";
import { fnv1a32 } from "../util/hash.js";

/** Seed words the TinyStories-trained default model already knows. */
export const SEEDS = {
  names: ["Lily", "Tim", "Tom", "Sue", "Ben", "Anna", "Max", "Mia", "Sam", "Lucy"],
  objects: ["ball", "box", "hat", "cup", "car", "kite", "book", "toy", "bag", "bike"],
  colors: ["red", "blue", "green", "yellow", "pink", "brown", "white", "black"],
  animals: ["cat", "dog", "bird", "fish", "frog", "duck", "bunny", "bear"],
  places: ["park", "garden", "house", "school", "forest", "beach", "shop", "farm"],
  feelings: ["happy", "sad", "tired", "scared", "excited", "angry"],
  /** Chinese names of the places, in the order of `places` */
  zhPlaces: ["公园", "花园", "房子", "学校", "森林", "海滩", "商店", "农场"],
} as const;

export type TaskName =
  | "color_fact"
  | "who_went"
  | "repeat"
  | "story_end"
  | "lowercase"
  | "quote"
  | "zh_repeat"
  | "zh_who_went";
export const TASK_NAMES: TaskName[] = [
  "color_fact",
  "who_went",
  "repeat",
  "story_end",
  "lowercase",
  "quote",
  "zh_repeat",
  "zh_who_went",
];

export const STORY_END_PHRASE = "The end.";

/** How a task's answer is checked (an eval suite row's checker and IFEval constraints). */
export interface TaskCheck {
  checker: "exact" | "contains";
  /** accepted answers */
  expected: string[];
  /** IFEval instruction ids (and kwargs) the response must follow, for format tasks */
  ifeval?: { ids: string[]; kwargs: Record<string, unknown>[] };
}

export interface TaskExample {
  task: TaskName;
  instruction: string;
  response: string;
  check: TaskCheck;
  /** the seed words used, so held-out splits can exclude seen combinations */
  key: string;
  topic: string;
  type: string;
  language: "en" | "zh";
}

/**
 * The i-th of the n1 × n2 × n3 combinations of three seed lists, walked with a stride
 * coprime to the count (so the first `count` indices are distinct combinations) and an
 * offset (so tasks start at different places).
 */
function combination(i: number, sizes: [number, number, number], stride: number, offset: number): number[] {
  const total = sizes[0] * sizes[1] * sizes[2];
  let j = (i * stride + offset) % total;
  const digits: number[] = [];
  for (const n of sizes) {
    digits.push(j % n);
    j = Math.floor(j / n);
  }
  return digits;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A stride near `want` that is coprime to the product of the sizes. */
function strideFor(sizes: [number, number, number], want: number): number {
  const total = sizes[0] * sizes[1] * sizes[2];
  let s = want;
  while (gcd(s, total) !== 1) s++;
  return s;
}

/** "a" or "an" before a word. */
function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

/** A sentence "Name saw a feeling animal." (480 combinations; key name|animal|feeling). */
function sawSentence(
  i: number,
  stride: number,
  offset: number,
): { name: string; animal: string; feeling: string; sentence: string } {
  const s = SEEDS;
  const sizes: [number, number, number] = [s.names.length, s.animals.length, s.feelings.length];
  const [a, b, c] = combination(i, sizes, strideFor(sizes, stride), offset);
  const name = s.names[a];
  const animal = s.animals[b];
  const feeling = s.feelings[c];
  return { name, animal, feeling, sentence: `${name} saw ${article(feeling)} ${feeling} ${animal}.` };
}

/**
 * Examples of one task, enumerated deterministically from the seed lists (index i walks
 * the combinations; different strides keep neighbouring examples unlike each other).
 */
export function enumerateTask(task: TaskName, count: number): TaskExample[] {
  const out: TaskExample[] = [];
  const s = SEEDS;
  for (let i = 0; i < count; i++) {
    switch (task) {
      case "color_fact": {
        const sizes: [number, number, number] = [s.names.length, s.objects.length, s.colors.length];
        const [a, b, c] = combination(i, sizes, strideFor(sizes, 7), 0);
        const [name, obj, color] = [s.names[a], s.objects[b], s.colors[c]];
        const response = `The ${obj} is ${color}.`;
        out.push({
          task,
          instruction: `${name} has ${article(color)} ${color} ${obj}. What color is the ${obj}?`,
          response,
          check: { checker: "exact", expected: [response] },
          key: `${name}|${obj}|${color}`,
          topic: obj,
          type: "extraction",
          language: "en",
        });
        break;
      }
      case "who_went": {
        const sizes: [number, number, number] = [s.names.length, s.places.length, s.animals.length];
        const [a, b, c] = combination(i, sizes, strideFor(sizes, 7), 0);
        const [name, place, animal] = [s.names[a], s.places[b], s.animals[c]];
        const response = `${name} went to the ${place}.`;
        out.push({
          task,
          instruction: `${name} went to the ${place} with ${article(animal)} ${animal}. Who went to the ${place}?`,
          response,
          check: { checker: "exact", expected: [response] },
          key: `${name}|${place}|${animal}`,
          topic: place,
          type: "extraction",
          language: "en",
        });
        break;
      }
      case "repeat": {
        const { name, animal, feeling, sentence } = sawSentence(i, 7, 0);
        out.push({
          task,
          instruction: `Repeat this sentence: ${sentence}`,
          response: sentence,
          check: { checker: "exact", expected: [sentence] },
          key: `${name}|${animal}|${feeling}`,
          topic: animal,
          type: "generation",
          language: "en",
        });
        break;
      }
      case "story_end": {
        // Two short sentences and the phrase: about 20 tokens, well inside the generation limit.
        const sizes: [number, number, number] = [s.names.length, s.animals.length, s.places.length];
        const [a, b, c] = combination(i, sizes, strideFor(sizes, 11), 3);
        const [name, animal, place] = [s.names[a], s.animals[b], s.places[c]];
        out.push({
          task,
          instruction: `Write a short story about ${name} and ${article(animal)} ${animal} at the ${place}. End it with "${STORY_END_PHRASE}"`,
          response: `${name} had a little ${animal}. They played in the ${place}. ${STORY_END_PHRASE}`,
          check: {
            // the story must be about what was asked (every needle), and end as asked (IFEval)
            checker: "contains",
            expected: [name, animal, place],
            ifeval: { ids: ["startend:end_checker"], kwargs: [{ end_phrase: STORY_END_PHRASE }] },
          },
          key: `${name}|${animal}|${place}`,
          topic: animal,
          type: "format",
          language: "en",
        });
        break;
      }
      case "lowercase": {
        const { name, animal, feeling, sentence } = sawSentence(i, 11, 101);
        const lower = sentence.toLowerCase();
        out.push({
          task,
          instruction: `Repeat this sentence in lowercase letters only: ${sentence}`,
          response: lower,
          check: {
            checker: "exact",
            expected: [lower],
            ifeval: { ids: ["change_case:english_lowercase"], kwargs: [{}] },
          },
          key: `${name}|${animal}|${feeling}`,
          topic: animal,
          type: "format",
          language: "en",
        });
        break;
      }
      case "quote": {
        const { name, animal, feeling, sentence } = sawSentence(i, 13, 211);
        const quoted = `"${sentence}"`;
        out.push({
          task,
          instruction: `Repeat this sentence and wrap it in double quotation marks: ${sentence}`,
          response: quoted,
          check: {
            checker: "exact",
            expected: [quoted],
            ifeval: { ids: ["startend:quotation"], kwargs: [{}] },
          },
          key: `${name}|${animal}|${feeling}`,
          topic: animal,
          type: "format",
          language: "en",
        });
        break;
      }
      case "zh_repeat": {
        const { name, animal, feeling, sentence } = sawSentence(i, 17, 307);
        const prefix = ["请重复这句话：", "请跟我说：", "重复下面的句子："][i % 3];
        out.push({
          task,
          instruction: `${prefix}${sentence}`,
          response: sentence,
          check: { checker: "exact", expected: [sentence] },
          key: `${name}|${animal}|${feeling}`,
          topic: animal,
          type: "generation",
          language: "zh",
        });
        break;
      }
      case "zh_who_went": {
        const sizes: [number, number, number] = [s.names.length, s.places.length, s.animals.length];
        const [a, p, c] = combination(i, sizes, strideFor(sizes, 11), 97);
        const [name, place, animal] = [s.names[a], s.places[p], s.animals[c]];
        const response = `${name} went to the ${place}.`;
        out.push({
          task,
          instruction: `谁去了${s.zhPlaces[p]}？${name} went to the ${place} with ${article(animal)} ${animal}.`,
          response,
          check: { checker: "exact", expected: [response] },
          key: `${name}|${place}|${animal}`,
          topic: place,
          type: "extraction",
          language: "zh",
        });
        break;
      }
    }
  }
  return out;
}

/** Whether an example belongs to the held-out split (about 1 in `every`; FNV-1a of the key, so it depends only on the seed words). */
export function isHeldOut(ex: TaskExample, every = 5): boolean {
  // the key alone (not the task): tasks that share a kind of key (the "saw" sentences, the
  // "went" facts) hold out the same combinations, so no held-out sentence is trained anywhere
  return fnv1a32(ex.key) % every === 0;
}

export function toRecord(ex: TaskExample, id: string, source = "quickstart"): SftRecord {
  return {
    id,
    messages: [
      { role: "user", content: ex.instruction },
      { role: "assistant", content: ex.response },
    ],
    meta: { source, task: ex.task, topic: ex.topic, type: ex.type, language: ex.language },
  };
}
