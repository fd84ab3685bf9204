/**
 * Codecs decided by measurement: the hand-written PNG / TIFF / inflate code (src/io) against
 * well-kept pure-JS libraries (fflate for DEFLATE, image-js `tiff`, `fast-png`), on
 *  - speed and size: synthetic TiO2-SEM renders (8-bit), their 16-bit instance maps, and --real
 *    DIR images when given; each pair of codecs runs interleaved (A, B, A, B, ...) in this one
 *    process, so both see the same machine load; medians and the ratio B / A are printed with the
 *    load average;
 *  - robustness: the fuzz corpus of test/io/fuzz.test.ts (byte edits and truncations of valid
 *    files, seeded) plus headers that promise huge images; per decoder it counts results, clean
 *    errors (an Error thrown), other throws, cases over 1 s, and allocations a header asked for
 *    beyond 256 MB (the process's heap use is sampled after each case).
 * Args: --reps N (default 15), --fuzz N mutations per seed file (default 400), --real DIR.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { unzlibSync, zlibSync } from 'fflate';
import { decode as fastPngDecode, encode as fastPngEncode } from 'fast-png';
import { decode as tiffDecode } from 'tiff';
import { loadavg, registerSuite } from './registry.js';
import { parseFlags, usageOf, type FlagSpecs } from './flags.js';
import { Rng } from '../src/autodiff/rng.js';
import { mergeSceneConfig, presetConfig, renderScene, sampleScene, sceneMasks, sceneParams } from '../src/render/index.js';
import { decodePng, encodePngGrey16, encodePngGrey8 } from '../src/io/png.js';
import { decodeTiff } from '../src/io/tiff.js';
import { zlibInflate } from '../src/io/inflate.js';
import { encodeTiff } from '../test/io/helpers/tiff-writer.js';

const FLAGS = {
  reps: { kind: 'number', def: 15, int: true, min: 1, help: 'timed repetitions per codec and image (interleaved)' },
  fuzz: { kind: 'number', def: 400, int: true, min: 0, help: 'mutations per seed file for the robustness count' },
  real: { kind: 'string', def: '', help: 'a folder of .tif / .png micrographs to add to the speed corpus' },
} as const satisfies FlagSpecs;

interface Img {
  name: string;
  w: number;
  h: number;
  u8: Uint8Array;
  u16: Uint16Array | null;
}

function corpus(real: string): Img[] {
  const out: Img[] = [];
  const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 512, height: 512, particles: { count: { min: 40, max: 40 } } });
  const rng = new Rng(19);
  for (let k = 0; k < 3; k++) {
    const s = sampleScene(cfg, rng);
    const r = renderScene(s, sceneParams(s));
    const u8 = Uint8Array.from(r.image.data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
    out.push({ name: `render-${k}`, w: 512, h: 512, u8, u16: Uint16Array.from(r.instances ?? sceneMasks(s).instances) });
  }
  if (real) {
    for (const f of readdirSync(real).filter((n) => /\.(tiff?|png)$/i.test(n)).slice(0, 6)) {
      const bytes = readFileSync(join(real, f));
      const g = /\.png$/i.test(f) ? decodePng(bytes, f) : decodeTiff(bytes, f);
      out.push({ name: `real:${f}`, w: g.width, h: g.height, u8: Uint8Array.from(g.data, (v) => Math.round(v * 255)), u16: null });
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Times a() and b() interleaved; returns medians in ms. */
function ab(reps: number, a: () => unknown, b: () => unknown): [number, number] {
  const ta: number[] = [], tb: number[] = [];
  a(); b();
  for (let i = 0; i < reps; i++) {
    let t = performance.now(); a(); ta.push(performance.now() - t);
    t = performance.now(); b(); tb.push(performance.now() - t);
  }
  return [median(ta), median(tb)];
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

function speed(imgs: Img[], reps: number): void {
  console.log(`\nspeed and size (medians of ${reps} interleaved runs; load ${loadavg()})`);
  const row = (what: string, [a, b]: [number, number], na: string, nb: string, extra = '') =>
    console.log(`  ${what.padEnd(42)} ${na} ${fmt(a).padStart(10)}   ${nb} ${fmt(b).padStart(10)}   ${nb}/${na} ${(b / a).toFixed(2)}${extra}`);
  for (const im of imgs) {
    console.log(`${im.name} (${im.w} x ${im.h})`);
    // PNG encode, 8-bit: ours (our container and filters, fflate's deflate) vs fast-png.
    const oursPng = encodePngGrey8(im.w, im.h, im.u8);
    const fastPng = fastPngEncode({ width: im.w, height: im.h, data: im.u8, depth: 8, channels: 1 });
    row('PNG encode grey8', ab(reps, () => encodePngGrey8(im.w, im.h, im.u8), () => fastPngEncode({ width: im.w, height: im.h, data: im.u8, depth: 8, channels: 1 })), 'ours', 'fast-png',
      `   size ours ${kb(oursPng.length)}, fast-png ${kb(fastPng.length)}`);
    // DEFLATE of the raw pixels: fflate level 6 (what the PNG encoder uses) against Node's zlib level 6 (size only).
    const zf = zlibSync(im.u8, { level: 6 }), zn = deflateSync(im.u8, { level: 6 });
    console.log(`  ${'zlib deflate (raw pixels), size'.padEnd(42)} fflate ${kb(zf.length)}, node zlib ${kb(zn.length)}`);
    // Inflate of a node-zlib stream (what other software writes).
    row('zlib inflate (node zlib level 6 stream)', ab(reps, () => zlibInflate(zn, 'x', 'data', im.u8.length), () => unzlibSync(zn)), 'ours', 'fflate');
    row('PNG decode grey8 (fast-png-written file)', ab(reps, () => decodePng(fastPng, 'x'), () => fastPngDecode(fastPng)), 'ours', 'fast-png');
    if (im.u16) {
      const o16 = encodePngGrey16(im.w, im.h, im.u16);
      const f16 = fastPngEncode({ width: im.w, height: im.h, data: im.u16, depth: 16, channels: 1 });
      row('PNG encode grey16 (instances)', ab(reps, () => encodePngGrey16(im.w, im.h, im.u16!), () => fastPngEncode({ width: im.w, height: im.h, data: im.u16!, depth: 16, channels: 1 })), 'ours', 'fast-png',
        `   size ours ${kb(o16.length)}, fast-png ${kb(f16.length)}`);
    }
    for (const compression of [1, 5, 8] as const) {
      const t = encodeTiff({ width: im.w, height: im.h, samples: im.u8, bits: 8, photometric: 1, compression, rowsPerStrip: 16, predictor: compression === 1 ? 1 : 2 });
      row(`TIFF decode grey8, compression ${compression}`, ab(reps, () => decodeTiff(t, 'x'), () => tiffDecode(t)), 'ours', 'tiff');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Robustness.

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function mutants(seed: Uint8Array, n: number, rnd: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const b = seed.slice();
    const edits = 1 + Math.floor(rnd() * 6);
    for (let e = 0; e < edits; e++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    out.push(rnd() < 0.3 ? b.subarray(0, Math.floor(rnd() * (b.length + 1))) : b);
  }
  return out;
}

/** A PNG whose IHDR says 60000 x 60000 with a few bytes of data (CRCs correct). */
function hugePng(): Uint8Array {
  const png = encodePngGrey8(4, 4, new Uint8Array(16));
  const dv = new DataView(png.buffer);
  dv.setUint32(16, 60000);
  dv.setUint32(20, 60000);
  let c = 0xffffffff;
  for (let i = 12; i < 29; i++) {
    c ^= png[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  dv.setUint32(29, (c ^ 0xffffffff) >>> 0);
  return png;
}

interface Tally { ok: number; clean: number; other: number; slow: number; bigAlloc: number }

function tally(decode: (b: Uint8Array) => unknown, inputs: Uint8Array[]): Tally {
  const t: Tally = { ok: 0, clean: 0, other: 0, slow: 0, bigAlloc: 0 };
  for (const b of inputs) {
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    let grew = 0;
    try {
      const r = decode(b);
      grew = process.memoryUsage().arrayBuffers - before;
      void r;
      t.ok++;
    } catch (e) {
      if (e instanceof RangeError && /alloc|Array buffer|Invalid typed array length|Invalid array length/i.test(e.message)) t.bigAlloc++;
      else if (e instanceof Error) t.clean++;
      else t.other++;
    }
    if (grew > 256 * 2 ** 20) t.bigAlloc++;
    if (performance.now() - t0 > 1000) t.slow++;
  }
  return t;
}

function robustness(n: number): void {
  const rnd = lcg(20261205);
  const W = 9, H = 6;
  const grey = Uint8Array.from({ length: W * H }, (_, i) => (i * 37) % 256);
  const pngSeeds = [
    encodePngGrey8(W, H, grey),
    encodePngGrey16(W, H, Uint16Array.from(grey, (v) => v * 257)),
    fastPngEncode({ width: W, height: H, data: grey, depth: 8, channels: 1 }),
  ];
  const tiffSeeds = [1, 5, 8, 32773].map((compression) => encodeTiff({ width: W, height: H, samples: grey, bits: 8, photometric: 1, compression: compression as 1, rowsPerStrip: 2 }));
  const zlibSeeds = [deflateSync(grey), zlibSync(grey)];
  const pngs = [...pngSeeds.flatMap((s) => mutants(s, n, rnd)), hugePng()];
  const tiffs = tiffSeeds.flatMap((s) => mutants(s, n, rnd));
  const zlibs = zlibSeeds.flatMap((s) => mutants(s, n, rnd));
  const show = (what: string, t: Tally, count: number) =>
    console.log(`  ${what.padEnd(26)} ${String(count).padStart(5)} inputs: ${t.ok} decoded, ${t.clean} clean errors, ${t.other} other throws, ${t.slow} over 1 s, ${t.bigAlloc} huge allocations`);
  console.log(`\nrobustness (mutated corpus, ${n} mutations per seed file, seeded)`);
  show('PNG ours', tally((b) => decodePng(b, 'x'), pngs), pngs.length);
  show('PNG fast-png', tally((b) => fastPngDecode(b), pngs), pngs.length);
  show('TIFF ours', tally((b) => decodeTiff(b, 'x'), tiffs), tiffs.length);
  show('TIFF tiff (image-js)', tally((b) => tiffDecode(b), tiffs), tiffs.length);
  show('zlib inflate ours', tally((b) => zlibInflate(b, 'x', 'data', 1 << 20), zlibs), zlibs.length);
  show('zlib inflate fflate', tally((b) => unzlibSync(b), zlibs), zlibs.length);
  const huge = hugePng();
  for (const [name, f] of [['ours', () => decodePng(huge, 'huge.png')], ['fast-png', () => fastPngDecode(huge)]] as const) {
    try {
      f();
      console.log(`  60000 x 60000 PNG header, ${name}: decoded`);
    } catch (e) {
      console.log(`  60000 x 60000 PNG header, ${name}: ${(e as Error).constructor.name}: ${(e as Error).message.slice(0, 100)}`);
    }
  }
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags('codecs', args, FLAGS);
  speed(corpus(f.real), f.reps);
  if (f.fuzz > 0) robustness(f.fuzz);
}

registerSuite({
  name: 'codecs',
  description: 'hand-written PNG / TIFF / DEFLATE against fflate, fast-png and image-js tiff: speed, size, robustness',
  usage: usageOf('codecs', 'Speed and size on renders (and --real images), interleaved A/B; robustness on a mutated corpus.', FLAGS),
  run,
});
