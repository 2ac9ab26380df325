/**
 * pass@k, the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models
 * Trained on Code": from n samples of which c pass,
 *
 *   pass@k = 1 − C(n − c, k) / C(n, k) = 1 − ∏_{i = n − c + 1}^{n} (1 − k / i)
 *
 * (the product form avoids huge binomials). It is undefined for k > n: such a k is reported
 * as null, never guessed.
 */
export function passAtK(n: number, c: number, k: number): number | null {
  if (
    !Number.isInteger(n) ||
    !Number.isInteger(c) ||
    !Number.isInteger(k) ||
    n < 1 ||
    k < 1 ||
    c < 0 ||
    c > n
  )
    throw new RangeError(`pass@k needs integers 0 <= c <= n, n >= 1, k >= 1 (got n=${n}, c=${c}, k=${k})`);
  if (k > n) return null;
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/** pass@k for each k, keyed "pass@k". */
export function passAtKs(n: number, c: number, ks: readonly number[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k of ks) out[`pass@${k}`] = passAtK(n, c, k);
  return out;
}

/** The mean over problems of each pass@k; null where any problem's value is null. */
export function meanPassAtKs(
  perProblem: Record<string, number | null>[],
  ks: readonly number[],
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k of ks) {
    const key = `pass@${k}`;
    const xs = perProblem.map((p) => p[key]);
    out[key] =
      xs.length === 0 || xs.some((x) => x === null || x === undefined)
        ? null
        : (xs as number[]).reduce((a, b) => a + b, 0) / xs.length;
  }
  return out;
}
