/**
 * Concurrency limit plus requests-per-minute and tokens-per-minute limits. Each request
 * takes a slot and reserves its estimated tokens in a sliding one-minute window; once the
 * real usage is known the reservation is corrected.
 */

export interface RateLimits {
  concurrency: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

interface WindowEntry {
  at: number;
  tokens: number;
}

export class RequestLimiter {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly window: WindowEntry[] = [];

  constructor(
    private readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Waits for a free slot and room in the per-minute budgets; returns the release function. */
  async acquire(estimatedTokens: number): Promise<{ release: (actualTokens?: number) => void }> {
    await this.takeSlot();
    let entry: WindowEntry;
    try {
      entry = await this.reserve(estimatedTokens);
    } catch (e) {
      this.freeSlot();
      throw e;
    }
    return {
      release: (actualTokens?: number) => {
        if (actualTokens !== undefined) entry.tokens = actualTokens;
        this.freeSlot();
      },
    };
  }

  private takeSlot(): Promise<void> {
    if (this.active < Math.max(1, this.limits.concurrency)) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => resolve()));
  }

  private freeSlot(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  private async reserve(tokens: number): Promise<WindowEntry> {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.limits;
    for (;;) {
      const t = this.now();
      while (this.window.length > 0 && this.window[0].at <= t - 60_000) this.window.shift();
      const used = this.window.reduce((s, e) => s + e.tokens, 0);
      const rpmOk = !rpm || this.window.length < rpm;
      // A single request larger than the whole TPM budget may run alone in an empty window.
      const tpmOk = !tpm || used + tokens <= tpm || this.window.length === 0;
      if (rpmOk && tpmOk) {
        const entry = { at: t, tokens };
        this.window.push(entry);
        return entry;
      }
      const waitMs = Math.max(10, this.window[0].at + 60_000 - t);
      await new Promise((r) => setTimeout(r, Math.min(waitMs, 1000)));
    }
  }
}
