/** The pure io modules must bundle for a browser: no Node built-ins anywhere in their imports. */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('browser bundle', () => {
  it('src/io/index.ts bundles with platform "browser" and holds no require() or node: import', async () => {
    const entry = fileURLToPath(new URL('../../src/io/index.ts', import.meta.url));
    const r = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    const text = r.outputFiles[0]!.text;
    expect(text).not.toMatch(/\brequire\(|from ["']node:|from ["'](fs|zlib|path|stream|util)["']/);
    expect(text).toMatch(/decodeImage/);
  });
});
