import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressBar } from '../../src/gan/progress.js';

function harness(isTTY: boolean, extra: { silent?: boolean; total?: number } = {}) {
  const out: string[] = [];
  let now = 0;
  const bar = new ProgressBar({ total: extra.total ?? 100, write: (s) => out.push(s), isTTY, silent: extra.silent, now: () => now });
  return { out, bar, advance: (ms: number) => (now += ms) };
}

describe('ProgressBar', () => {
  it('formats durations', () => {
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(7620)).toBe('2h07m');
    expect(formatDuration(NaN)).toBe('?');
  });

  it('shows step, percentage, fields, rate and ETA', () => {
    const { bar, advance } = harness(false);
    bar.start(0);
    advance(10_000);
    bar.update(25, { epoch: '2/8', lossG: 0.123456, lossD: 1e-5 });
    const line = bar.line();
    expect(line).toContain('[######..................]  25%');
    expect(line).toContain('step 25/100');
    expect(line).toContain('epoch 2/8 lossG 0.1235 lossD 1.00e-5');
    expect(line).toContain('2.50 step/s');
    expect(line).toContain('ETA 30s');
  });

  it('redraws in place on a TTY, throttled, always at the last step', () => {
    const { out, bar, advance } = harness(true);
    bar.start(0);
    bar.update(1);
    advance(50);
    bar.update(2); // within 100 ms: not drawn
    advance(60);
    bar.update(3);
    expect(out).toHaveLength(2);
    for (const s of out) {
      expect(s.startsWith('\r')).toBe(true);
      expect(s).not.toContain('\n');
      expect(s.endsWith('\x1b[K')).toBe(true);
    }
    bar.update(100);
    expect(out).toHaveLength(3);
    bar.log('epoch 1 done');
    expect(out[3]).toBe('\r\x1b[Kepoch 1 done\n');
    expect(out[4]).toMatch(/^\r\[#+\] 100%/); // the bar is redrawn below the message
    bar.stop();
    expect(out[5].endsWith('\n')).toBe(true);
    bar.stop();
    expect(out).toHaveLength(6);
  });

  it('prints one line per interval when not a TTY, and resumes from a step', () => {
    const { out, bar, advance } = harness(false);
    bar.start(40); // a resumed run
    for (let s = 41; s <= 100; s++) {
      advance(1000);
      bar.update(s, { lossG: 1 });
    }
    // 60 s of steps: a line at 10, 20, ..., 50 s and one at the last step (60 s).
    expect(out).toHaveLength(6);
    for (const s of out) {
      expect(s.endsWith('\n')).toBe(true);
      expect(s).not.toContain('\r');
    }
    expect(out[0]).toContain('step 50/100');
    expect(out[0]).toContain('1.00 step/s');
    expect(out[5]).toContain('step 100/100');
    expect(out[5]).toContain('ETA 0s');
    bar.log('message');
    expect(out[6]).toBe('message\n');
    bar.stop(); // the last line was already printed at this instant
    expect(out).toHaveLength(7);
  });

  it('stop prints the final state when nothing was printed yet (short non-TTY run)', () => {
    const { out, bar, advance } = harness(false, { total: 10 });
    bar.start();
    advance(500);
    bar.update(3);
    bar.stop();
    expect(out).toHaveLength(1);
    expect(out[0]).toContain('step 3/10');
  });

  it('can be silenced', () => {
    for (const tty of [true, false]) {
      const { out, bar, advance } = harness(tty, { silent: true });
      bar.start();
      for (let s = 1; s <= 100; s++) {
        advance(1000);
        bar.update(s);
      }
      bar.log('x');
      bar.stop();
      expect(out).toEqual([]);
    }
  });
});
