import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePngGrey8 } from '../../src/node/files.js';
import { InputError, UserError } from '../../src/errors.js';
import { runSegment, parseGrowMasks, segmentSpec, subcommandOf } from '../../src/cli/segment.js';
import { parsePixelSize } from '../../src/node/pixel-size.js';
import { segmentEval, segmentPredict, segmentReuse, segmentTrain } from '../../src/node/segment.js';
import { readAnnotatedSet, readSegDataset, readSegInstances } from '../../src/node/seg-dataset.js';
import { addTouchingBand, classesFromInstances } from '../../src/seg/classmask.js';
import { writePngGrey16 } from '../../src/node/files.js';
import { discSet } from './unet-helpers.js';

const quiet = { log: (_: string) => {}, error: (_: string) => {} };
let root: string;

/** Writes disc samples as a class-mask dataset (images/ + masks/) and as real-style tif-named pairs. */
function writeDiscs(dir: string, n: number, size: number, seed: number): void {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  mkdirSync(join(dir, 'real-images'), { recursive: true });
  mkdirSync(join(dir, 'real-masks'), { recursive: true });
  for (const s of discSet('d', n, size, seed)) {
    writePngGrey8(join(dir, 'images', `${s.name}.png`), size, size, s.image);
    writePngGrey8(join(dir, 'masks', `${s.name}.png`), size, size, s.classes);
    writePngGrey8(join(dir, 'real-images', `${s.name}.png`), size, size, s.image);
    writePngGrey8(join(dir, 'real-masks', `${s.name}_m.png`), size, size, s.instances.map((v) => (v ? 255 : 0)) as unknown as Uint8Array);
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'segment-cli-'));
  writeDiscs(join(root, 'ds'), 4, 24, 3);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('segment CLI', () => {
  it('picks the subcommand spec from the command line; every subcommand has --help', async () => {
    expect(subcommandOf(['segment', 'eval', '--json'])).toBe('eval');
    expect(segmentSpec('train').flags.some((f) => f.name === 'resume')).toBe(true);
    expect(segmentSpec('nope').flags).toEqual([]);
    for (const sub of ['train', 'predict', 'eval']) {
      const lines: string[] = [];
      expect(await runSegment([sub, '--help'], { log: (l) => lines.push(l), error: () => {} })).toBe(0);
      expect(lines.join('\n')).toMatch(new RegExp(`segment ${sub}`));
    }
    await expect(runSegment(['fit'], quiet)).rejects.toThrow(/unknown subcommand 'fit'/);
    await expect(runSegment(['eval', '--epochs', '3'], quiet)).rejects.toThrow(/unknown flag --epochs/);
  });

  it('names the missing model directory, data directory or flag, and writes nothing', async () => {
    const out = join(root, 'never');
    const img = join(root, 'ds', 'images', 'd000.png');
    await expect(runSegment(['predict', '--model', join(root, 'no-model'), '--in', img, '--out', out], quiet)).rejects.toThrow(InputError);
    await expect(runSegment(['predict', '--model', join(root, 'no-model'), '--in', img, '--out', out], quiet)).rejects.toThrow(/no-model: model directory not found/);
    await expect(runSegment(['eval', '--model', join(root, 'ds'), '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks')], quiet)).rejects.toThrow(/config\.json: missing/);
    await expect(runSegment(['train', '--data', join(root, 'nowhere'), '--out', out], quiet)).rejects.toThrow(/nowhere: dataset directory not found/);
    await expect(runSegment(['train', '--images', join(root, 'nowhere'), '--masks', join(root, 'ds', 'masks'), '--out', out], quiet)).rejects.toThrow(/nowhere: image directory not found/);
    await expect(runSegment(['train', '--data', join(root, 'ds')], quiet)).rejects.toThrow(/--out is required/);
    await expect(runSegment(['predict', '--method', 'otsu', '--in', join(root, 'missing.png'), '--out', out], quiet)).rejects.toThrow(/missing\.png/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses masks whose size differs from their image, naming the mask', async () => {
    const dir = join(root, 'bad');
    mkdirSync(join(dir, 'images'), { recursive: true });
    mkdirSync(join(dir, 'masks'), { recursive: true });
    writePngGrey8(join(dir, 'images', 'a.png'), 8, 8, new Uint8Array(64));
    writePngGrey8(join(dir, 'masks', 'a_m.png'), 8, 6, new Uint8Array(48));
    writePngGrey8(join(dir, 'masks', 'a.png'), 8, 8, new Uint8Array(64).fill(7));
    await expect(runSegment(['eval', '--method', 'otsu', '--images', join(dir, 'images'), '--masks', join(dir, 'masks')], quiet)).rejects.toThrow(/a_m\.png: is 8 x 6 but its image/);
    expect(() => readSegDataset(dir)).toThrow(/a\.png: pixel 0 has value 7/);
    expect(() => readAnnotatedSet(join(dir, 'images'), join(dir, 'masks'), { ids: ['zz'] })).toThrow(/no image named zz/);
  });

  it('reads both dataset layouts and real-style masks; crops the data bar', () => {
    const ds = readSegDataset(join(root, 'ds'));
    expect(ds.map((s) => s.name)).toEqual(['d000', 'd001', 'd002', 'd003']);
    const nn = join(root, 'nnunet');
    mkdirSync(join(nn, 'imagesTr'), { recursive: true });
    mkdirSync(join(nn, 'labelsTr'), { recursive: true });
    writePngGrey8(join(nn, 'imagesTr', 'case_0000.png'), 24, 24, ds[0].image);
    writePngGrey8(join(nn, 'labelsTr', 'case.png'), 24, 24, ds[0].classes);
    const nnds = readSegDataset(nn);
    expect(nnds[0].name).toBe('case');
    expect(Array.from(nnds[0].classes)).toEqual(Array.from(ds[0].classes));
    const real = readAnnotatedSet(join(root, 'ds', 'real-images'), join(root, 'ds', 'real-masks'), { cropBottom: 4, ids: ['d001'] });
    expect(real).toHaveLength(1);
    expect([real[0].width, real[0].height]).toEqual([24, 20]);
    expect(real[0].instanceCount).toBeGreaterThan(0);
  });

  it('classesFromInstances: 1-px ring per instance, separation lines become contour', () => {
    // Two 4x3 instances separated by a one-pixel background column.
    const w = 9, h = 3;
    const lab = Int32Array.from({ length: w * h }, (_, i) => ((i % w) < 4 ? 1 : (i % w) > 4 ? 2 : 0));
    const c = classesFromInstances(lab, w, h);
    const rows = Array.from({ length: h }, (_, y) => Array.from(c.subarray(y * w, y * w + w)).join(''));
    // Row 0 / 2 touch the image border (not contour) except where they meet the other instance.
    expect(rows).toEqual(['111222111', '111222111', '111222111']);
    const big = new Int32Array(25).fill(0);
    for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) big[y * 5 + x] = 1;
    expect(Array.from(classesFromInstances(big, 5, 5)).join('')).toBe('0000002220021200222000000');
  });

  it('addTouchingBand: particle pixels near another particle become contour, nowhere else', () => {
    // Two 5x5 squares touching along x = 4 | 5, and a lone square far away.
    const w = 20, h = 7;
    const lab = new Int32Array(w * h);
    for (let y = 1; y < 6; y++) for (let x = 0; x < 15; x++) lab[y * w + x] = x < 5 ? 1 : x < 10 ? 2 : 0;
    for (let y = 1; y < 6; y++) for (let x = 14; x < 19; x++) lab[y * w + x] = 3;
    const c = classesFromInstances(lab, w, h);
    const before = c.slice();
    addTouchingBand(c, lab, w, h, 2);
    const row = (y: number) => Array.from(c.subarray(y * w, y * w + w)).join('');
    // Row 3: x = 3, 4 (instance 1) and 5, 6 (instance 2) lie within 2 px of the other one; the lone square is unchanged.
    expect(row(3).slice(0, 12)).toBe('111222211200');
    expect(Array.from(before.subarray(3 * w, 3 * w + 12)).join('')).toBe('111122111200');
    for (let y = 0; y < h; y++) for (let x = 12; x < w; x++) expect(c[y * w + x]).toBe(before[y * w + x]);
    expect(Array.from(addTouchingBand(before.slice(), lab, w, h, 0))).toEqual(Array.from(before));
    expect(() => addTouchingBand(c, lab, w, h, 17)).toThrow(UserError);
  });

  it('readSegInstances: the exact instance maps when the dataset has them, else the class masks\' instances', () => {
    const ds = readSegDataset(join(root, 'ds'));
    const derived = readSegInstances(join(root, 'ds'), ds);
    expect(Math.max(...derived[0].instances)).toBeGreaterThan(0);
    const withInst = join(root, 'ds-inst');
    mkdirSync(join(withInst, 'images'), { recursive: true });
    mkdirSync(join(withInst, 'masks'), { recursive: true });
    mkdirSync(join(withInst, 'instances'), { recursive: true });
    const s = discSet('e', 1, 24, 5)[0];
    writePngGrey8(join(withInst, 'images', 'e000.png'), 24, 24, s.image);
    writePngGrey8(join(withInst, 'masks', 'e000.png'), 24, 24, s.classes);
    writePngGrey16(join(withInst, 'instances', 'e000.png'), 24, 24, Uint16Array.from(s.instances, (v) => v * 7));
    const exact = readSegInstances(withInst, readSegDataset(withInst));
    expect(Array.from(exact[0].instances)).toEqual(Array.from(s.instances, (v) => v * 7));
  });

  it("--instance-target none trains the three classes only; --instances distance then refuses the model", async () => {
    const model = join(root, 'model-none');
    const common = ['--data', join(root, 'ds'), '--out', model, '--batch', '2', '--crop', '16', '--base', '2', '--depth', '1', '--steps-per-epoch', '1', '--epochs', '1', '--backend', 'reference'];
    expect(await runSegment(['train', ...common, '--instance-target', 'none'], quiet)).toBe(0);
    expect(JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).unet.distanceHead).toBeFalsy();
    const ev = ['eval', '--model', model, '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks'), '--min-area', '1', '--json', '--backend', 'reference'];
    expect(await runSegment(ev, quiet)).toBe(0);
    await expect(runSegment([...ev, '--instances', 'distance'], quiet)).rejects.toThrow(/needs a model trained with a distance head/);
    await expect(runSegment(['train', ...common, '--out', join(root, 'model-bad'), '--instance-target', 'centre'], quiet)).rejects.toThrow(/instance-target/);
  });

  it('--instance-target stardist --rays R saves the rays; eval --instances stardist uses them; a bad ray count is a usage error', async () => {
    const model = join(root, 'model-star');
    const common = ['--data', join(root, 'ds'), '--out', model, '--batch', '2', '--crop', '16', '--base', '2', '--depth', '1', '--steps-per-epoch', '1', '--epochs', '1', '--backend', 'reference'];
    expect(await runSegment(['train', ...common, '--instance-target', 'stardist', '--rays', '8'], quiet)).toBe(0);
    const unet = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).unet;
    expect([unet.distanceHead, unet.rays]).toEqual([true, 8]);
    const ev = ['eval', '--model', model, '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks'), '--min-area', '1', '--json', '--backend', 'reference'];
    expect(await runSegment([...ev, '--instances', 'stardist', '--stardist-prob', '0.2', '--stardist-nms', '0.5'], quiet)).toBe(0);
    expect(await runSegment([...ev, '--instances', 'stardist', '--stardist-relative', '0.95', '--stardist-nms', '0.02'], quiet)).toBe(0);
    await expect(runSegment([...ev, '--instances', 'stardist', '--stardist-prob', '2'], quiet)).rejects.toThrow(/stardist-prob/);
    await expect(runSegment(['train', ...common, '--out', join(root, 'model-star-bad'), '--instance-target', 'stardist', '--rays', '6'], quiet)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--rays must be a multiple of 4/) });
  });

  it('--ema-steps saves the averaged weights, which eval uses; a bad value is a usage error', async () => {
    const model = join(root, 'model-ema');
    const common = ['--data', join(root, 'ds'), '--out', model, '--batch', '2', '--crop', '16', '--base', '2', '--depth', '1', '--steps-per-epoch', '2', '--epochs', '1', '--backend', 'reference'];
    expect(await runSegment(['train', ...common, '--ema-steps', '2'], quiet)).toBe(0);
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    expect(config.inferenceWeights).toBe('average.safetensors');
    expect(config.train.emaSteps).toBe(2);
    expect(existsSync(join(model, 'average.safetensors'))).toBe(true);
    const ev = ['eval', '--model', model, '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks'), '--min-area', '1', '--json', '--backend', 'reference'];
    expect(await runSegment(ev, quiet)).toBe(0);
    // The file config.json names must be there.
    rmSync(join(model, 'average.safetensors'));
    await expect(runSegment(ev, quiet)).rejects.toThrow(/average\.safetensors: missing/);
    await expect(runSegment(['train', ...common, '--out', join(root, 'model-ema-bad'), '--ema-steps', '-1'], quiet)).rejects.toThrow(/ema-steps/);
    await expect(segmentTrain({ source: { data: join(root, 'ds') }, out: join(root, 'model-ema-bad'), train: { emaSteps: 0.5 } }, quiet)).rejects.toThrow(/--ema-steps must be an integer/);
    expect(existsSync(join(root, 'model-ema-bad'))).toBe(false);
  });

  it('--warmup-steps is recorded in config.json; a bad value is a usage error', async () => {
    const model = join(root, 'model-warmup');
    const common = ['--data', join(root, 'ds'), '--out', model, '--batch', '2', '--crop', '16', '--base', '2', '--depth', '1', '--steps-per-epoch', '2', '--epochs', '1', '--backend', 'reference'];
    expect(await runSegment(['train', ...common, '--warmup-steps', '3'], quiet)).toBe(0);
    expect(JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).train.warmupSteps).toBe(3);
    await expect(runSegment(['train', ...common, '--out', join(root, 'model-warmup-bad'), '--warmup-steps', '-1'], quiet)).rejects.toThrow(/warmup-steps/);
    await expect(segmentTrain({ source: { data: join(root, 'ds') }, out: join(root, 'model-warmup-bad'), train: { warmupSteps: 0.5 } }, quiet)).rejects.toThrow(/--warmup-steps must be an integer/);
    expect(existsSync(join(root, 'model-warmup-bad'))).toBe(false);
  });

  it('parses pixel sizes', () => {
    expect(parsePixelSize('2.1nm')).toEqual({ size: 2.1, unit: 'nm' });
    expect(parsePixelSize('0.5µm')).toEqual({ size: 0.5, unit: 'um' });
    expect(() => parsePixelSize('-1nm')).toThrow(UserError);
    expect(parseGrowMasks('auto')).toBe('auto');
    expect(parseGrowMasks('3')).toBe(3);
    for (const bad of ['-1', '1.5', 'x', '', '65']) expect(() => parseGrowMasks(bad), bad).toThrow(UserError);
  });

  it('train -> predict -> eval end to end on tiny discs (and --resume continues)', async () => {
    const model = join(root, 'model');
    const lines: string[] = [];
    const log = { log: (l: string) => lines.push(l), error: () => {} };
    const common = ['--data', join(root, 'ds'), '--out', model, '--batch', '2', '--crop', '16', '--base', '2', '--depth', '1', '--steps-per-epoch', '2', '--backend', 'reference'];
    expect(await runSegment(['train', ...common, '--epochs', '1'], log)).toBe(0);
    expect(lines.some((l) => /^epoch 1 step 2\/2 loss [0-9.]+ .* steps\/s ETA/.test(l))).toBe(true);
    await expect(runSegment(['train', ...common, '--epochs', '2'], log)).rejects.toThrow(/already holds a model/);
    // The touching band changes the masks, so a resumed run may not change it.
    await expect(runSegment(['train', ...common, '--epochs', '2', '--resume', '--touch-band', '1'], log)).rejects.toThrow(/trained with --touch-band 0; resume it with the same value \(got 1\)/);
    expect(await runSegment(['train', ...common, '--epochs', '2', '--resume'], log)).toBe(0);
    expect(lines.some((l) => /resumed at step 2/.test(l))).toBe(true);
    expect(JSON.parse(readFileSync(join(model, 'train-state.json'), 'utf8')).epoch).toBe(2);
    expect(JSON.parse(readFileSync(join(model, 'done'), 'utf8'))).toMatchObject({ epoch: 2, finished: true });
    // A finished run resumed with the same length has nothing to do.
    expect(await runSegment(['train', ...common, '--epochs', '2', '--resume'], log)).toBe(0);
    expect(lines.at(-1)).toMatch(/nothing to do/);
    // The instance methods, the network's own outlines and one pass without test-time flips run through eval.
    expect(JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).unet.distanceHead).toBe(true);
    for (const extra of [['--instances', 'seeds'], ['--instances', 'watershed'], ['--instances', 'distance'], ['--outlines', 'network'], ['--flips=false']]) {
      const out: string[] = [];
      expect(await runSegment(['eval', '--model', model, '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks'), '--min-area', '1', '--json', '--backend', 'reference', ...extra], { log: (l) => out.push(l), error: () => {} })).toBe(0);
      expect(JSON.parse(out.join('\n')).images).toHaveLength(4);
    }
    const out = join(root, 'pred');
    expect(await runSegment(['predict', '--model', model, '--in', join(root, 'ds', 'images'), '--out', out, '--pixel-size', '2nm', '--min-area', '1', '--backend', 'reference'], log)).toBe(0);
    for (const f of ['d000_instances.png', 'd000_classes.png', 'd000_overlay.png', 'particles.csv', 'summary.json', 'size-distribution.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'particles.csv'), 'utf8')).toMatch(/nm/);
    const json: string[] = [];
    expect(await runSegment(['eval', '--method', 'otsu', '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks'), '--json'], { log: (l) => json.push(l), error: () => {} })).toBe(0);
    const r = JSON.parse(json.join('\n'));
    expect(r.images).toHaveLength(4);
    expect(r.mean.dsc).toBeGreaterThan(0.8);
    // The sizing figures, per image and pooled, in the JSON and in the table.
    expect(r.sizing.count.truth).toBeGreaterThan(0);
    expect(r.images[0].sizing.ecd.relError).toHaveProperty('d50');
    expect(r.sizing.count.truth).toBe(r.images.reduce((s: number, i: { sizing: { count: { truth: number } } }) => s + i.sizing.count.truth, 0));
    const table: string[] = [];
    expect(await runSegment(['eval', '--method', 'otsu', '--images', join(root, 'ds', 'real-images'), '--masks', join(root, 'ds', 'real-masks')], { log: (l) => table.push(l), error: () => {} })).toBe(0);
    expect(table.some((l) => /^pooled +\d+ +\d+ /.test(l))).toBe(true);
    expect(table.some((l) => /^pooled 95 % intervals: ECD D10/.test(l))).toBe(true);
  });

  it('reuse: eval takes the segmentations predict made of the same images (same model and settings), with the same report', async () => {
    const model = join(root, 'model-reuse');
    const images = join(root, 'ds', 'real-images');
    const masks = join(root, 'ds', 'real-masks');
    await segmentTrain({ source: { data: join(root, 'ds') }, out: model, unet: { base: 2, depth: 1 }, train: { epochs: 1, batch: 2, crop: 16, stepsPerEpoch: 2 }, backend: 'reference' }, quiet);
    const seg = { model, minArea: 1, backend: 'reference' };
    const reuse = segmentReuse();
    await segmentPredict({ ...seg, inputs: [images], out: join(root, 'pred-reuse'), reuse }, quiet);
    expect([reuse.hits, reuse.misses]).toEqual([0, 4]);
    const reused = await segmentEval({ ...seg, images, masks, reuse }, quiet);
    expect([reuse.hits, reuse.misses]).toEqual([4, 4]);
    expect(reused).toEqual(await segmentEval({ ...seg, images, masks }, quiet));
    // Other settings or another segmenter segment again.
    await segmentEval({ ...seg, images, masks, reuse, flips: false }, quiet);
    await segmentEval({ method: 'otsu', images, masks, minArea: 1, reuse }, quiet);
    expect([reuse.hits, reuse.misses]).toEqual([4, 12]);
  });

  it('--adapt-bn adapts the U-Net to the given images before eval / predict, and refuses bad input with the documented exit codes, writing nothing', async () => {
    const model = join(root, 'model-adapt');
    await segmentTrain({ source: { data: join(root, 'ds') }, out: model, unet: { base: 2, depth: 1 }, train: { epochs: 1, batch: 2, crop: 16, stepsPerEpoch: 2 }, backend: 'reference' }, quiet);
    const images = join(root, 'ds', 'real-images');
    const masks = join(root, 'ds', 'real-masks');
    const evalArgs = ['eval', '--model', model, '--images', images, '--masks', masks, '--min-area', '1', '--json', '--backend', 'reference'];
    const lines: string[] = [];
    expect(await runSegment([...evalArgs, '--adapt-bn', join(images, 'd000.png'), join(images, 'd001.png')], { log: () => {}, error: (l) => lines.push(l) })).toBe(0);
    expect(lines.some((l) => /^batch norm adapted to 2 images \(2 tiles of 32 px; --adapt-bn\)/.test(l))).toBe(true);
    // A folder: its masks (NAME_m.*) are skipped.
    const mixed = join(root, 'adapt-mixed');
    mkdirSync(mixed, { recursive: true });
    writePngGrey8(join(mixed, 'a.png'), 24, 24, new Uint8Array(576).fill(90));
    writePngGrey8(join(mixed, 'a_m.png'), 24, 24, new Uint8Array(576).fill(255));
    lines.length = 0;
    expect(await runSegment([...evalArgs, '--adapt-bn', mixed], { log: () => {}, error: (l) => lines.push(l) })).toBe(0);
    expect(lines.some((l) => /^batch norm adapted to 1 images/.test(l))).toBe(true);

    const code = (e: unknown) => (e as UserError).exitCode;
    const onlyMasks = join(root, 'adapt-masks');
    mkdirSync(onlyMasks, { recursive: true });
    writePngGrey8(join(onlyMasks, 'a_m.png'), 24, 24, new Uint8Array(576));
    const out = join(root, 'pred-adapt-never');
    const predictArgs = ['predict', '--model', model, '--in', images, '--out', out, '--backend', 'reference'];
    for (const [args, message, exit] of [
      [[...predictArgs, '--adapt-bn', join(root, 'no-such.png')], /no-such\.png/, 3],
      [[...predictArgs, '--adapt-bn', onlyMasks], /--adapt-bn: only masks/, 3],
      [[...predictArgs, '--adapt-bn', '--min-area', '1'], /--adapt-bn needs a value/, 2],
      [['predict', '--method', 'otsu', '--in', images, '--out', out, '--adapt-bn', images], /--adapt-bn adapts a U-Net's batch norm; --method otsu has none/, 2],
    ] as [string[], RegExp, number][]) {
      const err = await runSegment(args, quiet).then(() => null, (e: unknown) => e);
      expect(err, args.join(' ')).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(message);
      expect(code(err)).toBe(exit);
    }
    expect(existsSync(out)).toBe(false);
    // A model without batch norm has nothing to adapt.
    const instModel = join(root, 'model-adapt-instance');
    await segmentTrain({ source: { data: join(root, 'ds') }, out: instModel, unet: { base: 2, depth: 1, norm: 'instance' }, train: { epochs: 1, batch: 2, crop: 16, stepsPerEpoch: 1 }, backend: 'reference' }, quiet);
    await expect(runSegment(['eval', '--model', instModel, '--images', images, '--masks', masks, '--adapt-bn', images], quiet)).rejects.toThrow(/no batch norm layers/);
  });

  it('reuse keeps at most its capacity of results, the oldest going first', () => {
    const reuse = segmentReuse(2);
    const px = (v: number) => new Float32Array(4).fill(v);
    let computed = 0;
    const seg = (v: number) => reuse.get({ s: 1 }, 2, 2, px(v), () => ({ instances: { labels: new Int32Array(4), count: computed++ }, classes: new Uint8Array(4) }));
    seg(1);
    seg(2);
    expect(seg(1).instances.count).toBe(0);
    seg(3); // evicts 1, the oldest stored
    expect(seg(2).instances.count).toBe(1);
    expect(seg(1).instances.count).toBe(3);
    expect(computed).toBe(4);
    // The same pixels under another size or settings are another key.
    expect(reuse.get({ s: 1 }, 4, 1, px(1), () => ({ instances: { labels: new Int32Array(4), count: -1 }, classes: new Uint8Array(4) })).instances.count).toBe(-1);
    expect(() => segmentReuse(0)).toThrow(/capacity/);
  });

  it("the library's typed runners give what the command prints and writes", async () => {
    const images = join(root, 'ds', 'real-images');
    const masks = join(root, 'ds', 'real-masks');
    const json: string[] = [];
    expect(await runSegment(['eval', '--method', 'otsu', '--images', images, '--masks', masks, '--min-area', '5', '--json'], { log: (l) => json.push(l), error: () => {} })).toBe(0);
    const report = await segmentEval({ method: 'otsu', images, masks, minArea: 5 }, quiet);
    expect(JSON.parse(JSON.stringify(report))).toEqual(JSON.parse(json.join('\n')));
    expect(report.images).toHaveLength(4);
    const cliOut = join(root, 'pred-cli');
    const libOut = join(root, 'pred-lib');
    expect(await runSegment(['predict', '--method', 'otsu', '--in', images, '--out', cliOut, '--pixel-size', '2nm', '--columns', 'fiji'], quiet)).toBe(0);
    const summary = await segmentPredict({ method: 'otsu', inputs: [images], out: libOut, pixelSize: '2nm', columns: 'fiji' }, quiet);
    expect(summary.images).toBe(4);
    expect(JSON.parse(JSON.stringify(summary))).toEqual(JSON.parse(readFileSync(join(libOut, 'summary.json'), 'utf8')));
    const files = readdirSync(cliOut).sort();
    expect(readdirSync(libOut).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(libOut, f)).equals(readFileSync(join(cliOut, f))), f).toBe(true);
  });

  it('segmentTrain refuses out-of-range settings as the flags do (the pipeline\'s --set bypasses the flags), before creating anything', async () => {
    const out = join(root, 'never-trained');
    const data = join(root, 'ds');
    await expect(runSegment(['train', '--data', data, '--out', out, '--crop', '8'], quiet)).rejects.toThrow("--crop must be an integer in [16, 1024], got '8'");
    await expect(segmentTrain({ source: { data }, out, train: { crop: 8 } }, quiet)).rejects.toThrow("--crop must be an integer in [16, 1024], got '8'");
    await expect(segmentTrain({ source: { data }, out, train: { batch: 2 ** 40 } }, quiet)).rejects.toThrow(/--batch must be an integer in \[1, 256\]/);
    await expect(segmentTrain({ source: { data }, out, unet: { depth: 0 } }, quiet)).rejects.toThrow(/--depth must be an integer in \[1, 7\], got '0'/);
    await expect(segmentTrain({ source: { data }, out, train: { epochs: 0 } }, quiet)).rejects.toThrow(/--epochs must be an integer in \[1, 2147483647\]/);
    expect(existsSync(out)).toBe(false);
  });
});
