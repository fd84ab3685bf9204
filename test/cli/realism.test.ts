/** `diffrendergan realism` through the built CLI: JSON and text output, exit codes of bad input. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, errorLines, removeTempDirs, runCli, tempDir } from '../reliability/helpers.js';
import { writePngGrey8 } from '../../src/node/files.js';
import { Rng } from '../../src/autodiff/rng.js';

let dir = '';

function discImage(rng: Rng, w: number, h: number, n: number): Float32Array {
  const d = new Float32Array(w * h);
  for (let i = 0; i < d.length; i++) d[i] = 0.1 + 0.02 * rng.uniform();
  for (let k = 0; k < n; k++) {
    const cx = rng.range(0, w), cy = rng.range(0, h), r = rng.range(5, 9);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) d[y * w + x] = 0.7;
  }
  return d;
}

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('realism');
  const rng = new Rng(9);
  mkdirSync(join(dir, 'real'));
  mkdirSync(join(dir, 'synth', 'images'), { recursive: true });
  // Real: 96 x 80 with a 16-row "data bar" (white) at the bottom.
  for (let i = 0; i < 3; i++) {
    const d = discImage(rng, 96, 80, 8);
    d.fill(1, 96 * 64);
    writePngGrey8(join(dir, 'real', `r${i}.png`), 96, 80, d);
  }
  for (let i = 0; i < 6; i++) writePngGrey8(join(dir, 'synth', 'images', `s${i}.png`), 64, 64, discImage(rng, 64, 64, 5));
  writeFileSync(join(dir, 'not-an-image.png'), 'hello');
});
afterAll(removeTempDirs);

describe('realism', () => {
  it('--json: C2ST with interval and per-seed results, scene statistics of both sides', () => {
    const r = runCli(['realism', '--real', join(dir, 'real'), '--synth', join(dir, 'synth'), '--crop-bottom', '16', '--patch', '32', '--seeds', '2', '--epochs', '2', '--json', '--backend', 'reference']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.files).toEqual({ real: 3, synthetic: 6 });
    expect(j.c2st.seeds).toHaveLength(2);
    expect(j.c2st.patch).toBe(32);
    expect(j.c2st.ci[0]).toBeLessThanOrEqual(j.c2st.accuracy);
    expect(j.c2st.ci[1]).toBeGreaterThanOrEqual(j.c2st.accuracy);
    expect(j.stats.tile).toBe(64);
    expect(j.stats.real.coverage).toBeGreaterThan(0);
    expect(j.stats.synthetic.particles).toBeGreaterThan(0);
    // bright particles: the lone particles' body profile of both sides (these flat discs: 1 at every depth)
    for (const side of [j.bodyProfile.real, j.bodyProfile.synthetic]) {
      expect(side.particles).toBeGreaterThan(0);
      for (const v of side.profile) expect(v).toBeCloseTo(1, 6);
    }
  });

  it('text output with --stats-only: the statistics table, no classifier', () => {
    const r = runCli(['realism', '--real', join(dir, 'real'), '--synth', join(dir, 'synth'), '--crop-bottom', '16', '--stats-only', '--quiet', '--patch', '32']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/C2ST accuracy/);
    expect(r.stdout).toMatch(/\| particles per Otsu component \|/);
    expect(r.stdout).toMatch(/Body profile .*\n  real: +1\.000 1\.000 .*lone particles\)\n  synthetic: +1\.000/);
  });

  it('--thickness adds the median local thickness to the table and the JSON; without it neither has it', () => {
    const args = ['realism', '--real', join(dir, 'real'), '--synth', join(dir, 'synth'), '--crop-bottom', '16', '--stats-only', '--quiet', '--patch', '32'];
    const plain = runCli(args);
    expect(plain.stdout).not.toMatch(/local thickness/);
    const r = runCli([...args, '--thickness']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| median local thickness \(px\) \| [0-9.]+ \| [0-9.]+ \|/);
    const j = JSON.parse(runCli([...args, '--thickness', '--json']).stdout);
    expect(j.stats.real.medianLocalThickness).toBeGreaterThan(0);
    expect(JSON.parse(runCli([...args, '--json']).stdout).stats.real).not.toHaveProperty('medianLocalThickness');
  });

  it('missing --synth: exit 2; an unreadable image: exit 3 naming it; a crop that leaves too little: exit 3', () => {
    const a = runCli(['realism', '--real', join(dir, 'real')]);
    expect(a.code).toBe(2);
    expect(errorLines(a)[0]).toMatch(/--synth is required/);
    const b = runCli(['realism', '--real', join(dir, 'not-an-image.png'), '--synth', join(dir, 'synth')]);
    expect(b.code).toBe(3);
    expect(errorLines(b)[0]).toMatch(/not-an-image\.png/);
    const c = runCli(['realism', '--real', join(dir, 'real'), '--synth', join(dir, 'synth'), '--crop-bottom', '40']);
    expect(c.code).toBe(3);
    expect(errorLines(c)[0]).toMatch(/r0\.png.*smaller than/);
  });
});
