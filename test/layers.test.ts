/**
 * The floors of the house, lowest first: a module imports only from its own floor or lower
 * (type-only imports included), so each floor can be read and tested without the ones above.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** src/<folder> (or top-level file) -> floor. */
const FLOORS: Record<string, number> = {
  errors: 0,
  autodiff: 1,
  charts: 2, io: 2, particles: 2, render: 2, seg: 2,
  gan: 3,
  node: 4,
  cli: 5, index: 5, browser: 5,
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function floorOf(file: string): number {
  const top = relative(join(ROOT, 'src'), file).split(sep)[0].replace(/\.(js|ts)$/, '');
  const f = FLOORS[top];
  if (f === undefined) throw new Error(`src/${top}: no floor assigned (add it to FLOORS in test/layers.test.ts)`);
  return f;
}

export function upwardImports(files: readonly string[]): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]);
      if (floorOf(target) > floorOf(file)) bad.push(`${relative(ROOT, file)} imports ${m[1]}`);
    }
  }
  return bad;
}

describe('layers', () => {
  it('no module under src/ imports from a higher floor', () => {
    expect(upwardImports(walk(join(ROOT, 'src')))).toEqual([]);
  });

  it('the check sees an upward import', () => {
    const gan = join(ROOT, 'src', 'gan', 'trainer.ts');
    const probe = join(ROOT, 'src', 'render', 'scene.ts');
    expect(upwardImports([gan])).toEqual([]);
    // a render module that imported gan/ would be reported
    const fake = `import { GanTrainer } from '../gan/trainer.js';\n`;
    const bad: string[] = [];
    for (const m of fake.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      if (floorOf(resolve(dirname(probe), m[1])) > floorOf(probe)) bad.push(m[1]);
    }
    expect(bad).toEqual(['../gan/trainer.js']);
  });
});
