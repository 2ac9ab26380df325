/**
 * Pre-flight checks: run before any training and by `sft data check`. Each failure names the
 * record and shows the tokens at fault (`id "piece"`), so a wrong label is loud before a single
 * step is spent on it.
 *
 *   trained-tokens     every sample has trained tokens (else the record's rejection reason)
 *   end-token          each trained assistant turn ends with its end token, and it is in the loss
 *   doubled-bos        no sample starts with BOS twice
 *   generation-prompt  the tokens before the last trained turn equal the tokens of the prompt
 *                      rendered for generation (add_generation_prompt)
 *   round-trip         at every mask boundary the tokens of the text before it are a prefix of
 *                      the tokens of the whole, and decode gives that text back
 *   packing            packed rows restart positions per sample, keep samples in their own
 *                      segments, and hold each sample's ids and labels unchanged
 *   lost-content       the rendering holds every tool call, tool schema, tool result, system
 *                      prompt and message of the record (a template that does not write tool
 *                      calls renders them as nothing)
 *
 * Records set aside as configured (over-long under a truncation mode, or lost content with
 * `lostContent: "drop"`) are not failures: the report lists them as `dropped`, with the reason,
 * for the rejects file. A generation header the template appends after the last turn is trimmed
 * from every sample and reported as a notice.
 */
import type { SftRecord } from "../record/record.js";
import { describeLostContent } from "./content-loss.js";
import {
  IGNORE_INDEX,
  renderGenerationPrompt,
  type TokenizedSample,
  type TokenizeOptions,
  tryTokenizeRecord,
} from "./mask.js";
import { type PackedRow, packSamples, type SampleTokens } from "./pack.js";
import { createRenderer } from "./renderer.js";
import type { TextTokenizer } from "./tokenizer.js";

export type PreflightCheck =
  | "trained-tokens"
  | "end-token"
  | "doubled-bos"
  | "generation-prompt"
  | "round-trip"
  | "packing"
  | "lost-content";

export const PREFLIGHT_CHECKS: PreflightCheck[] = [
  "trained-tokens",
  "end-token",
  "doubled-bos",
  "generation-prompt",
  "round-trip",
  "packing",
  "lost-content",
];

export interface PreflightFailure {
  check: PreflightCheck;
  recordId: string;
  message: string;
  /** The offending token ids. */
  tokens: number[];
}

export interface PreflightReport {
  ok: boolean;
  records: number;
  samples: number;
  failures: PreflightFailure[];
  /** Records that were truncated, with how. */
  truncated: { recordId: string; truncation: string }[];
  /** Records set aside as configured (too long for the truncation mode, lost content with drop). */
  dropped: { recordId: string; reason: string }[];
  /** Things pre-flight changed or wants said once (e.g. a trimmed trailing generation header). */
  notices: string[];
  /** Per check: how many failures. */
  counts: Record<PreflightCheck, number>;
}

/** `[123 "▁Hello", 2 "</s>"]`: ids with their decoded pieces. */
export function showTokens(tokenizer: TextTokenizer, ids: readonly number[]): string {
  return `[${ids.map((id) => `${id} ${JSON.stringify(tokenizer.decode([id]))}`).join(", ")}]`;
}

/** The checks on one tokenized sample; `record` is the record it came from. */
export function checkSample(
  record: SftRecord,
  sample: TokenizedSample,
  tokenizer: TextTokenizer,
  opts: TokenizeOptions = {},
): PreflightFailure[] {
  const out: PreflightFailure[] = [];
  const id = record.id;
  const ids = sample.inputIds;
  const fail = (check: PreflightCheck, message: string, tokens: number[]) =>
    out.push({ check, recordId: id, message: `record ${id}: ${message}`, tokens });

  if (!sample.labels.some((l) => l !== IGNORE_INDEX)) {
    fail("trained-tokens", "no trained tokens (every label is -100)", ids.slice(0, 8));
  }

  if (sample.lostContent.length > 0) {
    fail(
      "lost-content",
      `the template drops content of this record: ${describeLostContent(sample.lostContent)}`,
      [],
    );
  }

  const renderer = createRenderer(tokenizer, opts);
  for (const span of sample.spans) {
    if (span.role !== "assistant" || span.cut) continue;
    const last = span.end - 1;
    const endOk =
      span.endTokenIndex !== undefined &&
      span.endTokenIndex === last &&
      renderer.endTokenIds.has(ids[last]) &&
      sample.labels[last] === ids[last];
    if (!endOk) {
      const tail = ids.slice(Math.max(span.start, span.end - 4), span.end + 2);
      const expected = showTokens(tokenizer, [...renderer.endTokenIds]);
      fail(
        "end-token",
        `trained turn (message ${span.messageIndex}) does not end with an end token in the loss; its last tokens are ${showTokens(tokenizer, tail)}, expected one of ${expected} trained`,
        tail,
      );
    }
  }

  // A reply whose own text spells an end token would be cut short at it.
  for (const span of sample.spans) {
    if (span.role !== "assistant") continue;
    const content = record.messages[span.messageIndex]?.content ?? "";
    const inside = tokenizer.encode(content).filter((t) => renderer.endTokenIds.has(t));
    if (inside.length > 0) {
      fail(
        "end-token",
        `the reply of message ${span.messageIndex} contains the end token ${showTokens(tokenizer, inside.slice(0, 1))} in its text: the turn would end there and the rest of the reply would not be trained`,
        inside.slice(0, 1),
      );
    }
  }

  const bos = tokenizer.bosTokenId;
  if (bos !== undefined && ids.length >= 2 && ids[0] === bos && ids[1] === bos) {
    fail(
      "doubled-bos",
      `the sample starts with BOS twice ${showTokens(tokenizer, ids.slice(0, 3))}: the template writes BOS and the tokenizer adds another`,
      ids.slice(0, 2),
    );
  }

  for (const span of sample.spans) {
    if (!span.startFallback) continue;
    const head = ids.slice(span.start, span.start + 4);
    fail(
      "generation-prompt",
      `the template renders the start of assistant turn (message ${span.messageIndex}) unlike its generation prompt, so the whole rendered turn is trained from ${showTokens(tokenizer, head)}; generation would be given a different prompt`,
      head,
    );
  }

  const lastAssistant = [...sample.spans].reverse().find((s) => s.role === "assistant" && !s.startFallback);
  if (lastAssistant) {
    const msgs = record.messages.slice(0, lastAssistant.messageIndex);
    const train = ids.slice(0, lastAssistant.start);
    const same = (a: number[]) => a.length === train.length && a.every((x, i) => x === train[i]);
    let gen = renderGenerationPrompt({ ...record, messages: msgs }, tokenizer, opts).inputIds;
    // A reply that carries its own reasoning is generated with thinking enabled.
    if (!same(gen) && renderer.kind === "chat-template") {
      const thinking = renderGenerationPrompt({ ...record, messages: msgs }, tokenizer, {
        ...opts,
        enableThinking: true,
      }).inputIds;
      if (same(thinking)) gen = thinking;
    }
    let k = 0;
    while (k < gen.length && k < train.length && gen[k] === train[k]) k++;
    if (k !== gen.length || k !== train.length) {
      fail(
        "generation-prompt",
        `the prompt trained on differs from the prompt rendered for generation at token ${k}: training has ${showTokens(tokenizer, ids.slice(k, k + 4))}, generation has ${showTokens(tokenizer, gen.slice(k, k + 4))}`,
        ids.slice(k, k + 4),
      );
    }
  }

  for (const issue of sample.boundaryIssues) {
    fail(
      "round-trip",
      `the mask boundary at character ${issue.charOffset} falls inside a token: the text before it tokenizes to ${showTokens(tokenizer, issue.prefixTokens)} but the whole has ${showTokens(tokenizer, issue.wholeTokens)} at token ${issue.tokenIndex}`,
      issue.wholeTokens,
    );
  }
  const ctx = decodeContext(tokenizer);
  for (const b of sample.boundaries) {
    const k = b.tokenIndex;
    if (k > ids.length || sample.boundaryIssues.some((i) => i.charOffset === b.charOffset)) continue;
    const before = sample.text.slice(0, b.charOffset);
    const after = sample.text.slice(b.charOffset);
    // Two tokens each side, widened while a window cuts a multi-byte character in half.
    let from = Math.max(sample.prefixIdCount, k - 2);
    while (from > sample.prefixIdCount && k - from < 8 && ctx.decode(ids.slice(from, k)).startsWith("\uFFFD"))
      from--;
    let to = Math.min(ids.length, k + 2);
    while (to < ids.length && to - k < 8 && ctx.decode(ids.slice(k, to)).endsWith("\uFFFD")) to++;
    const leftIds = ids.slice(from, k);
    const rightIds = ids.slice(k, to);
    const left = ctx.decode(leftIds);
    let right = ctx.decode(rightIds);
    // The dummy space also follows a special token just before the boundary.
    if (ctx.spaceAfterSpecial && k > 0 && tokenizer.isSpecial(ids[k - 1]) && right.startsWith(" ")) {
      if (!after.startsWith(" ")) right = right.slice(1);
    }
    if (!before.endsWith(left) || !after.startsWith(right)) {
      fail(
        "round-trip",
        `decode(encode(text)) does not give the text back at the mask boundary at token ${k}: the tokens ${showTokens(tokenizer, [...leftIds, ...rightIds])} decode to ${JSON.stringify(left)} | ${JSON.stringify(right)} but the text there is ${JSON.stringify(before.slice(-left.length - 4))} | ${JSON.stringify(after.slice(0, right.length + 4))}`,
        [...leftIds, ...rightIds],
      );
    }
  }
  return out;
}

const contexts = new WeakMap<
  TextTokenizer,
  { decode(ids: readonly number[]): string; spaceAfterSpecial: boolean }
>();

/**
 * Decoding a slice out of context: a normal token is put in front and its text cut off again, so
 * that decoders that strip a leading space (SentencePiece) treat the slice as mid-text.
 */
function decodeContext(tokenizer: TextTokenizer) {
  let c = contexts.get(tokenizer);
  if (!c) {
    const anchor = tokenizer.encode("a")[0];
    const anchorText = tokenizer.decode([anchor]);
    const eos = tokenizer.eosToken;
    const spaceAfterSpecial =
      eos !== undefined && tokenizer.decode(tokenizer.encode(`${eos}x`)) === `${eos} x`;
    const plain = (ids: readonly number[]) =>
      ids.length === 0 ? "" : tokenizer.decode([anchor, ...ids]).slice(anchorText.length);
    c = {
      // Runs between special tokens are decoded apart so that the space SentencePiece (legacy)
      // puts after every special token — the tokenizer's, not the template's, and identical at
      // training and generation time — can be left out of the comparison.
      decode: (ids) => {
        let out = "";
        let run: number[] = [];
        let afterSpecial = false;
        const flush = () => {
          let t = plain(run);
          if (afterSpecial && spaceAfterSpecial && t.startsWith(" ")) t = t.slice(1);
          out += t;
          run = [];
        };
        for (const id of ids) {
          if (tokenizer.isSpecial(id)) {
            flush();
            out += tokenizer.decode([id]);
            afterSpecial = true;
          } else run.push(id);
        }
        flush();
        return out;
      },
      spaceAfterSpecial,
    };
    contexts.set(tokenizer, c);
  }
  return c;
}

/** What is wrong with the k-th sample of a packed row, if anything. */
function packedSampleProblem(
  row: PackedRow,
  k: number,
  s: SampleTokens | undefined,
): { message: string; tokens: number[] } | undefined {
  const start = row.sampleStarts[k];
  const end = k + 1 < row.sampleStarts.length ? row.sampleStarts[k + 1] : row.inputIds.length;
  if (!s) return { message: "the row holds a sample that was not given", tokens: [] };
  if (end - start !== s.inputIds.length) {
    return {
      message: `holds ${end - start} tokens of a ${s.inputIds.length}-token sample`,
      tokens: row.inputIds.slice(start, end),
    };
  }
  for (let t = 0; t < s.inputIds.length; t++) {
    const at = start + t;
    const tokens = row.inputIds.slice(at, at + 1);
    if (row.positions[at] !== t) {
      return {
        message: `position ids do not restart at the sample: token ${t} has position ${row.positions[at]}`,
        tokens,
      };
    }
    if (row.inputIds[at] !== s.inputIds[t] || row.labels[at] !== s.labels[t]) {
      return { message: `token ${t} differs from the sample (id or label)`, tokens };
    }
    if (row.segments[at] !== row.segments[start]) {
      return { message: `segment id changes inside the sample at token ${t}`, tokens };
    }
  }
  if (k > 0 && row.segments[start] === row.segments[start - 1]) {
    return {
      message: "shares its segment with the sample before it: attention would cross samples",
      tokens: row.inputIds.slice(start, start + 1),
    };
  }
  return undefined;
}

/** Verifies packed rows against the samples they were built from. */
export function checkPacking(
  rows: readonly PackedRow[],
  samples: readonly SampleTokens[],
): PreflightFailure[] {
  const out: PreflightFailure[] = [];
  const byId = new Map(samples.map((s) => [s.id, s]));
  const seen = new Set<string>();
  rows.forEach((row, r) => {
    row.sampleIds.forEach((sid, k) => {
      seen.add(sid);
      const problem = packedSampleProblem(row, k, byId.get(sid));
      if (problem) {
        out.push({
          check: "packing",
          recordId: sid,
          message: `record ${sid}: packed row ${r}: ${problem.message}`,
          tokens: problem.tokens,
        });
      }
    });
  });
  for (const s of samples) {
    if (!seen.has(s.id))
      out.push({
        check: "packing",
        recordId: s.id,
        message: `record ${s.id}: not in any packed row`,
        tokens: [],
      });
  }
  return out;
}

export interface PreflightOptions extends TokenizeOptions {
  /** Also pack the samples into rows of maxSeqLength and check the packing. */
  pack?: boolean;
  /** Stop collecting after this many failures (the counts still cover everything). */
  maxFailures?: number;
}

/** Tokenizes every record and runs every check. */
export async function preflight(
  records: AsyncIterable<SftRecord> | Iterable<SftRecord>,
  tokenizer: TextTokenizer,
  opts: PreflightOptions = {},
): Promise<PreflightReport> {
  const failures: PreflightFailure[] = [];
  const counts = Object.fromEntries(PREFLIGHT_CHECKS.map((c) => [c, 0])) as Record<PreflightCheck, number>;
  const maxFailures = opts.maxFailures ?? Number.POSITIVE_INFINITY;
  const add = (f: PreflightFailure) => {
    counts[f.check]++;
    if (failures.length < maxFailures) failures.push(f);
  };
  const truncated: PreflightReport["truncated"] = [];
  const dropped: PreflightReport["dropped"] = [];
  const samples: SampleTokens[] = [];
  const trailers = new Map<string, { tokens: number; samples: number }>();
  let n = 0;
  let rejected = 0;
  for await (const record of records) {
    n++;
    const res = tryTokenizeRecord(record, tokenizer, opts);
    if (!res.ok && res.kind !== "untrainable") {
      rejected++;
      dropped.push({ recordId: res.id, reason: res.reason });
      continue;
    }
    if (!res.ok) {
      rejected++;
      add({
        check: "trained-tokens",
        recordId: res.id,
        message: `record ${res.id}: ${res.reason}`,
        tokens: [],
      });
      continue;
    }
    const s = res.sample;
    if (s.truncated && s.truncation) truncated.push({ recordId: s.id, truncation: s.truncation });
    if (s.trimmedTrailer) {
      const t = trailers.get(s.trimmedTrailer.text) ?? { tokens: s.trimmedTrailer.tokens, samples: 0 };
      t.samples++;
      trailers.set(s.trimmedTrailer.text, t);
    }
    for (const f of checkSample(record, s, tokenizer, opts)) add(f);
    if (opts.pack) samples.push({ id: s.id, inputIds: s.inputIds, labels: s.labels });
  }
  if (opts.pack && samples.length > 0) {
    const max = opts.maxSeqLength ?? Math.max(...samples.map((s) => s.inputIds.length));
    const { rows } = packSamples(samples, { maxSeqLength: max });
    for (const f of checkPacking(rows, samples)) add(f);
  }
  return {
    ok: Object.values(counts).every((c) => c === 0),
    records: n,
    samples: n - rejected,
    failures,
    truncated,
    dropped,
    notices: [...trailers].map(([text, t]) => trailerNotice(text, t.tokens, t.samples)),
    counts,
  };
}

/** The notice for a generation header a template appends after the last turn. */
export function trailerNotice(text: string, tokens: number, samples: number): string {
  return `the template appends ${JSON.stringify(text)} after the last turn even without a generation prompt: these ${tokens} untrained trailing tokens were trimmed from ${samples} sample(s)`;
}
