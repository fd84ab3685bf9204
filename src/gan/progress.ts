/**
 * A terminal progress bar for training: step / total, percentage, the current fields (epoch,
 * losses, ...), rate and ETA. It writes only through the injected `write` sink (the CLI passes
 * `s => process.stderr.write(s)`), so it runs anywhere and is testable with a fake clock.
 *
 * - TTY sink: the bar is redrawn in place ("\r" + line + clear-to-end-of-line), at most every
 *   `redrawMs` (default 100 ms) and always on the last step; `log(line)` clears the bar, prints
 *   the line and redraws the bar below it.
 * - Not a TTY (CI logs, files): one full line every `intervalMs` (default 10 s), plus a line at
 *   the last step / stop(); `log(line)` prints the line.
 * - silent: nothing is written at all.
 * Pure: no Node modules.
 */

export interface ProgressOptions {
  /** Total number of steps of the run. */
  total: number;
  /** The sink; receives complete text including "\r" / "\n". */
  write: (text: string) => void;
  isTTY: boolean;
  silent?: boolean;
  /** Non-TTY: seconds between lines, in ms (default 10000). */
  intervalMs?: number;
  /** TTY: least time between redraws, in ms (default 100). */
  redrawMs?: number;
  /** Characters of the bar itself (default 24). */
  barWidth?: number;
  /** Clock in ms (default performance.now / Date.now); injected by tests. */
  now?: () => number;
}

export type ProgressFields = Record<string, number | string>;

const CLEAR_EOL = '\x1b[K';

/** "42s", "3m05s", "2h07m" */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(4);
}

function defaultNow(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

export class ProgressBar {
  private readonly opts: Required<Omit<ProgressOptions, 'now'>> & { now: () => number };
  private startStep = 0;
  private startTime = 0;
  private step = 0;
  private fields: ProgressFields = {};
  private lastDraw = -Infinity;
  private drawn = false;
  private started = false;
  private stopped = false;

  constructor(options: ProgressOptions) {
    this.opts = {
      silent: false,
      intervalMs: 10_000,
      redrawMs: 100,
      barWidth: 24,
      now: defaultNow,
      ...options,
    };
  }

  /** Starts timing; `step` is where the run stands (non-zero after a resume). */
  start(step = 0): void {
    this.startStep = step;
    this.step = step;
    this.startTime = this.opts.now();
    this.started = true;
    this.stopped = false;
    // Non-TTY: the first line comes after one interval (or at the end), not immediately.
    this.lastDraw = this.opts.isTTY ? -Infinity : this.startTime;
  }

  /** Records progress; draws when the rules above say so. */
  update(step: number, fields: ProgressFields = {}): void {
    if (!this.started) this.start(0);
    this.step = step;
    this.fields = fields;
    const t = this.opts.now();
    const last = step >= this.opts.total;
    const wait = this.opts.isTTY ? this.opts.redrawMs : this.opts.intervalMs;
    if (last || t - this.lastDraw >= wait) this.draw(t);
  }

  /** Prints a message line without garbling the bar. */
  log(line: string): void {
    if (this.opts.silent) return;
    if (this.opts.isTTY) {
      this.opts.write(`\r${CLEAR_EOL}${line}\n`);
      if (this.drawn && !this.stopped) this.opts.write(`\r${this.line(this.opts.now())}${CLEAR_EOL}`);
    } else {
      this.opts.write(`${line}\n`);
    }
  }

  /** Draws the final state and ends the bar's line. */
  stop(): void {
    if (this.stopped) return;
    if (this.started && !this.opts.silent) {
      const t = this.opts.now();
      if (this.opts.isTTY) {
        this.opts.write(`\r${this.line(t)}${CLEAR_EOL}\n`);
      } else if (this.lastDraw !== t || !this.drawn) {
        this.opts.write(`${this.line(t)}\n`);
      }
    }
    this.stopped = true;
  }

  /** Steps per second since start(). */
  rate(t = this.opts.now()): number {
    const dt = (t - this.startTime) / 1000;
    return dt > 0 ? (this.step - this.startStep) / dt : 0;
  }

  /** The text of the bar now (no control characters). */
  line(t = this.opts.now()): string {
    const { total, barWidth } = this.opts;
    const frac = total > 0 ? Math.min(1, Math.max(0, this.step / total)) : 1;
    const filled = Math.round(frac * barWidth);
    const bar = '#'.repeat(filled) + '.'.repeat(barWidth - filled);
    const rate = this.rate(t);
    const remaining = Math.max(0, total - this.step);
    const eta = remaining === 0 ? 0 : rate > 0 ? remaining / rate : NaN;
    const parts = [`[${bar}] ${String(Math.floor(frac * 100)).padStart(3)}%`, `step ${this.step}/${total}`];
    const fieldText = Object.entries(this.fields)
      .map(([k, v]) => `${k} ${formatValue(v)}`)
      .join(' ');
    if (fieldText) parts.push(fieldText);
    parts.push(rate > 0 ? (rate >= 1 ? `${rate.toFixed(2)} step/s` : `${(1 / rate).toFixed(1)} s/step`) : '- step/s');
    parts.push(`ETA ${formatDuration(eta)}`);
    return parts.join(' | ');
  }

  private draw(t: number): void {
    this.lastDraw = t;
    if (this.opts.silent) return;
    this.drawn = true;
    if (this.opts.isTTY) this.opts.write(`\r${this.line(t)}${CLEAR_EOL}`);
    else this.opts.write(`${this.line(t)}\n`);
  }
}
