import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rng } from '../../src/autodiff/rng.js';
import { tensor } from '../../src/autodiff/tensor.js';
import { InputError } from '../../src/errors.js';
import {
  appendMetrics,
  appendMetricsRows,
  epochDir,
  epochDirName,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readConfig,
  readMetrics,
  readMetricsFile,
  saveCheckpoint,
  samplePath,
  truncateMetrics,
  writeConfig,
  writeSample,
} from '../../src/node/gan-checkpoint.js';
import { decodeSafetensorsRaw } from '../../src/io/safetensors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gan-ckpt-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function weights(seed: number) {
  const rng = new Rng(seed);
  return {
    fcn: { 'l0.weight': tensor(Array.from({ length: 6 }, () => rng.normal()), [2, 3]), 'l0.bias': tensor([0.5, -1]) },
    disc: { 'c0.weight': tensor([1, 2, 3, 4], [1, 1, 2, 2], 'float64') },
  };
}

describe('checkpoints', () => {
  it('names epoch folders with 4 digits', () => {
    expect(epochDirName(7)).toBe('epoch-0007');
    expect(epochDirName(12345)).toBe('epoch-12345');
    expect(() => epochDirName(-1)).toThrow();
    expect(samplePath('/r', 3)).toBe(join('/r', 'samples', 'epoch-0003.png'));
  });

  it('round-trips weights and a state holding tensors, typed arrays and non-finite numbers', () => {
    const rng = new Rng(42);
    rng.normal();
    const state = {
      step: 120,
      epoch: 3,
      rng: rng.state(),
      adam: { m: [tensor([1, 2, 3])], v: [tensor([0.25], [1, 1], 'float64')], t: 120 },
      best: Infinity,
      lossHistory: Float32Array.from([0.5, NaN]),
      mask: Uint8Array.from([1, 0, 1]),
      label: 'run',
      nested: [{ a: null }],
    };
    const w = weights(1);
    saveCheckpoint(dir, 3, { ...w, state });
    expect(readdirSync(epochDir(dir, 3)).sort()).toEqual(['disc.safetensors', 'done', 'fcn.safetensors', 'optim.json', 'optim.safetensors']);
    const back = loadCheckpoint(dir, 3);
    expect(back.metadata).toMatchObject({ format: 'pt', epoch: '3' });
    expect(back.fcn['l0.weight'].shape).toEqual([2, 3]);
    expect(back.fcn['l0.weight'].toArray()).toEqual(w.fcn['l0.weight'].toArray());
    expect(back.disc['c0.weight'].dtype).toBe('float64');
    const s = back.state as typeof state;
    expect(s.step).toBe(120);
    expect(s.rng).toEqual(rng.state());
    expect(s.adam.m[0].toArray()).toEqual([1, 2, 3]);
    expect(s.adam.v[0].shape).toEqual([1, 1]);
    expect(s.adam.v[0].dtype).toBe('float64');
    expect(s.best).toBe(Infinity);
    expect(s.lossHistory).toBeInstanceOf(Float32Array);
    expect(Array.from(s.lossHistory)).toEqual([0.5, NaN]);
    expect(s.mask).toBeInstanceOf(Uint8Array);
    expect(s.nested).toEqual([{ a: null }]);
    // The JSON part stays small and readable.
    const json = JSON.parse(readFileSync(join(epochDir(dir, 3), 'optim.json'), 'utf8'));
    expect(json.adam.m[0]).toEqual({ $tensor: 'adam.m.0' });
    expect(Object.keys(decodeSafetensorsRaw(readFileSync(join(epochDir(dir, 3), 'optim.safetensors')), 'o').tensors).sort()).toEqual(
      ['adam.m.0', 'adam.v.0', 'lossHistory', 'mask'],
    );
  });

  it('writes no optim.safetensors for a plain JSON state', () => {
    saveCheckpoint(dir, 1, { ...weights(1), state: { step: 1 } });
    expect(existsSync(join(epochDir(dir, 1), 'optim.safetensors'))).toBe(false);
    expect(loadCheckpoint(dir, 1).state).toEqual({ step: 1 });
  });

  it('latestCheckpoint ignores half-written epochs', () => {
    expect(latestCheckpoint(join(dir, 'missing'))).toBeNull();
    expect(latestCheckpoint(dir)).toBeNull();
    saveCheckpoint(dir, 1, { ...weights(1), state: { step: 10 } });
    saveCheckpoint(dir, 2, { ...weights(2), state: { step: 20 } });
    expect(latestCheckpoint(dir)).toBe(2);
    // Killed while saving epoch 3: files there, no marker.
    saveCheckpoint(dir, 3, { ...weights(3), state: { step: 30 } });
    unlinkSync(join(epochDir(dir, 3), 'done'));
    expect(latestCheckpoint(dir)).toBe(2);
    expect(() => loadCheckpoint(dir, 3)).toThrow(/incomplete checkpoint: no done marker/);
    // A marker whose file sizes do not match (a file replaced after the marker) does not count.
    saveCheckpoint(dir, 4, { ...weights(4), state: { step: 40 } });
    appendFileSync(join(epochDir(dir, 4), 'optim.json'), ' ');
    expect(listCheckpoints(dir)).toEqual([1, 2]);
    // Unrelated folders and files are ignored.
    writeFileSync(join(dir, 'epoch-xyz'), '');
    expect(latestCheckpoint(dir)).toBe(2);
    // Re-saving a broken epoch makes it count again.
    saveCheckpoint(dir, 3, { ...weights(3), state: { step: 30 } });
    expect(latestCheckpoint(dir)).toBe(3);
    expect(() => loadCheckpoint(dir, 9)).toThrow(InputError);
  });

  it('reports a corrupt weight file by an InputError naming it', () => {
    saveCheckpoint(dir, 1, { ...weights(1), state: {} });
    const f = join(epochDir(dir, 1), 'fcn.safetensors');
    const bytes = readFileSync(f);
    bytes[0] = 0xff; // header length now points far past the end; same size, so only the checksum tells
    writeFileSync(f, bytes);
    expect(() => loadCheckpoint(dir, 1)).toThrow(/fcn\.safetensors: SHA-256 [0-9a-f]{64} differs/);
  });

  it('config and samples', () => {
    writeConfig(join(dir, 'run'), { seed: 3, learned: ['roughness'] });
    expect(readConfig(join(dir, 'run'))).toEqual({ seed: 3, learned: ['roughness'] });
    const p = writeSample(join(dir, 'run'), 2, Uint8Array.from([1, 2, 3]));
    expect(Array.from(readFileSync(p))).toEqual([1, 2, 3]);
    expect(() => readConfig(dir)).toThrow(InputError);
    // No temp files left behind.
    expect(readdirSync(join(dir, 'run')).sort()).toEqual(['config.json', 'samples']);
  });
});

describe('metrics.jsonl', () => {
  it('appends rows and reads them back', () => {
    expect(readMetrics(dir)).toEqual([]);
    appendMetrics(dir, { type: 'step', step: 1, lossG: 0.5 });
    appendMetricsRows(dir, [{ type: 'step', step: 2, lossG: NaN }, { type: 'epoch', epoch: 1, step: 2 }]);
    expect(readMetrics(dir)).toEqual([
      { type: 'step', step: 1, lossG: 0.5 },
      { type: 'step', step: 2, lossG: 'NaN' },
      { type: 'epoch', epoch: 1, step: 2 },
    ]);
  });

  it('tolerates a truncated last line and repairs it on the next append', () => {
    appendMetrics(dir, { step: 1 });
    appendFileSync(join(dir, 'metrics.jsonl'), '{"step": 2, "lo');
    expect(readMetricsFile(dir)).toEqual({ rows: [{ step: 1 }], truncated: true });
    appendMetrics(dir, { step: 2 });
    expect(readMetricsFile(dir)).toEqual({ rows: [{ step: 1 }, { step: 2 }], truncated: false });
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).toBe('{"step":1}\n{"step":2}\n');
  });

  it('keeps a whole last row that only lost its newline', () => {
    writeFileSync(join(dir, 'metrics.jsonl'), '{"step":1}\n{"step":2}');
    expect(readMetricsFile(dir)).toEqual({ rows: [{ step: 1 }, { step: 2 }], truncated: false });
    appendMetrics(dir, { step: 3 });
    expect(readMetrics(dir).map((r) => r.step)).toEqual([1, 2, 3]);
  });

  it('rejects a corrupt line in the middle, naming the file and line', () => {
    writeFileSync(join(dir, 'metrics.jsonl'), '{"step":1}\nnot json\n{"step":3}\n');
    expect(() => readMetrics(dir)).toThrow(/metrics\.jsonl: line 2/);
    writeFileSync(join(dir, 'metrics.jsonl'), '[1]\n');
    expect(() => readMetrics(dir)).toThrow(/line 1 is not a JSON object/);
  });

  it('truncateMetrics drops rows after a step', () => {
    appendMetricsRows(dir, [{ step: 1 }, { step: 2 }, { type: 'note' }, { step: 3 }]);
    appendFileSync(join(dir, 'metrics.jsonl'), '{"st');
    expect(truncateMetrics(dir, 2)).toBe(1);
    expect(readMetricsFile(dir)).toEqual({ rows: [{ step: 1 }, { step: 2 }, { type: 'note' }], truncated: false });
    expect(truncateMetrics(dir, 2)).toBe(0);
    expect(truncateMetrics(join(dir, 'none'), 0)).toBe(0);
  });
});
