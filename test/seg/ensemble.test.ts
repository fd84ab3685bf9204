import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, randn } from '../../src/autodiff/index.js';
import { UNet } from '../../src/seg/unet.js';
import { predictEnsemble, predictWithFlips, segmentImage } from '../../src/seg/infer.js';
import { runSegment } from '../../src/cli/segment.js';
import { writePngGrey8 } from '../../src/node/files.js';
import { discSet } from './unet-helpers.js';

/** A small U-Net in eval mode with non-trivial batch norm statistics, its weights from `seed`. */
function net(seed: number, config: ConstructorParameters<typeof UNet>[0] = { depth: 1, base: 3, distanceHead: true }): UNet {
  const rng = new Rng(seed);
  const m = new UNet(config, rng);
  for (const [name, t] of Object.entries(m.stateDict())) {
    if (name.endsWith('running_mean')) t.data.set(randn(t.shape, rng, 0.1).data);
    if (name.endsWith('running_var')) for (let i = 0; i < t.size; i++) t.data[i] = 0.5 + rng.uniform();
  }
  return m.eval();
}

/** A second network with `m`'s weights. */
function copyOf(m: UNet): UNet {
  const c = new UNet(m.config, new Rng(99));
  c.loadStateDict(m.stateDict());
  return c.eval();
}

describe('an ensemble of U-Nets', () => {
  const w = 20, h = 14;
  const x = new Float32Array(w * h).map((_, i) => Math.sin(i * 0.37) + (i % 5) / 5);
  const opts = { tile: 16, overlap: 4, flips: true };

  it('of two identical models predicts and segments exactly as the one model', () => {
    const a = net(4);
    const one = predictWithFlips(a, x, w, h, opts);
    expect(Array.from(predictEnsemble([a, copyOf(a)], x, w, h, opts))).toEqual(Array.from(one));
    const img = x.map((v) => (v + 1) / 3);
    const single = segmentImage(a, img, w, h, { tile: 16, minArea: 0 });
    const pair = segmentImage([a, copyOf(a)], img, w, h, { tile: 16, minArea: 0 });
    expect(Array.from(pair.probabilities)).toEqual(Array.from(single.probabilities));
    expect(Array.from(pair.instances.labels)).toEqual(Array.from(single.instances.labels));
    expect(pair.instances.count).toBe(single.instances.count);
  });

  it('averages its members\' flips-averaged probabilities and distance plane', () => {
    const a = net(4), b = net(5), c = net(6);
    const pa = predictWithFlips(a, x, w, h, opts), pb = predictWithFlips(b, x, w, h, opts), pc = predictWithFlips(c, x, w, h, opts);
    const e = predictEnsemble([a, b, c], x, w, h, opts);
    expect(e).toHaveLength(4 * w * h);
    let maxErr = 0, spread = 0;
    for (let i = 0; i < e.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(e[i] - (pa[i] + pb[i] + pc[i]) / 3));
      spread = Math.max(spread, Math.abs(pa[i] - pb[i]));
    }
    expect(maxErr).toBeLessThan(1e-6);
    expect(spread).toBeGreaterThan(1e-3); // the members really differ
    // Still probabilities over the three classes.
    const n = w * h;
    for (let i = 0; i < n; i += 17) expect(e[i] + e[n + i] + e[2 * n + i]).toBeCloseTo(1, 5);
  });

  it('refuses members whose outputs differ, naming them', () => {
    const a = net(4), plain = net(5, { depth: 1, base: 3 });
    expect(() => predictEnsemble([a, plain], x, w, h, opts)).toThrow(/ensemble member 2 has other outputs than member 1: classes 3, distance head false, rays 0 vs classes 3, distance head true, rays 0/);
    expect(() => predictEnsemble([], x, w, h, opts)).toThrow(/at least one model/);
  });
});

describe('segment predict / eval --model A,B', () => {
  let root: string;
  const quiet = { log: (_: string) => {}, error: (_: string) => {} };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'seg-ensemble-'));
    const ds = join(root, 'ds');
    for (const d of ['images', 'masks', 'real-images', 'real-masks']) mkdirSync(join(ds, d), { recursive: true });
    for (const s of discSet('d', 4, 24, 3)) {
      writePngGrey8(join(ds, 'images', `${s.name}.png`), 24, 24, s.image);
      writePngGrey8(join(ds, 'masks', `${s.name}.png`), 24, 24, s.classes);
      writePngGrey8(join(ds, 'real-images', `${s.name}.png`), 24, 24, s.image);
      writePngGrey8(join(ds, 'real-masks', `${s.name}_m.png`), 24, 24, s.instances.map((v) => (v ? 255 : 0)) as unknown as Uint8Array);
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const train = (out: string, more: string[] = []) =>
    runSegment(['train', '--data', join(root, 'ds'), '--out', join(root, out), '--batch', '2', '--crop', '16', '--base', '2', '--depth', '1', '--steps-per-epoch', '2', '--epochs', '1', '--backend', 'reference', ...more], quiet);
  const evalJson = async (model: string, more: string[] = []) => {
    const lines: string[] = [];
    expect(await runSegment(['eval', '--model', model, '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks'), '--min-area', '1', '--json', '--backend', 'reference', ...more], { log: (l) => lines.push(l), error: () => {} })).toBe(0);
    return JSON.parse(lines.join('\n'));
  };

  it('scores a model twice over as the model, an ensemble of two as itself, and names the members', async () => {
    expect(await train('a', ['--seed', '1'])).toBe(0);
    expect(await train('b', ['--seed', '2'])).toBe(0);
    const a = join(root, 'a'), b = join(root, 'b');
    const single = await evalJson(a);
    const twice = await evalJson(`${a},${a}`);
    expect(twice.model).toBe(`${a},${a}`);
    expect({ ...twice, model: a }).toEqual(single);
    const pair = await evalJson(`${a},${b}`);
    expect(pair.model).toBe(`${a},${b}`);
    expect(pair.images).toHaveLength(4);
    const out = join(root, 'pred');
    expect(await runSegment(['predict', '--model', `${a},${b}`, '--in', join(root, 'ds', 'images'), '--out', out, '--min-area', '1', '--backend', 'reference'], quiet)).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).model).toBe(`${a},${b}`);
  });

  it('refuses members that do not fit the first (exit 2, naming --model, the folders and each difference) and --adapt-bn', async () => {
    expect(await train('c', ['--seed', '1'])).toBe(0);
    expect(await train('wide', ['--base', '3'])).toBe(0);
    expect(await train('plain', ['--instance-target', 'none', '--normalisation', 'image-zscore'])).toBe(0);
    const c = join(root, 'c');
    const failure = (args: string[]) => runSegment(args, quiet).then(() => null, (e: unknown) => e as { exitCode: number; message: string });
    const ev = (model: string, more: string[] = []) => ['eval', '--model', model, '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks'), '--backend', 'reference', ...more];
    const wide = await failure(ev(`${c},${join(root, 'wide')}`));
    expect(wide?.exitCode).toBe(2);
    expect(wide?.message).toMatch(/--model: .*wide cannot join .*c in an ensemble: its base 3, not 2 \(--base\)/);
    const plain = await failure(ev(`${c},${join(root, 'plain')}`));
    expect(plain?.message).toMatch(/its distance head false, not true \(--instance-target\); normalisation image-zscore, not fixed \(--normalisation\)/);
    expect(await train('scaled', ['--seed', '1', '--scale', '1.5'])).toBe(0);
    const scaled = await failure(ev(`${c},${join(root, 'scaled')}`));
    expect(scaled?.message).toMatch(/its working scale 1.5, not 1 \(--scale\)/);
    const out = join(root, 'never');
    const pred = await failure(['predict', '--model', `${c},${join(root, 'wide')}`, '--in', join(root, 'ds', 'images'), '--out', out, '--backend', 'reference']);
    expect(pred?.exitCode).toBe(2);
    expect(existsSync(out)).toBe(false);
    const adapt = await failure(ev(`${c},${c}`, ['--adapt-bn', join(root, 'ds', 'real-images')]));
    expect(adapt?.exitCode).toBe(2);
    expect(adapt?.message).toMatch(/--adapt-bn adapts one model's batch norm; --model names an ensemble of 2/);
  });
});
