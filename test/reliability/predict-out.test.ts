import { it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSegment } from '../../src/cli/segment.js';
import { encodePngGrey8 } from '../../src/io/png.js';
import { UserError, ExitCode } from '../../src/errors.js';

it('segment predict refuses an unwritable --out before segmenting anything', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drg-pred-'));
  try {
    const img = new Float32Array(64 * 64).map((_, i) => (((i % 64) - 32) ** 2 + (Math.floor(i / 64) - 32) ** 2 < 100 ? 0.8 : 0.1));
    writeFileSync(join(dir, 'a.png'), encodePngGrey8(64, 64, img));
    writeFileSync(join(dir, 'file'), 'not a folder');
    const lines: string[] = [];
    const sink = { log: (...a: unknown[]) => lines.push(a.join(' ')), error: (...a: unknown[]) => lines.push(a.join(' ')) } as unknown as Console;
    const err = await runSegment(['predict', '--method', 'otsu', '--in', join(dir, 'a.png'), '--out', join(dir, 'file', 'pred')], sink).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.badOutput);
    expect(lines.some((l) => /particles \(/.test(l))).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
