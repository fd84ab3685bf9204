import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { parseFlags } from '../../src/cli/args.js';
import { renderCommand, renderMain, jsonErrorOffset } from '../../src/cli/render.js';
import { ConfigError, ExitCode, InputError, UserError } from '../../src/errors.js';

let root: string;
const lines: string[] = [];
const io = { error: (l: string) => lines.push(l) };
const run = (argv: string[]) => renderMain(parseFlags(renderCommand, argv), io);

// two tiny samples: 32 x 32, a few small particles (fast)
const tiny = { particles: { count: { min: 2, max: 3 }, baseRadius: 5, freq: 2 } };

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'render-cli-'));
  writeFileSync(join(root, 'tiny.json'), JSON.stringify(tiny));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** pngjs reports the bit depth at run time, though its type declarations omit it. */
function readPng(path: string): PNG & { depth: number } {
  return PNG.sync.read(readFileSync(path), { skipRescale: true } as never) as PNG & { depth: number };
}

describe('render command', () => {
  it('writes image / instances / classes / scene.json per sample, one progress line each', async () => {
    const out = join(root, 'out');
    lines.length = 0;
    expect(await run(['--preset', 'tio2-sem', '--config', join(root, 'tiny.json'), '--seed', '7', '--n', '2', '--size', '32', '--out', out])).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['0000', '0001']);
    expect(lines.filter((l) => /^render: \d\/2 /.test(l))).toHaveLength(2);
    for (const s of ['0000', '0001']) {
      const dir = join(out, s);
      expect(readdirSync(dir).sort()).toEqual(['classes.png', 'image.png', 'instances.png', 'scene.json']);
      const img = readPng(join(dir, 'image.png'));
      expect([img.width, img.height, img.depth]).toEqual([32, 32, 8]);
      const inst = readPng(join(dir, 'instances.png'));
      expect(inst.depth).toBe(16);
      const cls = readPng(join(dir, 'classes.png'));
      expect(cls.depth).toBe(8);
      const classValues = new Set<number>();
      for (let p = 0; p < 32 * 32; p++) classValues.add(cls.data[4 * p]);
      for (const v of classValues) expect([0, 1, 2]).toContain(v); // unscaled labels
      const scene = JSON.parse(readFileSync(join(dir, 'scene.json'), 'utf8'));
      expect(scene.preset).toBe('tio2-sem');
      expect(scene.config.width).toBe(32);
      expect(scene.config.particles.baseRadius).toBe(5);
      expect(scene.layout.particles.length).toBeGreaterThanOrEqual(1);
      expect(Object.keys(scene.params)).toContain('blurSigma');
    }
    // sample i depends only on (seed, i): re-rendering gives identical files
    const again = join(root, 'again');
    await run(['--config', join(root, 'tiny.json'), '--seed', '7', '--n', '1', '--size', '32', '--out', again, '--quiet']);
    expect(readFileSync(join(again, '0000', 'image.png'))).toEqual(readFileSync(join(out, '0000', 'image.png')));
    // no temporary folders left behind
    expect(readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('unknown preset: a usage error naming the allowed presets', () => {
    expect(() => parseFlags(renderCommand, ['--preset', 'gold-tem', '--out', join(root, 'x')])).toThrow(/--preset must be one of tio2-sem, tio2-him, sio2-him, agnw-sem/);
  });

  it('bad JSON names the file and the position; wrong fields name the field and the allowed values', async () => {
    const bad = join(root, 'bad.json');
    writeFileSync(bad, '{\n  "width": 64,\n  "height": ,\n}');
    const err = await run(['--config', bad, '--out', join(root, 'never')]).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(ExitCode.badInput);
    expect(err.message).toMatch(/bad\.json: invalid JSON at line 3, column 13/);
    const wrong = join(root, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ particles: { shape: 'cube' } }));
    const err2 = await run(['--config', wrong, '--out', join(root, 'never')]).catch((e) => e);
    expect(err2).toBeInstanceOf(ConfigError);
    expect(err2.exitCode).toBe(ExitCode.badConfig);
    expect(err2.field).toBe('particles.shape');
    expect(err2.message).toMatch(/"sphere", "polyhedron", "wire".*wrong\.json/);
    const unknown = join(root, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ colour: 1 }));
    await expect(run(['--config', unknown, '--out', join(root, 'never')])).rejects.toThrow(/config field 'colour': unknown field; allowed: width, height/);
    await expect(run(['--config', join(root, 'missing.json'), '--out', join(root, 'never')])).rejects.toThrow(/missing\.json: cannot read/);
    expect(existsSync(join(root, 'never'))).toBe(false);
  });

  it('unwritable output: a one-line badOutput error, and no half-written sample folders', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const err = await run(['--config', join(root, 'tiny.json'), '--size', '32', '--n', '1', '--out', join(file, 'sub')]).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.exitCode).toBe(ExitCode.badOutput);
    expect(err.message).not.toMatch(/\n/);
    // a non-folder in the way of sample 0001: sample 0000 is complete, nothing else is written
    const out = join(root, 'blocked');
    await run(['--config', join(root, 'tiny.json'), '--size', '32', '--n', '1', '--out', out, '--quiet']);
    writeFileSync(join(out, '0001'), 'not a sample');
    rmSync(join(out, '0000'), { recursive: true });
    const err3 = await run(['--config', join(root, 'tiny.json'), '--size', '32', '--n', '3', '--out', out, '--quiet']).catch((e) => e);
    expect(err3.exitCode).toBe(ExitCode.badOutput);
    expect(readdirSync(out).sort()).toEqual(['0000', '0001']);
    expect(readdirSync(join(out, '0000')).length).toBe(4);
    expect(readFileSync(join(out, '0001'), 'utf8')).toBe('not a sample');
    await expect(run(['--n', '1'])).rejects.toThrow(/--out DIR is required/);
  });

  it('jsonErrorOffset finds the first syntax error', () => {
    expect(jsonErrorOffset('{"a": [1, 2, {"b": null}], "c": "x\\n"}')).toBe(-1);
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset('[1, 2')).toBe(5);
    expect(jsonErrorOffset('{"a": tru}')).toBe(6);
    for (const t of ['{"a": 1,}', '[1 2]', '{"x": "\\q"}', '01', '{} x']) expect(() => JSON.parse(t)).toThrow();
  });
});
