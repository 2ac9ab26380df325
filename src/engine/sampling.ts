/**
 * Next-token selection from a row of logits, in the order Hugging Face's generate applies
 * its processors: repetition penalty, temperature, top-k, top-p, then a draw. Temperature 0
 * means greedy (argmax), which is deterministic whatever the seed.
 */
import type { Rng } from "../util/rng.js";

export interface SamplingOptions {
  /** 0 = greedy. Default 0. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /**
   * CTRL-style penalty (> 1 discourages repeats): a seen token's positive logit is divided
   * by it, a negative one multiplied. 1 = off.
   */
  repetitionPenalty?: number;
}

/** Applies the repetition penalty in place over the ids seen so far in this row. */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    const l = logits[id];
    logits[id] = l > 0 ? l / penalty : l * penalty;
  }
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/**
 * Picks the next token. `logits` is one row [V] and is modified (penalty, scaling).
 * `seen` holds the row's prompt and generated ids, for the repetition penalty.
 */
export function sampleNextToken(
  logits: Float32Array,
  seen: readonly number[],
  opts: SamplingOptions,
  rng: Rng,
): number {
  applyRepetitionPenalty(logits, seen, opts.repetitionPenalty ?? 1);
  const temperature = opts.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);

  // Candidates sorted by logit, cut by top-k, then turned into probabilities.
  const V = logits.length;
  const topK = opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  const candidates = order.slice(0, topK);
  const maxLogit = logits[candidates[0]];
  const probs = candidates.map((id) => Math.exp((logits[id] - maxLogit) / temperature));
  let total = probs.reduce((s, p) => s + p, 0);

  // Nucleus: the shortest prefix whose mass reaches top_p (always at least one token).
  const topP = opts.topP ?? 1;
  let keep = candidates.length;
  if (topP < 1) {
    let mass = 0;
    for (let i = 0; i < candidates.length; i++) {
      mass += probs[i] / total;
      if (mass >= topP) {
        keep = i + 1;
        break;
      }
    }
    total = probs.slice(0, keep).reduce((s, p) => s + p, 0);
  }
  let u = rng.uniform() * total;
  for (let i = 0; i < keep; i++) {
    u -= probs[i];
    if (u <= 0) return candidates[i];
  }
  return candidates[keep - 1];
}
