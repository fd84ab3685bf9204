/**
 * Contrast polarity (src/particles/polarity.ts) and every place that looks for particles by brightness:
 * the export's rejection rule, the annotation-free size / coverage calibration, the Otsu baseline
 * (segment eval / predict --method otsu), tile selection and the segmenter's input. Each is run
 * on small synthetic images of dark particles on a bright film (transmission contrast) and on
 * their bright-particle twins.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/autodiff/index.js';
import { brightParticleView, detectPolarity, particleFraction, polarityFromMasks } from '../../src/particles/polarity.js';
import { rejectReason } from '../../src/render/masks.js';
import { estimateParticleRadius } from '../../src/gan/calibrate.js';
import { extractPatches } from '../../src/gan/patches.js';
import { normaliseImage } from '../../src/seg/infer.js';
import { trainUNet } from '../../src/seg/train.js';
import { runSegment } from '../../src/cli/segment.js';
import { writePngGrey8 } from '../../src/node/files.js';
import { decodeImage } from '../../src/io/decode.js';
import { classesFromInstances } from '../../src/seg/classmask.js';
import { requireInput } from '../required-input.js';

/** Discs (instances) on a film: bright particles 0.75 on 0.25, quantised to k / 256 (exact under 1 - v). */
function discs(size: number, rng: Rng, maxDiscs = 4): { image: Float32Array; instances: Int32Array } {
  const instances = new Int32Array(size * size);
  const n = 1 + rng.int(maxDiscs);
  for (let k = 1; k <= n; k++) {
    const r = rng.range(size * 0.08, size * 0.14);
    const cx = rng.range(r + 1, size - r - 1), cy = rng.range(r + 1, size - r - 1);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r && !instances[y * size + x]) instances[y * size + x] = k;
  }
  const image = new Float32Array(size * size);
  for (let i = 0; i < image.length; i++) image[i] = Math.round(256 * Math.min(1, Math.max(0, (instances[i] ? 0.75 : 0.25) + rng.normal(0, 0.04)))) / 256;
  return { image, instances };
}
const invert = (a: Float32Array) => a.map((v) => 1 - v);

describe('polarity detection', () => {
  it('finds bright particles on a dark film and dark ones on a bright film (any disc layout)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 4 }), (seed, count) => {
        const rng = new Rng(seed);
        const imgs = Array.from({ length: count }, () => discs(48, rng).image);
        expect(detectPolarity(imgs.map((data) => ({ data }))).polarity).toBe('bright');
        const dark = detectPolarity(imgs.map((d) => ({ data: invert(d) })));
        expect(dark.polarity).toBe('dark');
        expect(dark.brightFraction).toBeGreaterThan(0.5);
      }),
      { numRuns: 25 },
    );
  });

  it('pools over the images, and refuses an empty set', () => {
    // One image mostly bright cannot outvote three that are mostly dark.
    const mostlyBright = new Float32Array(100).map((_, i) => (i < 70 ? 1 : 0));
    const mostlyDark = new Float32Array(100).map((_, i) => (i < 20 ? 1 : 0));
    expect(detectPolarity([{ data: mostlyBright }, { data: mostlyDark }, { data: mostlyDark }, { data: mostlyDark }]).polarity).toBe('bright');
    expect(detectPolarity([{ data: mostlyBright }, { data: mostlyBright }, { data: mostlyDark }]).polarity).toBe('dark');
    expect(() => detectPolarity([])).toThrow(/no pixels/);
  });

  it('reads the polarity of annotated pairs off their masks', () => {
    const rng = new Rng(3);
    const s = discs(32, rng);
    expect(polarityFromMasks([{ image: s.image, classes: s.instances }])).toBe('bright');
    expect(polarityFromMasks([{ image: invert(s.image), classes: s.instances }])).toBe('dark');
    expect(polarityFromMasks([{ image: s.image, classes: new Int32Array(s.image.length) }])).toBe('bright');
    expect(() => polarityFromMasks([{ image: s.image, classes: new Int32Array(3) }])).toThrow(/mask 3/);
  });

  it('particle fraction is the same for an image and its inverted twin, each with its polarity', () => {
    const rng = new Rng(5);
    const s = discs(64, rng);
    let truth = 0;
    for (const v of s.instances) truth += v ? 1 : 0;
    truth /= s.instances.length;
    const bright = particleFraction(s.image, 'bright');
    expect(bright).toBeCloseTo(truth, 2);
    expect(particleFraction(invert(s.image), 'dark')).toBeCloseTo(bright, 2);
    // The wrong polarity counts the film.
    expect(particleFraction(invert(s.image), 'bright')).toBeGreaterThan(0.5);
    expect(Array.from(brightParticleView(invert(s.image), 'dark'))).toEqual(Array.from(s.image));
  });
});

describe('export rejection rule', () => {
  const W = 10;
  const inst = new Uint16Array(W * W).map((_, i) => (i % W < 4 ? 1 : 0));
  const img = (fg: number, bg: number) => Float32Array.from(inst, (v) => (v ? fg : bg));
  it('dark particles on a bright film pass with polarity dark and fail with bright', () => {
    expect(rejectReason(img(0.2, 0.8), inst, { polarity: 'dark' })).toBeNull();
    expect(rejectReason(img(0.2, 0.8), inst)).toMatch(/low contrast: mean background/);
    expect(rejectReason(img(0.8, 0.2), inst, { polarity: 'dark' })).toMatch(/dark particles/);
  });
  it('the contrast factor applies to the particle side for dark particles', () => {
    // 0.7 x 1.15 = 0.805 > 0.8: rejected; 0.69 x 1.15 = 0.7935: kept.
    expect(rejectReason(img(0.7, 0.8), inst, { polarity: 'dark' })).toMatch(/0\.700 x 1\.15 > mean background 0\.800/);
    expect(rejectReason(img(0.69, 0.8), inst, { polarity: 'dark' })).toBeNull();
  });
});

describe('calibration and tiles on dark particles', () => {
  it('estimates the same particle radius from dark-particle images as from their bright twins', () => {
    const rng = new Rng(11);
    const imgs = Array.from({ length: 8 }, () => ({ width: 96, height: 96, data: discs(96, rng, 6).image }));
    const bright = estimateParticleRadius(imgs, 'bright')!;
    const dark = estimateParticleRadius(imgs.map((i) => ({ ...i, data: invert(i.data) })), 'dark')!;
    expect(bright.count).toBeGreaterThanOrEqual(6);
    expect(dark.count).toBe(bright.count);
    expect(dark.radius).toBeCloseTo(bright.radius, 0);
    expect(bright.radius).toBeGreaterThan(96 * 0.07);
    expect(bright.radius).toBeLessThan(96 * 0.15);
    // Read as bright particles, the film is one big "particle" touching the border: nothing to measure or a wrong size.
    const wrong = estimateParticleRadius(imgs.map((i) => ({ ...i, data: invert(i.data) })), 'bright');
    expect(wrong === null || Math.abs(wrong.radius - bright.radius) > 1).toBe(true);
  });

  it('keeps the tiles that hold a dark particle, drops the empty film', () => {
    const rng = new Rng(2);
    // 2 x 1 tiles of 48 px: discs only in the left one.
    const left = discs(48, rng).image;
    const data = new Float32Array(96 * 48);
    for (let y = 0; y < 48; y++) for (let x = 0; x < 96; x++) data[y * 96 + x] = x < 48 ? left[y * 48 + x] : Math.round(256 * (0.25 + rng.normal(0, 0.04))) / 256;
    const bright = extractPatches({ width: 96, height: 48, data }, 'b', { patch: 48, polarity: 'bright' });
    const dark = extractPatches({ width: 96, height: 48, data: invert(data) }, 'd', { patch: 48, polarity: 'dark' });
    expect(bright.kept.map((p) => p.x)).toEqual([0]);
    expect(dark.kept.map((p) => p.x)).toEqual([0]);
    expect(dark.kept[0].particleFraction).toBeCloseTo(bright.kept[0].particleFraction, 6);
    // Read with the wrong polarity, the film counts as particle.
    const wrong = extractPatches({ width: 96, height: 48, data: invert(data) }, 'w', { patch: 48, polarity: 'bright', filter: false });
    expect(wrong.kept[0].particleFraction).toBeGreaterThan(0.5);
  });
});

describe('segmenter input', () => {
  it('normalises a dark-particle image as its bright twin', () => {
    const s = discs(16, new Rng(4));
    for (const n of ['fixed', 'image-zscore'] as const) expect(Array.from(normaliseImage(invert(s.image), n, 'dark'))).toEqual(Array.from(normaliseImage(s.image, n, 'bright')));
  });

  it('trains on dark-particle pairs exactly as on their bright twins, and the model remembers the polarity', () => {
    const rng = new Rng(9);
    const samples = Array.from({ length: 3 }, (_, k) => {
      const s = discs(16, rng);
      return { name: `s${k}`, width: 16, height: 16, image: s.image, classes: classesFromInstances(s.instances, 16, 16) };
    });
    const cfg = { epochs: 1, batch: 2, crop: 16, seed: 1, stepsPerEpoch: 2 };
    const a = trainUNet(samples, { depth: 1, base: 2 }, cfg);
    const b = trainUNet(samples.map((s) => ({ ...s, image: invert(s.image) })), { depth: 1, base: 2 }, cfg);
    expect(a.checkpoint.model.polarity).toBe('bright');
    expect(b.checkpoint.model.polarity).toBe('dark');
    const wa = a.model.stateDict(), wb = b.model.stateDict();
    for (const k of Object.keys(wa)) expect(Array.from(wb[k].data), k).toEqual(Array.from(wa[k].data));
    // Told the wrong polarity, it trains on the film instead.
    const c = trainUNet(samples.map((s) => ({ ...s, image: invert(s.image) })), { depth: 1, base: 2 }, { ...cfg, polarity: 'bright' });
    expect(Array.from(c.model.stateDict()[Object.keys(wa)[0]].data)).not.toEqual(Array.from(wa[Object.keys(wa)[0]].data));
  });
});

describe('Otsu baseline CLI on dark particles', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'polarity-cli-'));
    mkdirSync(join(root, 'images'));
    mkdirSync(join(root, 'masks'));
    const rng = new Rng(21);
    for (let k = 0; k < 3; k++) {
      const s = discs(64, rng);
      // An 8-row data bar under each image; the masks are drawn on the image without it (as TSEM's are).
      const withBar = new Float32Array(64 * 72).fill(0.1);
      withBar.set(invert(s.image));
      writePngGrey8(join(root, 'images', `t${k}.png`), 64, 72, withBar);
      writePngGrey8(join(root, 'masks', `t${k}_m.png`), 64, 64, Uint8Array.from(s.instances, (v) => (v ? 255 : 0)));
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const evalOtsu = async (extra: string[]): Promise<{ polarity: string; mean: { dsc: number } }> => {
    const lines: string[] = [];
    const notes: string[] = [];
    expect(await runSegment(['eval', '--method', 'otsu', '--images', join(root, 'images'), '--masks', join(root, 'masks'), '--min-area', '10', '--crop-bottom', '8', '--json', ...extra], { log: (l) => lines.push(l), error: (l) => notes.push(l) })).toBe(0);
    return JSON.parse(lines.join('\n'));
  };

  it('detects the dark particles and segments them; --polarity bright segments the film', async () => {
    const auto = await evalOtsu([]);
    expect(auto.polarity).toBe('dark');
    expect(auto.mean.dsc).toBeGreaterThan(0.9);
    expect((await evalOtsu(['--polarity', 'dark'])).mean.dsc).toBeCloseTo(auto.mean.dsc, 6);
    expect((await evalOtsu(['--polarity', 'bright'])).mean.dsc).toBeLessThan(0.5);
  });

  it('predict writes the dark particles', async () => {
    const out = join(root, 'pred');
    const lines: string[] = [];
    expect(await runSegment(['predict', '--method', 'otsu', '--in', join(root, 'images'), '--out', out, '--min-area', '10', '--crop-bottom', '8'], { log: (l) => lines.push(l), error: () => {} })).toBe(0);
    expect(lines.some((l) => /contrast polarity: dark particles, detected/.test(l))).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.overall.count + 0).toBeGreaterThan(0);
  });
});

const dataRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
const haveData = requireInput(`the TiO2-SEM and TSEM images (${dataRoot})`, existsSync(join(dataRoot, 'tio2-tsem/images')) && existsSync(join(dataRoot, 'tio2-sem/images')), 'test/particles/polarity.test.ts');

describe('TiO2 SEM and TSEM images', () => {
  it.skipIf(!haveData)('SEM images show bright particles, TSEM images dark ones (detected without masks)', () => {
    for (const [set, crop, want] of [['tio2-sem', 64, 'bright'], ['tio2-tsem', 56, 'dark']] as const) {
      const dir = join(dataRoot, set, 'images');
      const imgs = readdirSync(dir).filter((f) => f.endsWith('.tif')).sort().slice(0, 6).map((f) => {
        const im = decodeImage(readFileSync(join(dir, f)), f);
        return { data: im.data.subarray(0, im.width * (im.height - crop)) };
      });
      expect(detectPolarity(imgs).polarity, set).toBe(want);
    }
  });
});
