/**
 * Bad and unusual image inputs fed to every command that reads images, through the built CLI
 * (`node dist/cli.js`, a child process): the exit code the README documents, one error line
 * naming the file and the reason, and nothing written to the output folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, errorLines, greyPng, greyTiff, listTree, pngHeaderOnly, runCli, removeTempDirs, tempDir, tiffHeaderOnly, discs, type CliResult } from './helpers.js';
import { encodeTiff } from '../io/helpers/tiff-writer.js';
import { buildPng } from '../io/helpers/png-builder.js';

let dir = '';
const bad: Record<string, { bytes: () => Uint8Array; reason: RegExp }> = {
  'truncated.png': { bytes: () => greyPng(96, 96).subarray(0, 600), reason: /truncated PNG/ },
  'truncated.tif': { bytes: () => greyTiff(96, 96).subarray(0, 3000), reason: /truncated or corrupt TIFF/ },
  'wrong-magic.tif': { bytes: () => new TextEncoder().encode('GIF89a this is not a TIFF\n'), reason: /not a PNG or TIFF file \(magic bytes 47 49 46/ },
  'zero-bytes.png': { bytes: () => new Uint8Array(0), reason: /the file is empty/ },
  'too-big.png': { bytes: () => pngHeaderOnly(70000, 70000), reason: /70000 x 70000 pixels is larger than the supported maximum/ },
  'too-big.tif': { bytes: () => tiffHeaderOnly(30000, 30000), reason: /30000 x 30000 pixels is larger than the supported maximum/ },
};

/** A directory holding only `name` (and for eval a masks directory with a good mask of it). */
function setup(name: string, bytes: Uint8Array): { images: string; masks: string; file: string } {
  const base = join(dir, name.replace(/\W/g, '_'));
  const images = join(base, 'images');
  const masks = join(base, 'masks');
  mkdirSync(images, { recursive: true });
  mkdirSync(masks, { recursive: true });
  const file = join(images, name);
  writeFileSync(file, bytes);
  const stem = name.replace(/\.[^.]+$/, '');
  writeFileSync(join(masks, `${stem}_m.tif`), encodeTiff({ width: 96, height: 96, bits: 8, photometric: 1, samples: discs(96, 96, 255).map((v) => (v > 100 ? 255 : 0)) }));
  return { images, masks, file };
}

const TINY_TRAIN = ['--patch', '32', '--epochs', '1', '--steps-per-epoch', '1', '--base-filters', '4', '--eval-samples', '1', '--configs', '1', '--backend', 'reference', '--quiet'];

/** The commands that read images, each as a function of (input file, its folders, output folder). */
const COMMANDS: Record<string, (f: { images: string; masks: string; file: string }, out: string) => string[]> = {
  train: (f, out) => ['train', '--real', f.file, ...TINY_TRAIN, '--out', out],
  'segment predict': (f, out) => ['segment', 'predict', '--method', 'otsu', '--in', f.file, '--out', out],
  'segment eval': (f) => ['segment', 'eval', '--method', 'otsu', '--images', f.images, '--masks', f.masks],
  'segment train': (f, out) => ['segment', 'train', '--images', f.images, '--masks', f.masks, '--epochs', '1', '--batch', '1', '--crop', '32', '--base', '2', '--depth', '1', '--backend', 'reference', '--out', out],
};

function expectOneLine(r: CliResult, code: number, file: string, reason: RegExp): void {
  const lines = errorLines(r);
  expect(r.code, r.stderr).toBe(code);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(file);
  expect(lines[0]).toMatch(reason);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('inputs');
});
afterAll(removeTempDirs);

describe('bad image files: exit code 3, one line naming the file and reason, no output', () => {
  for (const [name, spec] of Object.entries(bad)) {
    for (const [cmd, argv] of Object.entries(COMMANDS)) {
      it(`${cmd} <- ${name}`, () => {
        const f = setup(name, spec.bytes());
        const out = join(dir, `out-${cmd.replace(/ /g, '-')}-${name}`);
        const r = runCli(argv(f, out));
        expectOneLine(r, 3, f.file, spec.reason);
        expect(listTree(out)).toEqual([]);
      });
    }
  }
});

describe('unusual but valid images are read, and what was changed is said', () => {
  const cases: Record<string, { bytes: () => Uint8Array; warning?: RegExp }> = {
    '16-bit.tif': { bytes: () => encodeTiff({ width: 96, height: 96, bits: 16, photometric: 1, samples: discs(96, 96, 65535) }) },
    'palette.png': {
      bytes: () => buildPng({ width: 96, height: 96, bitDepth: 8, colorType: 3, samples: discs(96, 96, 255), palette: Array.from({ length: 768 }, (_, i) => Math.floor(i / 3)) }),
    },
    'rgba.tif': {
      bytes: () => encodeTiff({ width: 96, height: 96, bits: 8, spp: 4, photometric: 2, extraSamples: [2], samples: discs(96, 96, 255).flatMap((v) => [v, v, v, 200]) }),
      warning: /extra sample\(s\) per pixel \(e\.g\. alpha\) ignored/,
    },
    'rgba.png': {
      bytes: () => buildPng({ width: 96, height: 96, bitDepth: 8, colorType: 6, samples: discs(96, 96, 255).flatMap((v) => [v, 0, 0, 128]) }),
      warning: /colour image converted to grey/,
    },
    'multi-page.tif': { bytes: () => encodeTiff({ width: 96, height: 96, bits: 8, photometric: 1, pages: 3, samples: discs(96, 96, 255) }), warning: /multi-page TIFF: using the first of 3 pages/ },
    'nan.tif': {
      bytes: () => encodeTiff({ width: 96, height: 96, bits: 32, float: true, photometric: 1, samples: discs(96, 96, 1).map((v, i) => (i % 97 === 0 ? NaN : i % 89 === 0 ? Infinity : v)) }),
      warning: /NaN \/ infinite pixel value\(s\) set to 0/,
    },
  };
  for (const [name, spec] of Object.entries(cases)) {
    it(`segment predict <- ${name}: exit 0, outputs written${spec.warning ? ', warning printed' : ''}`, () => {
      const f = setup(name, spec.bytes());
      const out = join(dir, `ok-${name}`);
      const r = runCli(COMMANDS['segment predict'](f, out));
      expect(r.code, r.stderr).toBe(0);
      if (spec.warning) {
        const w = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
        expect(w.some((l) => l.includes(f.file) && spec.warning!.test(l)), r.stderr).toBe(true);
      }
      expect(listTree(out)).toContain('particles.csv');
    });
  }

  it('train prints the decoder warnings of real images (multi-page, NaN sanitised) before it starts', () => {
    // A 96 px image with --patch 128 stops right after reading, so the run stays short.
    const pages = setup('pages-train.tif', cases['multi-page.tif'].bytes());
    const nan = setup('nan-train.tif', cases['nan.tif'].bytes());
    const out = join(dir, 'out-train-warnings');
    const r = runCli(['train', '--real', pages.file, nan.file, ...TINY_TRAIN.filter((a) => a !== '--quiet'), '--patch', '128', '--out', out]);
    expect(r.stderr).toMatch(new RegExp(`warning: ${pages.file}: multi-page TIFF: using the first of 3 pages`));
    expect(r.stderr).toMatch(new RegExp(`warning: ${nan.file}: \\d+ NaN / infinite pixel value\\(s\\) set to 0`));
    expectOneLine(r, 3, pages.file, /96 x 96 px is smaller than the 128 x 128 patch/);
    expect(listTree(out)).toEqual([]);
  });
});

describe('an image smaller than the patch', () => {
  it('train: exit code 3 naming the file, the sizes and the flag to change; nothing written', () => {
    const f = setup('small.png', greyPng(20, 20));
    const out = join(dir, 'out-small');
    const r = runCli(COMMANDS.train(f, out));
    expectOneLine(r, 3, f.file, /image of 20 x 20 px is smaller than the 32 x 32 patch \(use a smaller --patch\)/);
    expect(listTree(out)).toEqual([]);
  });

  it('train: --crop-bottom that leaves less than a patch says so', () => {
    const f = setup('cropped.png', greyPng(40, 40));
    const out = join(dir, 'out-cropped');
    const r = runCli([...COMMANDS.train(f, out), '--crop-bottom', '20']);
    expectOneLine(r, 3, f.file, /40 x 20 px \(after cropping 20 rows\) is smaller than the 32 x 32 patch/);
    expect(listTree(out)).toEqual([]);
  });

  it('segment predict: a 20 x 20 image is segmented (the tile shrinks to the image)', () => {
    const f = setup('small-predict.png', greyPng(20, 20));
    const out = join(dir, 'out-small-predict');
    const r = runCli(COMMANDS['segment predict'](f, out));
    expect(r.code, r.stderr).toBe(0);
    expect(listTree(out)).toContain('particles.csv');
  });
});
