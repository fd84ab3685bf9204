/**
 * Inputs a hostile user can hand the tool (issue 18): non-regular and oversized files, images
 * whose fields decode outside [0, 1], scene configs with prototype keys or absurd nesting, and
 * checkpoints that parse but do not fit. Each must be a clean error naming the file (and field
 * or tensor), never a crash, a hang, a memory blow-up or silently wrong output.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/autodiff/rng.js';
import { ConfigError, InputError } from '../../src/errors.js';
import { encodeSafetensors, decodeSafetensorsRaw } from '../../src/io/safetensors.js';
import { ParamNet } from '../../src/gan/models.js';
import { FEATURE_SIZE } from '../../src/gan/generator.js';
import { decodeImage } from '../../src/io/decode.js';
import { readInputFile, removeStaleTempFiles } from '../../src/node/files.js';
import { epochDir, loadCheckpoint, saveCheckpoint, sha256Hex } from '../../src/node/gan-checkpoint.js';
import { checkTrainerState } from '../../src/node/trainer-state-check.js';
import { bestEpoch } from '../../src/node/generate.js';
import { applySceneConfigFile } from '../../src/node/scene-config.js';
import { mergeSceneConfig } from '../../src/render/config.js';
import { presetConfig } from '../../src/render/presets/index.js';
import { encodeTiff } from '../io/helpers/tiff-writer.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'drg-hostile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function inputError(fn: () => unknown, file: string, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'no error').toBeInstanceOf(InputError);
  expect((caught as InputError).file).toBe(file);
  expect((caught as Error).message).toMatch(re);
}

describe('input files: regular files under the size cap only', () => {
  it('refuses a FIFO without blocking, a device, a directory, and a file over the cap', () => {
    const fifo = join(dir, 'x.tif');
    execFileSync('mkfifo', [fifo]);
    inputError(() => readInputFile(fifo), fifo, /is not a regular file \(a FIFO\)/);
    inputError(() => readInputFile('/dev/zero'), '/dev/zero', /is not a regular file \(a character device\)/);
    inputError(() => readInputFile(dir), dir, /is a directory/);
    const f = join(dir, 'big.bin');
    writeFileSync(f, new Uint8Array(1000));
    inputError(() => readInputFile(f, 999), f, /file of 1000 bytes is larger than the limit of 999 bytes/);
    expect(readInputFile(f, 1000).length).toBe(1000);
  });

  it('removes temporary files of dead writers, keeps those of live ones', () => {
    const d = mkdtempSync(join(dir, 'tmp-'));
    const dead = `.a.png.${2 ** 22 + 12345}.abc.0.tmp`; // above Linux's default pid_max: never a live process
    const live = `.b.png.${process.pid}.abc.1.tmp`;
    for (const n of [dead, live, 'keep.png']) writeFileSync(join(d, n), 'x');
    expect(removeStaleTempFiles(d)).toBe(1);
    expect(execFileSync('ls', ['-A', d], { encoding: 'utf8' }).trim().split('\n').sort()).toEqual([live, 'keep.png'].sort());
  });
});

describe('decoded pixels are checked to lie in [0, 1]', () => {
  it('a palette TIFF whose ColorMap has the wrong field type (FLOAT, negative) is an InputError naming the file', () => {
    const idx = [0, 1, 2, 3];
    const map = Array.from({ length: 3 * 256 }, (_, i) => -(i % 256) * 100);
    const bytes = encodeTiff({ width: 2, height: 2, samples: idx, bits: 8, photometric: 3, extraTags: [[320, 11, map]] });
    inputError(() => decodeImage(bytes, 'pal.tif'), 'pal.tif', /decodes to pixel value -\d+.* at \(1, 0\), outside \[0, 1\]/);
  });
});

describe('scene configs: prototype keys are unknown fields, nesting is bounded', () => {
  const base = presetConfig('tio2-sem');
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    it(`'${key}' at the top and inside particles is an unknown field (exit 4)`, () => {
      for (const [text, field] of [
        [`{"${key}": {"width": 64}}`, key],
        [`{"particles": {"${key}": {"mesh": "x"}}}`, `particles.${key}`],
        [`{"particles": {"size": {"type": "${key}"}}}`, 'particles.size.type'],
      ]) {
        let caught: unknown;
        try {
          mergeSceneConfig(base, JSON.parse(text));
        } catch (e) {
          caught = e;
        }
        expect(caught, text).toBeInstanceOf(ConfigError);
        expect((caught as ConfigError).field, text).toBe(field);
      }
    });
  }

  it('a __proto__ mesh in a --config file does not reach the renderer', () => {
    const f = join(dir, 'proto.json');
    writeFileSync(f, '{"particles": {"__proto__": {"mesh": "/dev/zero", "shape": "mesh"}}}');
    expect(() => applySceneConfigFile(base, f, () => {})).toThrow(/config field 'particles.__proto__': unknown field/);
  });

  it('a config nested 100,000 levels deep is an error naming the file, not a stack overflow', () => {
    const f = join(dir, 'deep.json');
    writeFileSync(f, '{"particles":' + '['.repeat(100000) + ']'.repeat(100000) + '}');
    inputError(() => applySceneConfigFile(base, f, () => {}), f, /nested more than 16 levels deep/);
    const g = join(dir, 'deep-invalid.json');
    writeFileSync(g, '['.repeat(100000));
    inputError(() => applySceneConfigFile(base, g, () => {}), g, /nested more than 16 levels deep/);
    let deep: unknown = 1;
    for (let i = 0; i < 100000; i++) deep = { a: deep };
    expect(() => mergeSceneConfig(base, { particles: deep })).toThrow(/nested more than 16 levels deep/);
  });
});

describe('checkpoints that parse but do not fit: InputError naming file and tensor', () => {
  const fcnModule = () => new ParamNet(FEATURE_SIZE, 2, new Rng(0), new Rng(0));
  let run: string;
  let fcnPath: string;
  beforeAll(() => {
    run = mkdtempSync(join(dir, 'run-'));
    const net = fcnModule();
    saveCheckpoint(run, 1, { fcn: net.stateDict(), disc: { 'c.weight': net.stateDict()[Object.keys(net.stateDict())[0]] }, state: { step: 1 } });
    fcnPath = join(epochDir(run, 1), 'fcn.safetensors');
  });

  /** Rewrites fcn.safetensors through `edit` and re-records its checksum (a file that parses, from elsewhere). */
  function withFcn(edit: (t: ReturnType<typeof decodeSafetensorsRaw>['tensors']) => void, fn: () => void): void {
    const original = readFileSync(fcnPath);
    const doneFile = join(epochDir(run, 1), 'done');
    const done = readFileSync(doneFile, 'utf8');
    try {
      const t = decodeSafetensorsRaw(original, 'x').tensors;
      edit(t);
      const bytes = encodeSafetensors(t);
      writeFileSync(fcnPath, bytes);
      const marker = JSON.parse(done);
      marker.files['fcn.safetensors'] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
      writeFileSync(doneFile, JSON.stringify(marker));
      fn();
    } finally {
      writeFileSync(fcnPath, original);
      writeFileSync(doneFile, done);
    }
  }
  const load = () => loadCheckpoint(run, 1, { fcn: fcnModule().stateDict() });

  it('loads when it fits', () => {
    expect(Object.keys(load().fcn).length).toBeGreaterThan(0);
  });
  it('a flipped bit: SHA-256 mismatch naming the file', () => {
    const original = readFileSync(fcnPath);
    const bytes = Uint8Array.from(original);
    bytes[bytes.length - 3] ^= 0x10;
    writeFileSync(fcnPath, bytes);
    try {
      inputError(load, fcnPath, /SHA-256 [0-9a-f]{64} differs from the [0-9a-f]{64} recorded in the done marker/);
    } finally {
      writeFileSync(fcnPath, original);
    }
  });
  it('a transposed tensor of the same byte size', () => {
    withFcn((t) => {
      const [k] = Object.keys(t).filter((n) => t[n].shape.length === 2 && t[n].shape[0] !== t[n].shape[1]);
      t[k].shape = [t[k].shape[1], t[k].shape[0]];
    }, () => inputError(load, fcnPath, /tensor '.+' has shape \[\d+, \d+\], the model expects \[\d+, \d+\]/));
  });
  it('a renamed tensor', () => {
    withFcn((t) => {
      const [k] = Object.keys(t);
      t[`${k}.renamed`] = t[k];
      delete t[k];
    }, () => inputError(load, fcnPath, /tensor '.+' is missing/));
  });
  it('F32 relabelled as I32', () => {
    withFcn((t) => {
      const [k] = Object.keys(t);
      t[k] = { dtype: 'I32', shape: t[k].shape, data: new Int32Array(t[k].data.buffer.slice(0)) };
    }, () => inputError(load, fcnPath, /tensor '.+' is I32, the model stores F32/));
  });
  for (const [label, v] of [['NaN', NaN], ['Inf', Infinity], ['1e38', 1e38]] as const) {
    it(`a ${label} weight`, () => {
      withFcn((t) => {
        const [k] = Object.keys(t);
        t[k].data[0] = v;
      }, () => inputError(load, fcnPath, /tensor '.+' has an unusable value: element 0 is/));
    });
  }
});

describe('optimiser / RNG state and best.json are validated', () => {
  const good = () => ({
    epoch: 1,
    step: 4,
    rng: { data: [1, 2, 3, 4], dropout: [5, 6, 7, 8], render: [9, 10, 11, 12] },
    optG: { kind: 'adam', steps: [4], buffers: { exp_avg: [[0.1]], exp_avg_sq: [null] }, hyper: {} },
    optD: { kind: 'adam', steps: [4], buffers: { exp_avg: [[0.1]], exp_avg_sq: [[0.2]] }, hyper: {} },
  });
  it('accepts a sane state', () => {
    expect(checkTrainerState(good(), 'optim.json').step).toBe(4);
  });
  const cases: [string, (s: ReturnType<typeof good>) => unknown, RegExp][] = [
    ['no rng', (s) => ({ ...s, rng: undefined }), /field 'rng' is missing/],
    ['rng "x"', (s) => ({ ...s, rng: 'x' }), /field 'rng' is missing or not an object/],
    ['rng.data of three words', (s) => ({ ...s, rng: { ...s.rng, data: [1, 2, 3] } }), /field 'rng.data' must be a list of four integers/],
    ['all-zero rng', (s) => ({ ...s, rng: { ...s.rng, render: [0, 0, 0, 0] } }), /field 'rng.render' is all zeros/],
    ['negative step', (s) => ({ ...s, step: -1 }), /field 'step' must be an integer >= 0/],
    ['NaN moment', (s) => ({ ...s, optD: { ...s.optD, buffers: { exp_avg: [[NaN]] } } }), /field 'optD.buffers.exp_avg.0' holds a non-finite value/],
    ['no optG', (s) => ({ ...s, optG: undefined }), /field 'optG' is missing/],
  ];
  for (const [label, edit, re] of cases) {
    it(label, () => inputError(() => checkTrainerState(edit(good()), 'optim.json'), 'optim.json', re));
  }

  it('a garbage best.json is an error, not a fallback', () => {
    const run = mkdtempSync(join(dir, 'best-'));
    const f = join(run, 'best.json');
    writeFileSync(f, '{"epoch": "two"}');
    inputError(() => bestEpoch(run, [1, 2]), f, /field 'epoch' must be an integer >= 1/);
    writeFileSync(f, '{"epoch": 7}');
    inputError(() => bestEpoch(run, [1, 2]), f, /names epoch 7, which has no complete checkpoint/);
    writeFileSync(f, 'not json');
    inputError(() => bestEpoch(run, [1, 2]), f, /invalid JSON/);
    writeFileSync(f, '{"epoch": 2}');
    expect(bestEpoch(run, [1, 2])).toBe(2);
  });
});

describe('U-Net model folders: SHA-256 verified, weights checked against the architecture', () => {
  it('a flipped bit and a renamed tensor are InputErrors naming the file (and tensor)', async () => {
    const { trainUNet } = await import('../../src/seg/train.js');
    const { saveCheckpoint: saveSeg, loadModel, loadCheckpoint: loadSeg } = await import('../../src/node/seg-checkpoint.js');
    const { discSet } = await import('../seg/unet-helpers.js');
    const { checkpoint } = trainUNet(discSet('h', 4, 16, 2), { depth: 2, base: 4 }, { epochs: 1, batch: 2, crop: 12, lr: 1e-3, seed: 1, stepsPerEpoch: 1 });
    const model = mkdtempSync(join(dir, 'unet-'));
    saveSeg(model, checkpoint);
    expect(loadModel(model).info.unet.depth).toBe(2);
    const w = join(model, 'model.safetensors');
    const original = readFileSync(w);
    const flipped = Uint8Array.from(original);
    flipped[flipped.length - 1] ^= 1;
    writeFileSync(w, flipped);
    inputError(() => loadModel(model), w, /SHA-256 [0-9a-f]{64} differs/);
    inputError(() => loadSeg(model), w, /SHA-256 [0-9a-f]{64} differs/);
    // A file that parses with a renamed tensor, its checksum re-recorded: the tensor is named.
    const t = decodeSafetensorsRaw(original, 'w').tensors;
    const [k] = Object.keys(t);
    t[`${k}x`] = t[k];
    delete t[k];
    const renamed = encodeSafetensors(t);
    writeFileSync(w, renamed);
    const doneFile = join(model, 'done');
    const marker = JSON.parse(readFileSync(doneFile, 'utf8'));
    marker.files['model.safetensors'] = renamed.length;
    marker.sha256['model.safetensors'] = sha256Hex(renamed);
    writeFileSync(doneFile, JSON.stringify(marker));
    inputError(() => loadModel(model), w, new RegExp(`tensor '${k.replace(/\./g, '\\.')}' is missing`));
  });
});

describe('outputs that are not folders (found by npm run fuzz)', () => {
  it('pipeline --out /dev/null: exit 5 naming it, not an ENOTDIR stack trace', async () => {
    const { ensureBuilt, runCli } = await import('./helpers.js');
    ensureBuilt();
    const img = join(dir, 'not-read.png');
    writeFileSync(img, 'x');
    const r = runCli(['pipeline', '--real', img, '--out', '/dev/null', '--budget', 'quick', '--backend', 'reference', '--quiet']);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/diffrendergan: --out \/dev\/null: exists and is not a folder/);
  });
});
