import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/autodiff/tensor.js';
import { InputError } from '../../src/errors.js';
import { decodeSafetensors, decodeSafetensorsRaw, encodeSafetensors, type SafeTensor } from '../../src/io/safetensors.js';

const enc = new TextEncoder();

/** A file from a header object (or raw header text) and a buffer, padded like the reference writer. */
function file(header: object | string, buffer: number[] | Uint8Array, padTo8 = true): Uint8Array {
  const h = enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const pad = padTo8 ? (8 - (h.length % 8)) % 8 : 0;
  const out = new Uint8Array(8 + h.length + pad + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length + pad), true);
  out.set(h, 8);
  out.fill(0x20, 8 + h.length, 8 + h.length + pad);
  out.set(buffer, 8 + h.length + pad);
  return out;
}

describe('safetensors', () => {
  it('writes the exact bytes of the format spec for a hand-made example', () => {
    const bytes = encodeSafetensors(
      { b: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) }, a: tensor([1, -2]) },
      { format: 'pt' },
    );
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
    expect(header.length).toBe(138); // + 6 spaces = 144, a multiple of 8
    const expected = [
      144, 0, 0, 0, 0, 0, 0, 0, // header length, u64 little-endian
      ...enc.encode(header),
      0x20, 0x20, 0x20, 0x20, 0x20, 0x20, // padding
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0xc0, // -2.0f
      1, 2, 3,
    ];
    expect(Array.from(bytes)).toEqual(expected);
    const back = decodeSafetensorsRaw(bytes, 'x.safetensors');
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(back.tensors.a).toEqual({ dtype: 'F32', shape: [2], data: Float32Array.from([1, -2]) });
    expect(back.tensors.b).toEqual({ dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) });
  });

  it('round-trips every dtype, scalars, empty tensors and odd alignments', () => {
    const tensors: Record<string, SafeTensor> = {
      f32: { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1.5, -0, Infinity, NaN, 3e-38, 7]) },
      f64: { dtype: 'F64', shape: [], data: Float64Array.from([Math.PI]) },
      i32: { dtype: 'I32', shape: [1, 2], data: Int32Array.from([-2147483648, 2147483647]) },
      u8: { dtype: 'U8', shape: [5], data: Uint8Array.from([0, 1, 127, 128, 255]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      'weird name/ünïcode': { dtype: 'U8', shape: [1], data: Uint8Array.from([9]) },
    };
    const bytes = encodeSafetensors(tensors, { epoch: '3', note: 'ä "quoted"' });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const back = decodeSafetensorsRaw(bytes, 'f');
    expect(back.metadata).toEqual({ epoch: '3', note: 'ä "quoted"' });
    for (const [k, t] of Object.entries(tensors)) {
      expect(back.tensors[k].dtype).toBe(t.dtype);
      expect(back.tensors[k].shape).toEqual(t.shape);
      expect(Array.from(back.tensors[k].data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
  });

  it('round-trips random float tensors (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'),
          fc.tuple(fc.boolean(), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 })),
          { maxKeys: 5 },
        ),
        (spec) => {
          const ts: Record<string, ReturnType<typeof tensor>> = {};
          let s = 1;
          for (const [k, [f64, shape]] of Object.entries(spec)) {
            const n = shape.reduce((a, b) => a * b, 1);
            ts[k] = tensor(Array.from({ length: n }, () => (s = (s * 48271) % 2147483647) / 1e5), shape, f64 ? 'float64' : 'float32');
          }
          const back = decodeSafetensors(encodeSafetensors(ts), 'p').tensors;
          expect(Object.keys(back).sort()).toEqual(Object.keys(ts).sort());
          for (const k of Object.keys(ts)) {
            expect(back[k].dtype).toBe(ts[k].dtype);
            expect(back[k].shape).toEqual(ts[k].shape);
            expect(Array.from(back[k].data)).toEqual(Array.from(ts[k].data));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('decodes from a view at an odd offset into a larger buffer (a Node Buffer from a pool)', () => {
    const bytes = encodeSafetensors({ x: tensor([1.5, -2.25, 3]), y: tensor([7], [1], 'float64') });
    const big = new Uint8Array(bytes.length + 13);
    big.set(bytes, 5);
    const back = decodeSafetensors(big.subarray(5, 5 + bytes.length), 'v').tensors;
    expect(back.x.toArray()).toEqual([1.5, -2.25, 3]);
    expect(back.y.toArray()).toEqual([7]);
    const buf = Buffer.from(bytes);
    expect(decodeSafetensors(buf, 'b').tensors.x.toArray()).toEqual([1.5, -2.25, 3]);
  });

  it('converts integer dtypes to exact float tensors', () => {
    const bytes = encodeSafetensors({ i: { dtype: 'I32', shape: [2], data: Int32Array.from([16777217, -5]) } });
    const t = decodeSafetensors(bytes, 'f').tensors.i;
    expect(t.dtype).toBe('float64');
    expect(t.toArray()).toEqual([16777217, -5]);
  });

  it('accepts a header without padding (any reader-valid file)', () => {
    const h = { x: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } };
    expect(Array.from(decodeSafetensorsRaw(file(h, [7, 8], false), 'f').tensors.x.data as Uint8Array)).toEqual([7, 8]);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /too short/],
    ['header past end', (() => { const b = file({}, []); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /past the end/],
    ['huge header length', (() => { const b = file({}, []); new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true); return b; })(), /exceeds/],
    ['not JSON', file('{"a": ', []), /not valid JSON/],
    ['not an object', file('[1, 2]', []), /start with '\{'/],
    ['unknown dtype', file({ x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, [0]), /unsupported dtype 'F8_E4M3'/],
    ['a BOOL byte above 1', file({ x: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, [1, 2]), /BOOL element 1 is 2/],
    ['missing dtype', file({ x: { shape: [1], data_offsets: [0, 1] } }, [0]), /missing dtype/],
    ['bad shape', file({ x: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, [0]), /shape/],
    ['bad offsets', file({ x: { dtype: 'U8', shape: [1], data_offsets: [0] } }, [0]), /data_offsets/],
    ['reversed offsets', file({ x: { dtype: 'U8', shape: [0], data_offsets: [1, 0] } }, [0]), /end before/],
    ['size mismatch', file({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /needs 8 bytes/],
    ['out of range', file({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, [0, 0, 0, 0]), /run past the byte buffer/],
    [
      'overlap',
      file({ x: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, y: { dtype: 'U8', shape: [2], data_offsets: [1, 3] } }, [0, 0, 0]),
      /overlap/,
    ],
    ['gap', file({ x: { dtype: 'U8', shape: [1], data_offsets: [1, 2] } }, [0, 0]), /gap/],
    ['trailing bytes', file({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, [0, 0]), /cover 1 bytes of a 2-byte/],
    ['metadata not strings', file({ __metadata__: { a: 1 } }, []), /metadata 'a'/],
    ['entry not object', file({ x: 3 }, []), /not an object/],
  ];
  for (const [what, bytes, re] of bad) {
    it(`rejects a file with ${what} by an InputError naming it`, () => {
      let err: unknown;
      try {
        decodeSafetensorsRaw(bytes, 'w.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).file).toBe('w.safetensors');
      expect((err as Error).message).toMatch(re);
    });
  }

  it('refuses to encode a tensor called __metadata__ or mismatched raw data', () => {
    expect(() => encodeSafetensors({ __metadata__: tensor([1]) })).toThrow(/__metadata__/);
    expect(() => encodeSafetensors({ x: { dtype: 'I32', shape: [1], data: new Float32Array(1) } })).toThrow(/Float32Array/);
    expect(() => encodeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array(1) } })).toThrow(/shape/);
  });
});
