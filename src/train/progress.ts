/**
 * Console progress: a one-line bar rewritten in place on a terminal (step, loss, lr,
 * tokens/s, ETA), plain log lines when the output is a file or a pipe, and the end summary.
 */

export interface ProgressSample {
  step: number;
  totalSteps: number;
  epoch: number;
  loss?: number;
  learningRate?: number;
  tokensPerSecond?: number;
  /** seconds since the run (or resumed segment) started */
  elapsedSeconds: number;
  /** steps done in this process (for the ETA rate) */
  stepsThisProcess: number;
}

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

function fmt(n: number | undefined, digits = 4): string {
  if (n === undefined) return "-";
  if (n !== 0 && (Math.abs(n) < 1e-3 || Math.abs(n) >= 1e5)) return n.toExponential(2);
  return n.toFixed(digits);
}

export function etaSeconds(p: ProgressSample): number {
  if (p.stepsThisProcess <= 0) return Number.NaN;
  return (p.elapsedSeconds / p.stepsThisProcess) * (p.totalSteps - p.step);
}

export function progressLine(p: ProgressSample): string {
  return (
    `step ${p.step}/${p.totalSteps}  epoch ${p.epoch.toFixed(2)}  loss ${fmt(p.loss)}  ` +
    `lr ${fmt(p.learningRate)}  tok/s ${p.tokensPerSecond === undefined ? "-" : p.tokensPerSecond.toFixed(0)}  ` +
    `eta ${formatDuration(etaSeconds(p))}`
  );
}

export class ProgressReporter {
  private lastLength = 0;
  constructor(
    private readonly out: OutputStream,
    private readonly quiet = false,
  ) {}

  /** Redraws the bar on a TTY; on a pipe writes a line only when `log` is set. */
  update(p: ProgressSample, log: boolean): void {
    if (this.quiet) return;
    const line = progressLine(p);
    if (this.out.isTTY) {
      const width = Math.max(10, Math.min(30, (this.out.columns ?? 100) - line.length - 4));
      const done = Math.round((width * p.step) / Math.max(1, p.totalSteps));
      const bar = `[${"#".repeat(done)}${".".repeat(width - done)}] `;
      const text = bar + line;
      this.out.write(`\r${text}${" ".repeat(Math.max(0, this.lastLength - text.length))}`);
      this.lastLength = text.length;
      if (log) {
        this.out.write("\n");
        this.lastLength = 0;
      }
    } else if (log) {
      this.out.write(`${line}\n`);
    }
  }

  /** A message on its own line (never torn by the bar). */
  message(text: string): void {
    if (this.quiet) return;
    if (this.out.isTTY && this.lastLength > 0) this.out.write("\n");
    this.lastLength = 0;
    this.out.write(`${text}\n`);
  }

  /** A warning: on stderr, also when quiet (it says something went wrong and was worked around). */
  warn(text: string): void {
    if (this.out.isTTY && this.lastLength > 0) this.out.write("\n");
    this.lastLength = 0;
    process.stderr.write(`${text}\n`);
  }
}

export interface RunSummary {
  runDir: string;
  steps: number;
  epochs: number;
  trainedTokens: number;
  seconds: number;
  firstLoss?: number;
  finalLoss?: number;
  finalEvalLoss?: number;
  bestEvalLoss?: number | null;
  bestCheckpoint?: string | null;
  stoppedEarly: boolean;
  result: string;
}

export function formatSummary(s: RunSummary): string {
  const lines = [
    `training done: ${s.steps} steps, ${s.epochs.toFixed(2)} epochs, ${s.trainedTokens} tokens in ${formatDuration(s.seconds)}` +
      (s.stoppedEarly ? " (stopped early: eval loss stopped improving)" : ""),
    `  train loss: ${fmt(s.firstLoss)} → ${fmt(s.finalLoss)}`,
  ];
  if (s.finalEvalLoss !== undefined)
    lines.push(`  eval loss:  ${fmt(s.finalEvalLoss)} (best ${fmt(s.bestEvalLoss ?? undefined)})`);
  if (s.bestCheckpoint) lines.push(`  best checkpoint: ${s.bestCheckpoint}`);
  lines.push(`  result: ${s.result}`, `  run directory: ${s.runDir}`);
  return lines.join("\n");
}
