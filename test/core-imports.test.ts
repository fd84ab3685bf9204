/**
 * The embeddable core (src/autodiff, src/charts, src/io, src/particles, src/render, src/gan,
 * src/seg) must run in a browser and in Web Workers: no Node module (static or dynamic import,
 * require), no `process` / `Buffer` / `__dirname` globals, and no import of the Node-side layers
 * (src/node, src/cli).
 * Files, threads and the clock come in through interfaces the Node side (src/node, src/cli) or a
 * browser entry provides. Also: src/browser.ts bundles for platform 'browser'.
 */
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORE = ['src/autodiff', 'src/charts', 'src/io', 'src/particles', 'src/render', 'src/gan', 'src/seg'];
/** Node-side layers the core must not import (they import Node modules themselves). */
const NODE_SIDE = ['src/node/', 'src/cli/', 'src/cli.ts', 'src/index.ts'];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]]));

/**
 * Two views of a source, line structure kept: `code` has comments blanked; `bare` also has the
 * contents of strings and templates blanked (the `${...}` parts of templates stay code). Regular
 * expression literals are recognised by the token before the slash.
 */
export function lex(src: string): { code: string; bare: string } {
  let code = '', bare = '';
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ');
  const emit = (s: string, inBare: string = s): void => {
    code += s;
    bare += inBare;
  };
  const templateDepth: number[] = []; // brace depth at which each open template's ${ started
  let depth = 0;
  let i = 0;
  let lastSignificant = '';
  const regexCanStart = (): boolean => lastSignificant === '' || /[(,=:[!&|?{};+\-*%<>~^]$/.test(lastSignificant) || /\b(return|typeof|case|do|else|in|of|void|yield|await)$/.test(lastSignificant);
  const readTemplate = (): void => {
    // at a backtick or at the } closing a ${...}: read up to the closing backtick or the next ${
    let j = i + 1;
    while (j < src.length) {
      if (src[j] === '\\') j += 2;
      else if (src[j] === '`') {
        emit(src.slice(i, j + 1), src[i] + blank(src.slice(i + 1, j)) + '`');
        i = j + 1;
        lastSignificant = '`';
        return;
      } else if (src[j] === '$' && src[j + 1] === '{') {
        emit(src.slice(i, j + 2), src[i] + blank(src.slice(i + 1, j)) + '${');
        i = j + 2;
        templateDepth.push(depth++);
        lastSignificant = '{';
        return;
      } else j++;
    }
    emit(src.slice(i), blank(src.slice(i)));
    i = src.length;
  };
  while (i < src.length) {
    const c = src[i], n = src[i + 1];
    if (c === '/' && n === '/') {
      const end = src.indexOf('\n', i);
      const j = end < 0 ? src.length : end;
      emit(blank(src.slice(i, j)));
      i = j;
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      const j = end < 0 ? src.length : end + 2;
      emit(blank(src.slice(i, j)));
      i = j;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      emit(src.slice(i, j + 1), c + blank(src.slice(i + 1, j)) + c);
      i = j + 1;
      lastSignificant = c;
    } else if (c === '`') {
      readTemplate();
    } else if (c === '}' && templateDepth.length && templateDepth[templateDepth.length - 1] === depth - 1) {
      templateDepth.pop();
      depth--;
      readTemplate();
    } else if (c === '/' && regexCanStart()) {
      let j = i + 1, cls = false;
      while (j < src.length && src[j] !== '\n' && (cls || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') cls = true;
        else if (src[j] === ']') cls = false;
        j++;
      }
      emit(src.slice(i, j + 1), '/' + blank(src.slice(i + 1, j)) + '/');
      i = j + 1;
      lastSignificant = '/';
    } else {
      if (c === '{') depth++;
      else if (c === '}') depth--;
      emit(c);
      if (!/\s/.test(c)) lastSignificant = /[\w$]/.test(c) ? (/[\w$]$/.test(lastSignificant) ? lastSignificant + c : c) : c;
      i++;
    }
  }
  return { code, bare };
}

export interface Offence {
  line: number;
  what: string;
}

/** The Node imports and globals in one source; `file` (repo-relative) resolves relative imports. */
export function nodeOffences(src: string, file: string): Offence[] {
  const { code, bare } = lex(src);
  const out: Offence[] = [];
  const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;
  const checkSpecifier = (spec: string, index: number, how: string): void => {
    const name = spec.startsWith('node:') ? spec : spec.split('/')[0];
    if (spec.startsWith('node:') || BUILTINS.has(name)) out.push({ line: lineOf(code, index), what: `${how} of Node module '${spec}'` });
    else if (spec.startsWith('.')) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
      const hit = NODE_SIDE.find((p) => (p.endsWith('/') ? target.startsWith(p) : target === p));
      if (hit) out.push({ line: lineOf(code, index), what: `${how} of the Node-side '${target}'` });
    }
  };
  // Static imports / re-exports (the specifier is a string, so search `code`, not `bare`).
  for (const m of code.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g)) checkSpecifier(m[2], m.index, 'import');
  for (const m of code.matchAll(/\bimport\s*(['"])([^'"]+)\1/g)) checkSpecifier(m[2], m.index, 'import');
  // Dynamic import() and require().
  for (const m of bare.matchAll(/(?<![.\w$])import\s*\(/g)) {
    const lit = /^import\s*\(\s*(['"`])([^'"`]+)\1/.exec(code.slice(m.index));
    if (lit) checkSpecifier(lit[2], m.index, 'dynamic import()');
    else out.push({ line: lineOf(bare, m.index), what: 'dynamic import() of a computed specifier' });
  }
  for (const m of bare.matchAll(/(?<![.\w$])require\s*\(/g)) out.push({ line: lineOf(bare, m.index), what: 'require()' });
  // Node globals (not as a property name, e.g. `x.process`, nor inside strings or comments).
  for (const m of bare.matchAll(/(?<![.\w$])(process|Buffer|__dirname|__filename)(?![\w$])|\bglobal(?:This)?\s*\.\s*(process|Buffer)\b/g)) {
    out.push({ line: lineOf(bare, m.index), what: `Node global '${m[1] ?? m[2]}'` });
  }
  return out.sort((a, b) => a.line - b.line);
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel);
    return /\.(ts|mts|js|mjs)$/.test(name) && !/\.(test|spec)\.[mc]?[jt]s$/.test(name) && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

describe('the checker', () => {
  it('finds static, dynamic and require imports of Node modules and the Node globals', () => {
    const src = [
      "import { readFileSync } from 'node:fs';", // 1
      "import * as os from 'os';", // 2
      "export { join } from 'path';", // 3
      "import 'worker_threads';", // 4
      "const w = await import('node:worker_threads');", // 5
      "const cp = require('child_process');", // 6
      'const n = process.env.N;', // 7
      'const b = Buffer.from([1]);', // 8
      "import { x } from '../node/wasm-pool.js';", // 9
      'const t = `a ${process.argv[0]} b`;', // 10
      'const m = await import(name);', // 11
      "import {\n  a,\n  b,\n} from 'node:url';", // 12..15
    ].join('\n');
    const found = nodeOffences(src, 'src/gan/x.ts').map((o) => o.line);
    expect(found).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });
  it('ignores comments, strings, regular expressions, property names and look-alikes', () => {
    const src = [
      '// process.stderr.write, Buffer, require("fs")',
      "/* import { x } from 'node:fs'; */",
      "const s = 'process Buffer require(x) import(y)';",
      'const r = /process|Buffer/g;',
      'const a = new SharedArrayBuffer(8), b = new ArrayBuffer(8);',
      'if (!p.requiresGrad) this.registerBuffer(k, v);',
      'const q = obj.process + obj.Buffer;',
      "import { Tensor } from '../autodiff/tensor.js';",
      "import { decodeImage } from '../io/index.js';",
      'const u = `${a / 2} and process`;',
      'const d = x / 2 / y;',
    ].join('\n');
    expect(nodeOffences(src, 'src/gan/x.ts')).toEqual([]);
  });
});

describe('the core imports nothing from Node', () => {
  it('src/autodiff, src/charts, src/io, src/particles, src/render, src/gan and src/seg hold no Node import or global', () => {
    const offences = CORE.flatMap(sources).flatMap((file) =>
      nodeOffences(readFileSync(join(ROOT, file), 'utf8'), file).map((o) => `${file}:${o.line}: ${o.what}`),
    );
    expect(offences, `Node-only code in the core (move it to src/node/ or inject it):\n${offences.join('\n')}`).toEqual([]);
  });

  it('src/browser.ts bundles for platform "browser" with no require() or node: import left', async () => {
    const r = await build({
      entryPoints: [join(ROOT, 'src/browser.ts')],
      bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true,
    });
    expect(r.errors).toEqual([]);
    const text = r.outputFiles[0]!.text;
    expect(text).not.toMatch(/\brequire\(|from ["']node:|import\(["']node:/);
    expect(text).toMatch(/GanTrainer/);
    const inputs = Object.keys(r.metafile!.inputs);
    // fflate (pure-JS DEFLATE, the PNG encoder's compressor) is the one package allowed in: it has a browser build.
    expect(inputs.filter((f) => f.includes('gpu.js') || (f.includes('node_modules') && !f.includes('node_modules/fflate/')))).toEqual([]);
    expect(inputs.some((f) => f.includes('node_modules/fflate/'))).toBe(true);
  });
});
