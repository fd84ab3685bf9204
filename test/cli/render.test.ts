import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as fastPngDecode } from 'fast-png';
import { parseFlags } from '../../src/cli/args.js';
import { renderCommand, renderMain, jsonErrorOffset } from '../../src/cli/render.js';
import { ConfigError, ExitCode, InputError, UserError } from '../../src/errors.js';
import { applySceneConfigFile } from '../../src/node/scene-config.js';
import { icosphere } from '../../src/render/mesh/icosphere.js';
import { mergeSceneConfig, presetConfig, sampleScene } from '../../src/render/index.js';
import { Rng } from '../../src/autodiff/rng.js';
import { writePly } from '../io/helpers/ply-writer.js';

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

/** An independent PNG decoder (fast-png): grey files come back one sample per pixel, unscaled. */
function readPng(path: string): ReturnType<typeof fastPngDecode> {
  const png = fastPngDecode(readFileSync(path));
  expect(png.channels).toBe(1);
  return png;
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
      for (let p = 0; p < 32 * 32; p++) classValues.add(cls.data[p]);
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

describe('render --config with a particle mesh file (PLY ascii / binary LE / BE, OBJ)', () => {
  // The fixture is the built-in geodesic sphere (freq 2, 80 triangles) written to files: rendered
  // as a user mesh, every particle must cover the same pixels as shape "sphere" does (the layout
  // does not depend on the shape; normalising a unit icosphere changes it by float rounding only).
  const ico = icosphere(2);
  const P = Array.from(ico.positions), F = Array.from(ico.faces);
  const base = { particles: { count: { min: 3, max: 4 }, baseRadius: 7, freq: 2 } };
  let dir: string;
  beforeAll(() => {
    dir = join(root, 'meshes');
    mkdirSync(dir);
    const nv = P.length / 3;
    const vertexRows = Array.from({ length: nv }, (_, i) => [P[3 * i], P[3 * i + 1], P[3 * i + 2]]);
    const faceRows = Array.from({ length: F.length / 3 }, (_, f) => [[F[3 * f], F[3 * f + 1], F[3 * f + 2]]]);
    const elements = (rows: number[][], frows: number[][][], vt: 'float' | 'double' = 'float') => [
      { name: 'vertex', props: [{ name: 'x', type: vt }, { name: 'y', type: vt }, { name: 'z', type: vt }] as const, rows },
      { name: 'face', props: [{ name: 'vertex_indices', type: 'int', countType: 'uchar' }] as const, rows: frows },
    ];
    for (const fmt of ['ascii', 'binary_little_endian', 'binary_big_endian'] as const) {
      writeFileSync(join(dir, `ico-${fmt}.ply`), writePly(fmt, elements(vertexRows, faceRows) as never));
    }
    writeFileSync(join(dir, 'ico.obj'), vertexRows.map((v) => `v ${v.join(' ')}`).join('\n') + '\n' + faceRows.map(([f]) => `f ${f.map((i) => i + 1).join(' ')}`).join('\n') + '\n');
    // the same shape moved, scaled by 7 and with every face turned inwards: normalising undoes it
    const moved = vertexRows.map(([x, y, z]) => [7 * x + 3, 7 * y - 2, 7 * z + 5]);
    writeFileSync(join(dir, 'ico-moved.ply'), writePly('binary_little_endian', elements(moved, faceRows.map(([[a, b, c]]) => [[a, c, b]]), 'double') as never));
    writeFileSync(join(dir, 'broken.ply'), 'ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1\n2\n');
    writeFileSync(join(dir, 'flat.obj'), 'v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n');
    for (const [name, mesh] of [['ico-ascii', 'ico-ascii.ply'], ['ico-le', 'ico-binary_little_endian.ply'], ['ico-be', 'ico-binary_big_endian.ply'], ['ico-obj', 'ico.obj'], ['ico-moved', 'ico-moved.ply'], ['broken', 'broken.ply'], ['flat', 'flat.obj'], ['missing', 'nope.ply']]) {
      writeFileSync(join(dir, `${name}.json`), JSON.stringify({ particles: { ...base.particles, mesh } }));
    }
    writeFileSync(join(dir, 'sphere.json'), JSON.stringify(base));
    writeFileSync(join(dir, 'shape-only.json'), JSON.stringify({ particles: { shape: 'mesh' } }));
    writeFileSync(join(dir, 'not-a-path.json'), JSON.stringify({ particles: { mesh: 42 } }));
  });

  const instances = (out: string, s: string): Uint16Array => {
    const png = readPng(join(out, s, 'instances.png'));
    const v = new Uint16Array(png.width * png.height);
    for (let p = 0; p < v.length; p++) v[p] = png.data[p]; // 16-bit ids, unscaled
    return v;
  };

  it('every format renders, and the masks match the built-in sphere of the same layout', async () => {
    const render = async (cfg: string): Promise<string> => {
      const out = join(root, `mesh-out-${cfg}`);
      expect(await run(['--preset', 'sio2-him', '--config', join(dir, `${cfg}.json`), '--seed', '5', '--n', '2', '--size', '48', '--out', out, '--quiet'])).toBe(0);
      return out;
    };
    const ref = await render('sphere');
    let covered = 0;
    for (const cfg of ['ico-ascii', 'ico-le', 'ico-be', 'ico-obj', 'ico-moved']) {
      const out = await render(cfg);
      const scene = JSON.parse(readFileSync(join(out, '0000', 'scene.json'), 'utf8'));
      expect(scene.config.particles.shape).toBe('mesh');
      expect(scene.config.particles.mesh.faces).toHaveLength(F.length);
      expect(scene.config.particles.mesh.source).toMatch(/\.(ply|obj)$/);
      for (const s of ['0000', '0001']) {
        const a = instances(ref, s), b = instances(out, s);
        let differ = 0;
        for (let p = 0; p < a.length; p++) {
          if (a[p] !== b[p]) differ++;
          if (a[p] !== 0) covered++;
        }
        // float rounding of the normalisation may move a pixel sitting exactly on an edge
        expect(differ, `${cfg} sample ${s}`).toBeLessThanOrEqual(2);
      }
    }
    expect(covered).toBeGreaterThan(5 * 100); // the particles are really there
  });

  it('errors: a bad or missing mesh file is a badInput error naming it; a wrong mesh field is a badConfig error', async () => {
    for (const [cfg, file, re] of [['broken', 'broken.ply', /broken\.ply: /], ['flat', 'flat.obj', /flat\.obj: /], ['missing', 'nope.ply', /nope\.ply: cannot read/]] as const) {
      const err = await run(['--config', join(dir, `${cfg}.json`), '--size', '32', '--n', '1', '--out', join(root, 'never-mesh')]).catch((e) => e);
      expect(err, cfg).toBeInstanceOf(InputError);
      expect(err.exitCode).toBe(ExitCode.badInput);
      expect(err.file).toBe(join(dir, file));
      expect(err.message).toMatch(re);
    }
    const e1 = await run(['--config', join(dir, 'shape-only.json'), '--size', '32', '--n', '1', '--out', join(root, 'never-mesh')]).catch((e) => e);
    expect(e1).toBeInstanceOf(ConfigError);
    expect(e1.exitCode).toBe(ExitCode.badConfig);
    expect(e1.field).toBe('particles.mesh');
    const e2 = await run(['--config', join(dir, 'not-a-path.json'), '--size', '32', '--n', '1', '--out', join(root, 'never-mesh')]).catch((e) => e);
    expect(e2).toBeInstanceOf(ConfigError);
    expect(e2.field).toBe('particles.mesh');
    expect(e2.message).toMatch(/not-a-path\.json/);
    expect(existsSync(join(root, 'never-mesh'))).toBe(false);
  });

  it('train --config reads the same file (shared reader): the mesh goes into the config as data', () => {
    const notes: string[] = [];
    const cfg = applySceneConfigFile(presetConfig('tio2-sem'), join(dir, 'ico-moved.json'), (l) => notes.push(l));
    expect(cfg.particles.shape).toBe('mesh');
    expect(notes.join('\n')).toMatch(/ico-moved\.ply: .*turned around/);
    // normalised: centred, bounding radius 1, and equal to the unit icosphere up to float rounding
    const p = cfg.particles.mesh!.positions;
    let rmax = 0;
    for (let i = 0; i < p.length; i += 3) rmax = Math.max(rmax, Math.hypot(p[i], p[i + 1], p[i + 2]));
    expect(Math.abs(rmax - 1)).toBeLessThan(1e-6);
    for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - P[i])).toBeLessThan(1e-5);
    // faces turned back outwards: the same triangles as the icosphere's
    expect(cfg.particles.mesh!.faces).toEqual(F);
    // the config round-trips through JSON (a run's config.json) and still renders
    const again = mergeSceneConfig(presetConfig('tio2-sem'), JSON.parse(JSON.stringify({ particles: cfg.particles })));
    const scene = sampleScene(mergeSceneConfig(again, { width: 32, height: 32, particles: { count: { min: 2, max: 2 }, baseRadius: 6 } }), new Rng(1));
    expect(scene.mesh.faces.length).toBe(2 * F.length);
  });
});
