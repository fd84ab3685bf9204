import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, InputError, UserError } from '../../src/errors.js';
import {
  listImageFiles,
  makeDirs,
  readImageFile,
  removeIfEmpty,
  readMeshFile,
  writeFileAtomic,
  writePngGrey16,
  writePngGrey8,
  writePngRgb8,
} from '../../src/node/files.js';

const dir = mkdtempSync(join(tmpdir(), 'drg-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('file layer', () => {
  it('writes PNGs atomically and reads them back', () => {
    const g8 = join(dir, 'g8.png');
    writePngGrey8(g8, 3, 2, new Float32Array([0, 0.5, 1, 1, 0.5, 0]));
    expect([...readImageFile(g8).data].map((v) => Math.round(v * 255))).toEqual([0, 128, 255, 255, 128, 0]);
    const g16 = join(dir, 'g16.png');
    writePngGrey16(g16, 2, 2, new Uint16Array([0, 1, 2, 65535]));
    const img16 = readImageFile(g16);
    expect([...img16.data].map((v) => Math.round(v * 65535))).toEqual([0, 1, 2, 65535]);
    expect(img16.bitDepth).toBe(16);
    const rgb = join(dir, 'rgb.png');
    writePngRgb8(rgb, 1, 1, new Uint8Array([255, 0, 0]));
    expect(readImageFile(rgb).data[0]).toBeCloseTo(0.299, 6);
    // Overwriting replaces the file; no temporary files remain.
    writePngGrey8(g8, 1, 1, new Uint8Array([7]));
    expect(readImageFile(g8).width).toBe(1);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('writeFileAtomic: strings, and failures as UserError (badOutput) with no temporary file left', () => {
    const p = join(dir, 'note.json');
    writeFileAtomic(p, '{"a":1}');
    expect(readFileSync(p, 'utf8')).toBe('{"a":1}');
    const missing = join(dir, 'no', 'such', 'dir', 'x.png');
    const e1 = thrown(() => writeFileAtomic(missing, new Uint8Array(3)));
    expect(e1).toBeInstanceOf(UserError);
    expect(e1).not.toBeInstanceOf(InputError);
    expect((e1 as UserError).exitCode).toBe(ExitCode.badOutput);
    expect(e1.message).toBe(`${missing}: cannot write: no such file or directory`);
    // Renaming onto an existing directory fails after the temporary file was written.
    const sub = join(dir, 'occupied');
    mkdirSync(join(sub, 'inner'), { recursive: true });
    const e2 = thrown(() => writeFileAtomic(sub, 'x'));
    expect((e2 as UserError).exitCode).toBe(ExitCode.badOutput);
    expect(e2.message.startsWith(`${sub}: cannot write`)).toBe(true);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('readImageFile / readMeshFile: missing, directory and undecodable files are InputErrors naming the path', () => {
    const missing = join(dir, 'missing.tif');
    expect(thrown(() => readImageFile(missing)).message).toBe(`${missing}: cannot read: no such file or directory`);
    expect(thrown(() => readImageFile(dir))).toBeInstanceOf(InputError);
    expect(thrown(() => readImageFile(dir)).message).toBe(`${dir}: is a directory, not a file`);
    const junk = join(dir, 'junk.png');
    writeFileSync(junk, 'hello');
    expect(thrown(() => readImageFile(junk)).message).toMatch(/junk\.png: not a PNG or TIFF file \(magic bytes 68 65 6c 6c 6f\)/);
    const obj = join(dir, 'tri.obj');
    writeFileSync(obj, 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n');
    expect([...readMeshFile(obj).faces]).toEqual([0, 1, 2]);
    expect(thrown(() => readMeshFile(join(dir, 'none.ply')))).toBeInstanceOf(InputError);
  });

  it('listImageFiles expands directories to sorted images and keeps files as given', () => {
    const imgs = join(dir, 'imgs');
    mkdirSync(join(imgs, 'nested.png'), { recursive: true }); // a directory with an image-like name
    for (const n of ['b.tif', 'a.PNG', 'c.tiff', 'notes.txt', '10.png', '2.png']) writeFileSync(join(imgs, n), '');
    expect(listImageFiles([imgs])).toEqual(['10.png', '2.png', 'a.PNG', 'b.tif', 'c.tiff'].map((n) => join(imgs, n)));
    const txt = join(imgs, 'notes.txt');
    expect(listImageFiles([txt, imgs])[0]).toBe(txt);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const e = thrown(() => listImageFiles([empty]));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toBe(`${empty}: no .png / .tif / .tiff images found`);
    expect(thrown(() => listImageFiles([join(dir, 'nope')]))).toBeInstanceOf(InputError);
    expect(thrown(() => listImageFiles([]))).toBeInstanceOf(InputError);
  });

  it('makeDirs creates the missing levels and returns the topmost one it made', () => {
    const top = join(dir, 'mk');
    expect(makeDirs(join(top, 'a', 'b'))).toBe(top);
    expect(readdirSync(join(top, 'a'))).toEqual(['b']);
    expect(makeDirs(join(top, 'a', 'b'))).toBeUndefined(); // there already
    expect(makeDirs(join(top, 'a', 'c'))).toBe(join(top, 'a', 'c'));
  });

  it('makeDirs on or under a regular file fails and leaves nothing behind', () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    expect((thrown(() => makeDirs(join(file, 'a', 'b'))) as NodeJS.ErrnoException).code).toBe('ENOTDIR');
    expect(thrown(() => makeDirs(file)).message).toBe('exists and is not a folder');
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('makeDirs under /proc fails at once with a sentence, where mkdirSync(recursive) never returns', () => {
    const e = thrown(() => makeDirs('/proc/drg-no-such-folder/a/b'));
    expect(e.message).toMatch(/the file system does not allow new folders in \/proc|EACCES|EROFS|EPERM/);
  });

  it('removeIfEmpty removes the empty chain up to the folder makeDirs made, nothing above, nothing full', () => {
    const base = join(dir, 'rm');
    mkdirSync(base);
    const top = makeDirs(join(base, 'x', 'y', 'z'));
    expect(top).toBe(join(base, 'x'));
    removeIfEmpty(top, join(base, 'x', 'y', 'z'));
    expect(readdirSync(base)).toEqual([]); // x, y, z gone; base (there before) kept
    const top2 = makeDirs(join(base, 'p', 'q'));
    writeFileSync(join(base, 'p', 'keep.txt'), 'k');
    removeIfEmpty(top2, join(base, 'p', 'q'));
    expect(readdirSync(join(base, 'p'))).toEqual(['keep.txt']); // q removed, p holds a file
    removeIfEmpty(undefined, base); // nothing made: nothing removed
    removeIfEmpty(join(base, 'p'), join(dir, 'elsewhere')); // not below top: ignored
    expect(existsSync(base)).toBe(true);
  });
});
