import { it, expect, vi } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

it('the README library example runs as written and its loss falls', async () => {
  const readme = readFileSync(resolve(__dirname, '../README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme);
  expect(block).not.toBeNull();
  const src = block![1].replace("from 'diffrendergan'", `from ${JSON.stringify(pathToFileURL(resolve(__dirname, '../src/index.ts')).href)}`);
  const dir = mkdtempSync(join(resolve(__dirname, '..'), 'test/.readme-'));
  const file = join(dir, 'example.ts');
  writeFileSync(file, src);
  const logged: number[][] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logged.push(a as number[]));
  try {
    await import(pathToFileURL(file).href);
  } finally {
    spy.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(logged.length).toBe(4);
  const losses = logged.map((l) => l[1]);
  expect(losses[3]).toBeLessThan(losses[0] / 4);
});
