/**
 * Flags and configs through the built CLI: --help on every registered command (read from the
 * top-level help, so a command added later is covered too), unknown flags, wrong types,
 * out-of-range values, missing folders, unknown presets, bad scene JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, errorLines, listTree, runCli, removeTempDirs, tempDir, type CliResult } from './helpers.js';

let dir = '';
let commands: string[] = [];

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('flags');
  const top = runCli(['--help']);
  expect(top.code).toBe(0);
  const at = top.stdout.indexOf('Commands:');
  commands = top.stdout
    .slice(at)
    .split('\n')
    .slice(1)
    .map((l) => /^ {2}(\S+)\s/.exec(l)?.[1])
    .filter((n): n is string => !!n);
  // Subcommands (segment train | predict | eval) are read from the command's own usage line.
  const withSubs: string[] = [];
  for (const c of commands) {
    const usage = /Usage: diffrendergan \S+ <([a-z|]+)>/.exec(runCli([c, '--help']).stdout);
    if (usage) withSubs.push(...usage[1].split('|').map((s) => `${c} ${s}`));
    else withSubs.push(c);
  }
  commands = withSubs;
});
afterAll(removeTempDirs);

function oneError(r: CliResult, code: number, ...res: RegExp[]): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = errorLines(r);
  expect(lines, r.stderr).toHaveLength(1);
  for (const re of res) expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('--help', () => {
  it('finds the registered commands', () => {
    expect(commands).toEqual(expect.arrayContaining(['train', 'generate', 'gradcheck', 'render', 'segment train', 'segment predict', 'segment eval']));
  });

  it('every command: --help exits 0 and lists its flags; an unknown flag is refused with the same list', () => {
    for (const c of commands) {
      const r = runCli([...c.split(' '), '--help']);
      expect(r.code, `${c}: ${r.stderr}`).toBe(0);
      expect(r.stdout, c).toMatch(new RegExp(`^diffrendergan ${c.split(' ')[0]}: `));
      expect(r.stdout, c).toMatch(/Usage: /);
      expect(r.stdout, c).toMatch(/\n\s+--help\s/);
      const flags = [...r.stdout.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]).filter((f) => f !== 'help');
      expect(flags.length, `${c} lists no flags`).toBeGreaterThan(0);
      // The help lists exactly the flags the parser accepts (its unknown-flag error names them).
      const r2 = runCli([...c.split(' '), '--no-such-flag', '1']);
      oneError(r2, 2, /unknown flag --no-such-flag/, /Allowed: .*--help/);
      const allowed = /Allowed: (.*), --help\./.exec(errorLines(r2)[0])![1].split(', ').map((f) => f.replace(/^--/, ''));
      expect(flags.sort(), c).toEqual(allowed.sort());
    }
  });
});

describe('unknown flags, wrong types, out-of-range values: exit code 2 naming the flag', () => {

  const cases: [string[], RegExp][] = [
    [['train', '--epochs', 'abc'], /--epochs must be an integer in \[1, 100000\], got 'abc'/],
    // Sizes bounded before anything is allocated or created (each used to crash, hang or abort).
    [['train', '--epochs', '1e12'], /--epochs must be an integer in \[1, 100000\], got '1e12'/],
    [['train', '--base-filters', '1e6'], /--base-filters must be an integer in \[1, 256\], got '1e6'/],
    [['train', '--batch', '1e9'], /--batch must be an integer in \[1, 256\], got '1e9'/],
    [['train', '--batch', '256', '--base-filters', '256', '--patch', '1024'], /--batch 256 x --base-filters 256 at --patch 1024 needs about \d+\.\d GiB .* above the limit of 4\.0 GiB/],
    [['train', '--patch', '255'], /--patch must be a multiple of 8 \(got 255\)/],
    [['train', '--patch', '1024', '--eval-samples', '1024'], /--eval-samples 1024 at --patch 1024 keeps 4\.0 GiB of samples per epoch, above the limit of 1 GiB/],
    [['train', '--seed', '99999999999999999999'], /--seed must be an integer in \[0, 2147483647\]/],
    [['generate', '--run', '.', '--n', '1e12'], /--n must be an integer in \[1, 1000000\], got '1e12'/],
    [['train', '--epochs', '1.5'], /--epochs must be an integer/],
    [['train', '--patch', '8'], /--patch must be an integer in \[32, 1024\], got '8'/],
    [['train', '--lr-d', '-1'], /--lr-d must be a number in \[0, 10\]/],
    [['train', '--norm', 'group'], /--norm must be one of batch, instance, none, got 'group'/],
    [['train', '--preset', 'nope'], /--preset must be one of .*tio2-sem/],
    [['train', '--epochs'], /--epochs needs a value/],
    [['train', '--quiet=maybe'], /--quiet takes true or false/],
    [['render', '--n', '0', '--out', 'x'], /--n must be an integer in \[1, 100000\]/],
    [['render', '--preset', 'nope', '--out', 'x'], /--preset must be one of/],
    [['render', 'stray', '--out', 'x'], /unexpected argument 'stray'/],
    [['generate', '--run', 'r'], /--out DIR is required/],
    [['generate', '--run', 'r', '--out', 'o', '--epoch', 'first'], /--epoch must be best, last or an epoch number/],
    [['segment', 'predict', '--method', 'otsu', '--in', 'x.png', '--out', 'o', '--pixel-size', 'big'], /--pixel-size must be a positive length/],
    [['segment', 'nope'], /unknown subcommand 'nope'/],
    [['nope'], /unknown command 'nope'/],
  ];
  for (const [argv, re] of cases) {
    it(argv.join(' '), () => {
      oneError(runCli(argv, { cwd: dir }), 2, re);
      // Refused before anything is created: no default run folder appears.
      expect(existsSync(join(dir, 'runs')), 'a run folder was created').toBe(false);
    });
  }
});

describe('missing folders and files: exit code 3 naming the path', () => {
  const missing = '/nonexistent/drg-reliability';
  const cases: [string[], RegExp][] = [
    [['train', '--real', missing, '--out', 'o1'], /\/nonexistent\/drg-reliability: cannot read: no such file or directory/],
    [['train', '--resume', missing], /--resume \/nonexistent\/drg-reliability: no config.json there/],
    [['generate', '--run', missing, '--out', 'o2'], /--run \/nonexistent\/drg-reliability: no config.json there/],
    [['render', '--config', `${missing}.json`, '--out', 'o3'], /drg-reliability\.json: cannot read: no such file/],
    [['segment', 'predict', '--method', 'otsu', '--in', missing, '--out', 'o4'], /drg-reliability: cannot read: no such file/],
    [['segment', 'eval', '--method', 'otsu', '--images', missing, '--masks', missing], /drg-reliability/],
    [['segment', 'predict', '--model', missing, '--in', missing, '--out', 'o5'], /drg-reliability/],
  ];
  for (const [argv, re] of cases) {
    it(argv.slice(0, 3).join(' '), () => {
      const r = runCli(argv, { cwd: dir });
      oneError(r, 3, re);
      for (const o of ['o1', 'o2', 'o3', 'o4', 'o5']) expect(listTree(join(dir, o))).toEqual([]);
    });
  }
});

describe('scene configs', () => {
  it('a JSON syntax error names the file, line and column', () => {
    const f = join(dir, 'syntax.json');
    writeFileSync(f, '{\n  "width": 64,\n  "bogus" 3\n}\n');
    oneError(runCli(['render', '--config', f, '--out', join(dir, 'r1')]), 3, new RegExp(`${f}: invalid JSON at line 3, column 11`));
    oneError(runCli(['train', '--config', f, '--out', join(dir, 't1'), '--patch', '32']), 3, new RegExp(`${f}: invalid JSON at line 3, column 11`));
    expect(listTree(join(dir, 'r1'))).toEqual([]);
    expect(listTree(join(dir, 't1'))).toEqual([]);
  });

  it('a wrong field names the field and its allowed values (exit code 4)', () => {
    const unknown = join(dir, 'unknown-field.json');
    writeFileSync(unknown, '{"bogus": 1}');
    const wrongType = join(dir, 'wrong-type.json');
    writeFileSync(wrongType, '{"shading": {"model": "tem"}}');
    const range = join(dir, 'range.json');
    writeFileSync(range, '{"params": {"blurSigma": -5}}');
    for (const cmd of [['render', '--out', join(dir, 'r2')], ['train', '--patch', '32', '--out', join(dir, 't2')]]) {
      oneError(runCli([...cmd, '--config', unknown]), 4, /config field 'bogus': unknown field; allowed: width, height, camera, particles/, /unknown-field\.json/);
      oneError(runCli([...cmd, '--config', wrongType]), 4, /config field 'shading\.model': got "tem"; must be one of "sem", "him"/, /wrong-type\.json/);
      oneError(runCli([...cmd, '--config', range]), 4, /config field 'params\.blurSigma': got -5; must be a number in \[/, /range\.json/);
    }
    expect(listTree(join(dir, 'r2'))).toEqual([]);
    expect(listTree(join(dir, 't2'))).toEqual([]);
  });
});

describe('gradcheck --backend', () => {
  it('every listed backend runs the checks (wasm used to crash with exit 1); an unknown one is a usage error', () => {
    for (const b of ['reference', 'wasm', 'wasm-1t']) {
      const r = runCli(['gradcheck', '--backend', b, '--op', 'matmul', '--json']);
      expect(r.code, `${b}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout) as { backend: string; failed: number; passed: number };
      expect(out.backend).toBe(b);
      expect(out.failed).toBe(0);
      expect(out.passed).toBeGreaterThan(0);
    }
    oneError(runCli(['gradcheck', '--backend', 'cuda']), 2, /--backend/);
  });
});
