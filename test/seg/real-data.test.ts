/**
 * The classical baseline on real data: Otsu + distance-transform watershed on the dev-test split
 * of the TiO2-SEM set (Rühle, Krumrey, Hodoroaba, Sci. Rep. 11, 4942 (2021),
 * doi:10.1038/s41598-021-84287-6). The data live outside the repository, in
 * ../shared/data/tio2-sem relative to the repository root (never committed); without them
 * this file is skipped.
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
if (!present) console.warn(`test/seg/real-data.test.ts skipped: ${DATA} not found (TiO2-SEM data are not in the repository)`);

const DEV_TEST = ['1908250', '1908266', '1908282', '1908298', '1908314', '1908324'];
/** Usable image: the bottom 64 rows of the 1024 x 768 micrographs are the data bar. */
const W = 1024;
const H = 704;

function load(path: string): Float32Array {
  const img = decodeImage(new Uint8Array(readFileSync(path)), path);
  expect([img.width, img.height]).toEqual([1024, 768]);
  return img.data.slice(0, W * H);
}

describe.skipIf(!present)('TiO2-SEM dev-test: Otsu + distance-watershed baseline', () => {
  it('ground-truth instances, particle sizes and the baseline scores', () => {
    const results: EvalResult[] = [];
    const gtCounts: number[] = [];
    const rows: string[] = [];
    for (const id of DEV_TEST) {
      const image = load(join(DATA, 'images', `${id}.tif`));
      const gt = instancesFromBinaryMask(load(join(DATA, 'masks', `${id}_m.tif`)), W, H);
      gtCounts.push(gt.count);
      const pred = otsuInstances(image, W, H);
      const r = evaluate(pred.labels, gt.labels, W, H);
      results.push(r);
      rows.push(`${id}  gt ${gt.count}  pred ${pred.count}  DSC ${r.dsc.toFixed(3)}  AP50 ${r.ap50.toFixed(3)}  PQ ${r.pq.toFixed(3)}`);
      if (id === DEV_TEST[0]) {
        const sizes = summarizeSizes(measureParticles(gt.labels, W, H));
        expect(sizes.d50).toBeGreaterThan(15);
        expect(sizes.d50).toBeLessThan(150);
      }
    }
    const mean = meanOf(results);
    rows.push(`mean  DSC ${mean.dsc.toFixed(3)}  AP50 ${mean.ap50.toFixed(3)}  PQ ${mean.pq.toFixed(3)}  SQ ${mean.sq.toFixed(3)}  RQ ${mean.rq.toFixed(3)}`);
    console.log(`Otsu baseline, TiO2-SEM dev-test (GT as given, 4-connected instances):\n${rows.join('\n')}`);
    // The masks' 4-connected components (one-pixel separation lines, see labels.ts).
    expect(gtCounts).toEqual([26, 16, 332, 65, 282, 297]);
    // Regression lock on the baseline (values of the commit that added this test).
    expect(mean.dsc).toBeCloseTo(0.848, 2);
    expect(mean.ap50).toBeCloseTo(0.245, 2);
    expect(mean.pq).toBeCloseTo(0.307, 2);
  });
});
