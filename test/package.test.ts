/**
 * The built package as a user imports it: `import ... from 'diffrendergan'` resolved through
 * package.json's exports from a project folder (node_modules/diffrendergan links to this repo),
 * in a plain Node process. Runs the README's API example (the demo GAN on the fast backend).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from './reliability/helpers.js';

let project: string;

function runNode(code: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(project, `main-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, code);
  const r = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the package, imported as a user does', () => {
  beforeAll(() => {
    ensureBuilt();
    project = mkdtempSync(join(tmpdir(), 'drg-user-'));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(ROOT, join(project, 'node_modules', 'diffrendergan'), 'dir');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user', type: 'module', private: true }));
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('exports the stages, typed, and initBackend selects the fast backend', () => {
    expect(existsSync(join(ROOT, 'dist', 'types', 'index.d.ts'))).toBe(true);
    const names = ['initBackend', 'renderScene', 'GanTrainer', 'runTraining', 'generateSample', 'runGenerate', 'trainUNet', 'segmentImage', 'readSegDataset', 'loadSegmentModel',
      'measureParticles', 'fijiMeasurements', 'realismScores', 'decodeImage', 'decodeTiff', 'decodePng', 'encodePngGrey16', 'encodeTiffGrey16',
      'encodeRoiSet', 'encodeSafetensors', 'decodeSafetensors', 'pixelSizeFromTiff', 'segmentTrain', 'segmentPredict', 'segmentEval'];
    const r = runNode(`
      import * as api from 'diffrendergan';
      const missing = ${JSON.stringify(names)}.filter((n) => typeof api[n] !== 'function');
      console.log(JSON.stringify({ missing }));
      console.log(JSON.stringify(await api.initBackend('wasm-1t')));
      console.log(JSON.stringify(await api.initBackend('auto')));
      console.log(api.getBackend().name);
      try { await api.initBackend('nope'); } catch (e) { console.log('refused: ' + e.message); }
    `);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(JSON.parse(lines[0])).toEqual({ missing: [] });
    expect(JSON.parse(lines[1])).toMatchObject({ backend: 'wasm-1t' });
    // No GPU here: auto is wasm on worker threads, with the rasterizer's lanes.
    expect(JSON.parse(lines[2])).toMatchObject({ backend: expect.stringMatching(/^(wasm|gpujs)$/) });
    expect(lines[3]).toBe(JSON.parse(lines[2]).backend);
    expect(lines[4]).toMatch(/refused: unknown backend 'nope'/);
    const types = readFileSync(join(ROOT, 'dist', 'types', 'index.d.ts'), 'utf8');
    expect(types).toMatch(/initBackend/);
  });

  it("runs the README's API example (the demo GAN on the fast backend)", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /```js\n([\s\S]*?)```/.exec(readme);
    expect(block).not.toBeNull();
    const r = runNode(block![1]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const steps = r.stdout.split('\n').filter((l) => /step \d+: loss G/.test(l));
    expect(steps).toHaveLength(6);
    for (const l of steps) {
      const [, backend, g, d] = /^(\S+) step \d+: loss G (\S+), D (\S+)$/.exec(l)!;
      expect(backend).not.toBe('reference');
      expect(Number.isFinite(Number(g)) && Number.isFinite(Number(d))).toBe(true);
    }
    expect(r.stdout).toMatch(/learned \{[\s\S]*\} hidden \{/);
  });

  it('the browser bundle has its own initBackend (wasm SIMD, no gpu.js)', () => {
    const r = runNode(`
      const b = await import(${JSON.stringify(join(ROOT, 'dist', 'browser.js'))});
      console.log(JSON.stringify(await b.initBackend('auto')));
      try { await b.initBackend('gpujs'); } catch (e) { console.log('refused: ' + e.message); }
    `);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(JSON.parse(lines[0])).toMatchObject({ backend: 'wasm' });
    expect(lines[1]).toMatch(/gpu\.js is not in this bundle/);
  });
});
