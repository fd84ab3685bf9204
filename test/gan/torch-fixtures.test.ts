/**
 * Checkpoints both ways with PyTorch, on fixtures PyTorch 1.13 wrote (test/fixtures/torch, made
 * by make_fixtures.py there): every dtype torch saves reads back with torch's values; a
 * PyTorch-saved ParamNet and PatchGAN (BatchNorm's num_batches_tracked as I64) load here and give
 * torch's outputs; and what this package writes for them has PyTorch's dtypes and bytes, tensor by
 * tensor (make_fixtures.py's `check` mode loads such files into torch.nn).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/autodiff/rng.js';
import { Tensor } from '../../src/autodiff/tensor.js';
import { noGrad } from '../../src/autodiff/tape.js';
import { ParamNet, PatchDiscriminator } from '../../src/gan/models.js';
import {
  decodeSafetensors, decodeSafetensorsRaw, encodeSafetensors, floatToBfloat16, floatToHalf, safeToTensor, torchStateDict, type SafeTensor,
} from '../../src/io/safetensors.js';
import type { Module } from '../../src/autodiff/nn/index.js';
import { epochDir, loadCheckpoint, saveCheckpoint } from '../../src/node/gan-checkpoint.js';

const DIR = join(import.meta.dirname, '../fixtures/torch');
const read = (f: string) => readFileSync(join(DIR, f));

const bytesOf = (t: SafeTensor) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
const num = (v: unknown) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === true ? 1 : v === false ? 0 : Number(v));

describe('safetensors written by PyTorch', () => {
  const raw = decodeSafetensorsRaw(read('dtypes.safetensors'), 'dtypes.safetensors').tensors;
  const expected = JSON.parse(readFileSync(join(DIR, 'dtypes.json'), 'utf8')) as Record<string, { dtype: string; shape: number[]; values: unknown }>;

  it('reads each dtype torch saves with the values torch reads', () => {
    expect(Object.keys(expected).sort()).toEqual(['bf16', 'bool', 'empty', 'f16', 'f32', 'f64', 'i16', 'i32', 'i64', 'u8']);
    for (const [k, e] of Object.entries(expected)) {
      expect(raw[k].dtype, k).toBe(e.dtype);
      expect(raw[k].shape, k).toEqual(e.shape);
      const got = Array.from(safeToTensor(raw[k], k, 'f').data);
      const want = [e.values].flat(3).map(num);
      expect(got.length, k).toBe(want.length);
      for (let i = 0; i < got.length; i++) expect(Object.is(got[i], want[i]) || got[i] === want[i], `${k}[${i}]: ${got[i]} vs ${want[i]}`).toBe(true);
    }
    expect(Array.from(raw.i64.data as BigInt64Array)).toEqual([-(2n ** 53n), -1n, 0n, 7n, 2n ** 53n]);
  });

  it('refuses an I64 that no float64 holds exactly, naming the file', () => {
    const bytes = encodeSafetensors({ n: { dtype: 'I64', shape: [1], data: BigInt64Array.from([2n ** 53n + 1n]) } });
    expect(() => decodeSafetensors(bytes, 'big.safetensors')).toThrow(/big\.safetensors.*'n'.*9007199254740993/);
  });

  it('casts float32 to F16 and BF16 bit for bit as torch does (round to nearest even, overflow to inf)', () => {
    const src = raw.src.data as Float32Array;
    const half = raw['half.src'].data as Uint16Array;
    const bf = raw['bf16.src'].data as Uint16Array;
    expect(src.length).toBeGreaterThan(200);
    for (let i = 0; i < src.length; i++) {
      expect(floatToHalf(src[i]), `half(${src[i]})`).toBe(half[i]);
      expect(floatToBfloat16(src[i]), `bf16(${src[i]})`).toBe(bf[i]);
    }
  });

  it('writes every dtype back with the same bytes (decode -> encode -> decode)', () => {
    const back = decodeSafetensorsRaw(encodeSafetensors(raw), 'again').tensors;
    expect(Object.keys(back).sort()).toEqual(Object.keys(raw).sort());
    for (const k of Object.keys(raw)) {
      expect(back[k].dtype, k).toBe(raw[k].dtype);
      expect(back[k].shape, k).toEqual(raw[k].shape);
      expect(bytesOf(back[k]), k).toEqual(bytesOf(raw[k]));
    }
  });
});

function roundTrip(file: string, model: Module, input: string): void {
  const all = decodeSafetensors(read(file), file).tensors;
  const state: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(all)) if (!k.startsWith('io.')) state[k] = t;
  model.loadStateDict(state);
  model.eval();
  const out = noGrad(() => model.forward(all[input]));
  const want = all['io.out'];
  expect(out.shape).toEqual(want.shape);
  let err = 0;
  for (let i = 0; i < want.size; i++) err = Math.max(err, Math.abs(out.data[i] - want.data[i]));
  expect(err).toBeLessThan(1e-5);

  // The way back: PyTorch's dtype for every tensor, and the same bytes.
  const torchRaw = decodeSafetensorsRaw(read(file), file).tensors;
  const ours = decodeSafetensorsRaw(encodeSafetensors(torchStateDict(model.stateDict()), { format: 'pt' }), 'ours').tensors;
  expect(Object.keys(ours).sort()).toEqual(Object.keys(torchRaw).filter((k) => !k.startsWith('io.')).sort());
  for (const [k, t] of Object.entries(ours)) {
    expect(t.dtype, k).toBe(torchRaw[k].dtype);
    expect(t.shape, k).toEqual(torchRaw[k].shape);
    expect(bytesOf(t), k).toEqual(bytesOf(torchRaw[k]));
  }
}

describe('PyTorch-saved networks load and save back', () => {
  it('ParamNet (weight_g / weight_v) gives torch outputs and writes torch dtypes', () => {
    roundTrip('paramnet.safetensors', new ParamNet(5, 3, new Rng(1), new Rng(2), { hidden: 8, layers: 2 }), 'io.phi');
  });

  it('PatchGAN with BatchNorm (num_batches_tracked I64) gives torch outputs and writes I64 back', () => {
    const raw = decodeSafetensorsRaw(read('patchgan.safetensors'), 'p').tensors;
    expect(raw['net.3.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([3n]) });
    roundTrip('patchgan.safetensors', new PatchDiscriminator(new Rng(1), { baseFilters: 4, layers: 2 }), 'io.x');
  });

  it("a GAN run's checkpoint on disk holds num_batches_tracked as I64 and loads back", () => {
    const disc = new PatchDiscriminator(new Rng(1), { baseFilters: 4, layers: 2 });
    const state: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(decodeSafetensors(read('patchgan.safetensors'), 'p').tensors)) if (!k.startsWith('io.')) state[k] = t;
    disc.loadStateDict(state);
    const fcn = new ParamNet(5, 3, new Rng(1), new Rng(2), { hidden: 8, layers: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'drg-ckpt-'));
    try {
      saveCheckpoint(dir, 1, { fcn: fcn.stateDict(), disc: disc.stateDict(), state: { step: 1 } });
      const raw = decodeSafetensorsRaw(readFileSync(join(epochDir(dir, 1), 'disc.safetensors')), 'disc').tensors;
      expect(raw['net.3.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([3n]) });
      expect(raw['net.3.running_var'].dtype).toBe('F32');
      const back = loadCheckpoint(dir, 1, { fcn: fcn.stateDict(), disc: disc.stateDict() });
      expect(back.disc['net.6.num_batches_tracked'].toArray()).toEqual([3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
