/**
 * The classical baseline on real data: Otsu + distance-transform watershed on the dev-test split
 * of the TiO2-SEM set (Rühle, Krumrey, Hodoroaba, Sci. Rep. 11, 4942 (2021),
 * doi:10.1038/s41598-021-84287-6). The data live outside the repository, in
 * ../shared/data/tio2-sem relative to the repository root (never committed); without them
 * this file is skipped (a failure in CI, test/required-input.ts).
 *
 * No score is copied from an earlier run: every bound is derived here, from the data and from
 * arithmetic done in this file (an independent flood fill and pixel count), or from what a
 * trivial segmenter scores on the same images:
 *  - the ground-truth instance count equals an independent 4-connected flood fill of the mask;
 *  - DSC equals 2 |P and G| / (|P| + |G|) counted here over the foregrounds;
 *  - AP50 <= min(np, ng) / max(np, ng) and PQ <= RQ <= 2 min(np, ng) / (np + ng) (a match pairs
 *    one prediction with one truth, so TP <= min(np, ng));
 *  - the baseline beats the trivial segmenters: calling every pixel particle (DSC) and calling the
 *    whole foreground one particle (AP50, PQ);
 *  - its watershed split does what it is for: AP50 above the same pipeline without splitting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/io/index.js';
import { otsuInstances } from '../../src/particles/instances.js';
import { instancesFromBinaryMask } from '../../src/particles/labels.js';
import { measureParticles } from '../../src/particles/measure.js';
import { evaluate, meanOf, type EvalResult } from '../../src/seg/metrics.js';
import { summarizeSizes } from '../../src/seg/summary.js';
import { requireInput } from '../required-input.js';

const DATA = fileURLToPath(new URL('../../../shared/data/tio2-sem/', import.meta.url));
const present = requireInput(`the TiO2-SEM images and masks (${DATA})`, existsSync(join(DATA, 'images')) && existsSync(join(DATA, 'masks')), 'test/seg/real-data.test.ts');

const DEV_TEST = ['1908250', '1908266', '1908282', '1908298', '1908314', '1908324'];
/** Usable image: the bottom 64 rows of the 1024 x 768 micrographs are the data bar. */
const W = 1024;
const H = 704;

/** 4-connected components of the pixels > 0, by a flood fill written here (not labels.ts). */
function countComponents(mask: ArrayLike<number>, w: number, h: number): number {
  const seen = new Uint8Array(w * h);
  const stack: number[] = [];
  let n = 0;
  for (let s = 0; s < w * h; s++) {
    if (!(mask[s] > 0) || seen[s]) continue;
    n++;
    seen[s] = 1;
    stack.push(s);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w;
      for (const q of [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, p >= w ? p - w : -1, p + w < w * h ? p + w : -1]) {
        if (q >= 0 && mask[q] > 0 && !seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
  }
  return n;
}

function load(path: string): Float32Array {
  const img = decodeImage(new Uint8Array(readFileSync(path)), path);
  expect([img.width, img.height]).toEqual([1024, 768]);
  return img.data.slice(0, W * H);
}

describe.skipIf(!present)('TiO2-SEM dev-test: Otsu + distance-watershed baseline', () => {
  it('ground-truth instances, particle sizes and the baseline scores', () => {
    const results: EvalResult[] = [];
    const trivial: { allParticle: EvalResult; oneParticle: EvalResult; unsplit: EvalResult }[] = [];
    const rows: string[] = [];
    for (const id of DEV_TEST) {
      const image = load(join(DATA, 'images', `${id}.tif`));
      const mask = load(join(DATA, 'masks', `${id}_m.tif`));
      const gt = instancesFromBinaryMask(mask, W, H);
      expect(gt.count, `${id}: instances = flood-fill components`).toBe(countComponents(mask, W, H));
      const pred = otsuInstances(image, W, H);
      const r = evaluate(pred.labels, gt.labels, W, H);
      results.push(r);
      rows.push(`${id}  gt ${gt.count}  pred ${pred.count}  DSC ${r.dsc.toFixed(3)}  AP50 ${r.ap50.toFixed(3)}  PQ ${r.pq.toFixed(3)}`);
      // DSC against a pixel count done here.
      let both = 0, p = 0, g = 0;
      for (let i = 0; i < W * H; i++) {
        const a = pred.labels[i] > 0, b = gt.labels[i] > 0;
        if (a) p++;
        if (b) g++;
        if (a && b) both++;
      }
      expect(r.dsc, `${id}: DSC`).toBeCloseTo((2 * both) / (p + g), 9);
      // Matching bounds from the counts alone.
      const lo = Math.min(pred.count, gt.count), hi = Math.max(pred.count, gt.count);
      expect(r.ap50, `${id}: AP50 <= min/max count`).toBeLessThanOrEqual(lo / hi + 1e-12);
      expect(r.rq, `${id}: RQ <= 2 min / (np + ng)`).toBeLessThanOrEqual((2 * lo) / (pred.count + gt.count) + 1e-12);
      expect(r.pq, `${id}: PQ <= RQ`).toBeLessThanOrEqual(r.rq + 1e-12);
      // The trivial segmenters on the same image.
      const everything = new Int32Array(W * H).fill(1);
      const onePiece = Int32Array.from(pred.labels, (v) => (v > 0 ? 1 : 0));
      const unsplit = otsuInstances(image, W, H, { h: Number.MAX_VALUE }); // no marker deep enough to split
      trivial.push({ allParticle: evaluate(everything, gt.labels, W, H), oneParticle: evaluate(onePiece, gt.labels, W, H), unsplit: evaluate(unsplit.labels, gt.labels, W, H) });
      if (id === DEV_TEST[0]) {
        const sizes = summarizeSizes(measureParticles(gt.labels, W, H));
        expect(sizes.d50).toBeGreaterThan(15);
        expect(sizes.d50).toBeLessThan(150);
      }
    }
    const mean = meanOf(results);
    rows.push(`mean  DSC ${mean.dsc.toFixed(3)}  AP50 ${mean.ap50.toFixed(3)}  PQ ${mean.pq.toFixed(3)}  SQ ${mean.sq.toFixed(3)}  RQ ${mean.rq.toFixed(3)}`);
    console.log(`Otsu baseline, TiO2-SEM dev-test (GT as given, 4-connected instances):\n${rows.join('\n')}`);
    const all = meanOf(trivial.map((t) => t.allParticle));
    const one = meanOf(trivial.map((t) => t.oneParticle));
    expect(mean.dsc, 'DSC above calling every pixel particle').toBeGreaterThan(all.dsc);
    expect(mean.ap50, 'AP50 above one particle for the whole foreground').toBeGreaterThan(one.ap50);
    expect(mean.pq, 'PQ above one particle for the whole foreground').toBeGreaterThan(one.pq);
    expect(mean.ap50, 'AP50 above the same pipeline without the watershed split').toBeGreaterThan(meanOf(trivial.map((t) => t.unsplit)).ap50);
  });
});
