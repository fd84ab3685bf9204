/**
 * What the fuzzer drives: each target builds input `index` from its generator and runs it through
 * the project's public entry points (the decoders, the scene-config reader, the run-folder
 * loaders of `generate` and `train --resume`, and the command line itself). A target's run()
 * returns normally or throws a UserError (a clean, documented refusal); anything else is a crash.
 * Inputs are mutations of valid seed files plus structured hostile values (fuzz/mutate.ts).
 */
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { decodeImage, decodeMesh } from '../src/io/decode.js';
import { encodePngGrey8 } from '../src/io/png.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { applySceneConfigFile } from '../src/node/scene-config.js';
import { presetConfig } from '../src/render/presets/index.js';
import { loadRun } from '../src/node/generate.js';
import { pickBest, readRunConfig, restoreCheckpoint } from '../src/node/train.js';
import { listCheckpoints, readMetricsFile, sha256Hex } from '../src/node/gan-checkpoint.js';
import { GanTrainer } from '../src/gan/trainer.js';
import { demoSetup } from '../src/gan/demo.js';
import { runCli } from '../src/cli/main.js';
import { trainCommand } from '../src/cli/train.js';
import { generateCommand } from '../src/cli/generate.js';
import { renderCommand } from '../src/cli/render.js';
import { segmentCommand } from '../src/cli/segment.js';
import { pipelineCommand } from '../src/cli/pipeline.js';
import { realismCommand } from '../src/cli/realism.js';
import type { CommandSpec, FlagSpec } from '../src/cli/args.js';
import type { PresetName } from '../src/render/presets/index.js';
import { pattern } from '../test/io/helpers/common.js';
import { fixPngCrcs } from '../test/io/helpers/png-builder.js';
import { objSeed, plySeeds, pngSeeds, tiffSeeds } from '../test/io/helpers/seed-corpus.js';
import { type FuzzRng, jsonText, mutateBytes, mutateJson } from './mutate.js';

export interface Target {
  name: string;
  /** Once per process, before the first input (files, a tiny training run...). */
  setup(work: string): Promise<void> | void;
  run(rng: FuzzRng, index: number): Promise<void> | void;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Textual edits for text formats: tokens that change numbers, signs, keywords and counts. */
const TOKENS = ['-', '0', '9', '/', ' ', '\n', 'e', '.', 'nan', 'inf', 'f ', 'v ', '99999999999', '4294967295', '-1', 'list', 'uint', 'double', 'element vertex 1000000000\n'];
function mutateText(rng: FuzzRng, seed: Uint8Array): Uint8Array {
  let text = new TextDecoder('latin1').decode(seed);
  const edits = 1 + rng.int(5);
  for (let e = 0; e < edits; e++) {
    const p = rng.int(text.length + 1);
    text = text.slice(0, p) + rng.pick(TOKENS) + text.slice(p + (rng.chance(0.5) ? 1 : 0));
  }
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 255);
}

function randomBytes(rng: FuzzRng, prefix: number[]): Uint8Array {
  return Uint8Array.from([...prefix, ...Array.from({ length: rng.int(600) }, () => rng.int(256))]);
}

function imageTarget(name: 'png' | 'tiff', seeds: () => Uint8Array[], magic: number[][]): Target {
  let list: Uint8Array[] = [];
  return {
    name,
    setup: () => {
      list = seeds();
    },
    run: (rng) => {
      let bytes: Uint8Array;
      if (rng.chance(0.1)) bytes = randomBytes(rng, rng.pick(magic));
      else {
        bytes = mutateBytes(rng, rng.pick(list));
        if (name === 'png' && rng.chance(0.5)) bytes = fixPngCrcs(bytes);
      }
      decodeImage(bytes, `fuzz.${name === 'png' ? 'png' : 'tif'}`);
    },
  };
}

function meshTarget(name: 'ply' | 'obj'): Target {
  let list: Uint8Array[] = [];
  return {
    name,
    setup: () => {
      list = name === 'ply' ? plySeeds() : [objSeed()];
    },
    run: (rng) => {
      const seed = rng.pick(list);
      const bytes = rng.chance(0.1) ? randomBytes(rng, name === 'ply' ? [...enc('ply\n')] : []) : rng.chance(0.5) ? mutateText(rng, seed) : mutateBytes(rng, seed);
      decodeMesh(bytes, `fuzz.${name}`);
    },
  };
}

function safetensorsTarget(): Target {
  let seeds: Uint8Array[] = [];
  let headers: { header: Record<string, unknown>; body: Uint8Array }[] = [];
  return {
    name: 'safetensors',
    setup: () => {
      const r = pattern(24, 1000).map((v) => v / 1000 - 0.5);
      seeds = [
        encodeSafetensors({ 'a.weight': { dtype: 'F32', shape: [2, 3], data: Float32Array.from(r.slice(0, 6)) }, 'a.bias': { dtype: 'F64', shape: [2], data: Float64Array.from([1, 2]) } }, { format: 'pt' }),
        encodeSafetensors({ n: { dtype: 'I32', shape: [1], data: Int32Array.from([7]) }, m: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) }, e: { dtype: 'F32', shape: [0], data: new Float32Array(0) } }),
      ];
      headers = seeds.map((s) => {
        const n = Number(new DataView(s.buffer, s.byteOffset).getBigUint64(0, true));
        return { header: JSON.parse(new TextDecoder().decode(s.subarray(8, 8 + n))), body: s.subarray(8 + n) };
      });
    },
    run: (rng) => {
      let bytes: Uint8Array;
      if (rng.chance(0.5)) bytes = mutateBytes(rng, rng.pick(seeds));
      else {
        // Structural: a well-formed file whose header JSON is edited (dtypes, shapes, offsets, keys).
        const { header, body } = rng.pick(headers);
        const h = enc(jsonText(mutateJson(rng, header)));
        bytes = new Uint8Array(8 + h.length + body.length);
        new DataView(bytes.buffer).setBigUint64(0, BigInt(h.length), true);
        bytes.set(h, 8);
        bytes.set(body, 8 + h.length);
      }
      decodeSafetensors(bytes, 'fuzz.safetensors');
    },
  };
}

const VALID_CONFIGS: unknown[] = [
  { width: 64, height: 64, particles: { count: { min: 2, max: 5 }, size: { type: 'bimodal', components: [{ mean: 1, std: 0.1, weight: 1 }, { mean: 2, std: 0.2, weight: 1 }] } } },
  { particles: { shape: 'wire', wire: { length: 50, sides: 6 } }, shading: { model: 'him', noise: false } },
  { raster: { sigma: 0.2 }, masks: { minArea: 10 }, params: {} },
  { particles: { mesh: 'grain.ply' } },
];

function sceneConfigTarget(): Target {
  let dir = '';
  const base = presetConfig('tio2-sem');
  return {
    name: 'scene-config',
    setup: (work) => {
      dir = mkdtempSync(join(work, 'cfg-'));
      writeFileSync(join(dir, 'grain.ply'), plySeeds()[0]!);
    },
    run: (rng, index) => {
      const file = join(dir, `c${index % 8}.json`);
      let text: string;
      const doc = rng.pick(VALID_CONFIGS);
      const k = rng.int(10);
      if (k < 6) text = jsonText(mutateJson(rng, doc));
      else if (k < 9) text = new TextDecoder().decode(mutateBytes(rng, enc(jsonText(doc))));
      else {
        const depth = rng.pick([17, 1000, 100000]);
        text = `{"particles":${'['.repeat(depth)}${']'.repeat(rng.chance(0.5) ? depth : 0)}}`;
      }
      writeFileSync(file, text);
      applySceneConfigFile(base, file, () => {});
    },
  };
}

/** A tiny real training run (2 epochs of 1 step) whose files are mutated one at a time. */
async function makeRun(work: string): Promise<string> {
  const run = join(work, 'run');
  const code = await runCli(['train', '--patch', '32', '--epochs', '2', '--steps-per-epoch', '1', '--base-filters', '4', '--configs', '2', '--eval-samples', '1', '--backend', 'reference', '--quiet', '--out', run]);
  if (code !== 0) throw new Error(`fuzz setup: the tiny training run failed (exit ${code})`);
  return run;
}

function runFolderTarget(): Target {
  let run = '';
  let files: string[] = [];
  let originals = new Map<string, Uint8Array>();
  let trainer: GanTrainer | undefined;
  return {
    name: 'run-folder',
    setup: async (work) => {
      run = await makeRun(work);
      writeFileSync(join(run, 'best.json'), JSON.stringify({ epoch: 2, reason: 'fuzz seed' }));
      files = ['config.json', 'metrics.jsonl', 'best.json', ...readdirSync(join(run, 'epoch-0002')).map((f) => join('epoch-0002', f))];
      originals = new Map(files.map((f) => [f, new Uint8Array(readFileSync(join(run, f)))]));
      const config = readRunConfig(join(run, 'config.json'));
      const d = config.data.kind === 'demo' ? config.data : undefined;
      const reals = demoSetup({ preset: config.gan.preset as PresetName, size: config.gan.patch, count: d!.count, seed: config.gan.seed, hidden: d!.hidden }).reals;
      trainer = new GanTrainer(config.gan, reals);
    },
    run: (rng) => {
      const name = rng.pick(files);
      const path = join(run, name);
      const original = originals.get(name)!;
      const isJson = /\.json$|done$/.test(name);
      let bytes: Uint8Array;
      if (isJson && rng.chance(0.6)) bytes = enc(jsonText(mutateJson(rng, JSON.parse(new TextDecoder().decode(original)))));
      else if (name.endsWith('metrics.jsonl') && rng.chance(0.6)) {
        const lines = new TextDecoder().decode(original).trim().split('\n');
        const i = rng.int(lines.length);
        lines[i] = jsonText(mutateJson(rng, JSON.parse(lines[i])));
        bytes = enc(lines.join('\n') + '\n');
      } else bytes = mutateBytes(rng, original);
      const done = join(run, 'epoch-0002', 'done');
      const doneOriginal = originals.get(join('epoch-0002', 'done'))!;
      try {
        writeFileSync(path, bytes);
        // Half the time the checksum is re-recorded, so the edit reaches the checks behind it.
        if (name.startsWith('epoch-') && !name.endsWith('done') && rng.chance(0.5)) {
          const marker = JSON.parse(new TextDecoder().decode(doneOriginal));
          marker.files[name.slice('epoch-0002/'.length)] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
          writeFileSync(done, JSON.stringify(marker));
        }
        // What `generate --run` and `train --resume` load.
        readMetricsFile(run);
        const config = readRunConfig(join(run, 'config.json'));
        pickBest(run, config.gan);
        loadRun(run, rng.pick(['best', 'last', 1, 2] as const));
        const epochs = listCheckpoints(run);
        if (epochs.length > 0) restoreCheckpoint(run, epochs[epochs.length - 1], trainer!);
      } finally {
        writeFileSync(path, original);
        writeFileSync(done, doneOriginal);
      }
    },
  };
}

/** Paths a hostile user passes where a file or folder is expected (made in setup). */
function hostilePaths(work: string): string[] {
  const d = mkdtempSync(join(work, 'paths-'));
  const fifo = join(d, 'x.tif');
  execFileSync('mkfifo', [fifo]);
  const big = join(d, 'huge.tif');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, 600 * 2 ** 20); // sparse: above the 512 MiB input cap, no disk used
  closeSync(fd);
  writeFileSync(join(d, 'garbage.png'), Uint8Array.from(pattern(300, 255)));
  writeFileSync(join(d, 'empty.tif'), new Uint8Array(0));
  writeFileSync(join(d, 'deep.json'), '{"a":' + '['.repeat(100000) + ']'.repeat(100000) + '}');
  writeFileSync(join(d, 'proto.json'), '{"particles": {"__proto__": {"mesh": "/dev/zero", "shape": "mesh"}}}');
  writeFileSync(join(d, 'zero-mesh.json'), '{"particles": {"mesh": "/dev/zero"}}');
  mkdirSync(join(d, 'empty-dir'));
  mkdirSync(join(d, 'fake-run'));
  writeFileSync(join(d, 'fake-run', 'config.json'), '{"version": 1, "gan": {"patch": 1e9}, "data": {}}');
  // (A missing path under /proc: nothing can be created there, so an --out given it writes nothing.)
  return ['/dev/zero', '/dev/urandom', '/dev/null', fifo, big, join(d, 'garbage.png'), join(d, 'empty.tif'), join(d, 'deep.json'), join(d, 'proto.json'), join(d, 'zero-mesh.json'), join(d, 'empty-dir'), join(d, 'fake-run'), '/proc/nonexistent/x', '/proc/self/mem', '', '-', '--', 'x'.repeat(5000)];
}

/** Values that no numeric flag accepts (below / above its range, non-integers, not numbers). */
function invalidNumber(rng: FuzzRng, f: FlagSpec): string {
  const max = f.max ?? 2 ** 31 - 1;
  const min = f.min ?? -Infinity;
  const options = ['abc', '', ' ', 'NaN', 'Infinity', '-Infinity', '1e400', '99999999999999999999', '0x', String(max + 1), String(max * 10 + 7), '1e12', '1e9'];
  if (Number.isFinite(min)) options.push(String(min - 1), String(min - 1e6));
  if (f.type === 'int') options.push('1.5', `${Math.max(min, 1)}.25`);
  return rng.pick(options);
}

interface Template {
  spec: CommandSpec;
  /** Flags put back when a mutation cut them off, so that no input starts a long run. */
  keep: [string, string][];
  argv: (ctx: { out: string; run: string; img: string; hostile: string }) => string[];
  /** Flags given a hostile path on a path mutation. */
  pathFlags: string[];
}

function cliTarget(): Target {
  let paths: string[] = [];
  let work = '';
  let run = '';
  let img = '';
  const cmd = (name: string): CommandSpec => {
    const c = [trainCommand, generateCommand, renderCommand, pipelineCommand, realismCommand].find((s) => s.name === name);
    return c ?? segmentCommand;
  };
  const templates: Template[] = [
    { spec: cmd('train'), keep: [['epochs', '1'], ['steps-per-epoch', '1'], ['patch', '32'], ['base-filters', '4'], ['configs', '1'], ['eval-samples', '1'], ['backend', 'reference']], argv: (c) => ['train', '--patch', '32', '--epochs', '1', '--steps-per-epoch', '1', '--base-filters', '4', '--configs', '1', '--eval-samples', '1', '--backend', 'reference', '--quiet', '--out', c.out, '--real', c.hostile], pathFlags: ['real', 'config', 'resume', 'out'] },
    { spec: cmd('generate'), keep: [['n', '2']], argv: (c) => ['generate', '--run', c.run, '--out', c.out, '--n', '1', '--workers', '1', '--quiet'], pathFlags: ['run', 'out'] },
    { spec: cmd('render'), keep: [['n', '1'], ['size', '16']], argv: (c) => ['render', '--n', '1', '--size', '16', '--out', c.out, '--quiet', '--config', c.hostile], pathFlags: ['config', 'out'] },
    { spec: cmd('pipeline'), keep: [['budget', 'quick'], ['backend', 'reference'], ['workers', '1']], argv: (c) => ['pipeline', '--real', c.hostile, '--out', c.out, '--budget', 'quick', '--backend', 'reference', '--quiet'], pathFlags: ['real', 'config', 'eval-masks', 'out'] },
    { spec: cmd('realism'), keep: [['backend', 'reference']], argv: (c) => ['realism', '--real', c.hostile, '--synth', c.img, '--stats-only', '--backend', 'reference', '--quiet'], pathFlags: ['real', 'synth'] },
    { spec: cmd('segment'), keep: [], argv: (c) => ['segment', 'predict', '--method', 'otsu', '--in', c.img, '--out', c.out], pathFlags: ['in', 'out', 'model'] },
    { spec: cmd('segment'), keep: [], argv: (c) => ['segment', 'eval', '--method', 'otsu', '--images', c.hostile, '--masks', c.hostile], pathFlags: ['images', 'masks'] },
  ];
  return {
    name: 'cli',
    setup: async (w) => {
      work = w;
      process.chdir(w); // relative paths ('-', '') land in the work folder, which is removed after
      paths = hostilePaths(w);
      run = await makeRun(w);
      const d = mkdtempSync(join(w, 'img-'));
      img = join(d, 'a.png');
      writeFileSync(img, encodePngGrey8(32, 32, new Uint8Array(pattern(32 * 32, 255))));
    },
    run: async (rng, index) => {
      const t = rng.pick(templates);
      const out = join(work, `out-${index}`);
      let argv = t.argv({ out, run, img, hostile: rng.pick(paths) });
      // Every input carries at least one value the command must refuse (so none starts a long run).
      const flagsOf = t.spec.flags;
      const numeric = flagsOf.filter((f) => f.type === 'int' || f.type === 'number');
      const choice = flagsOf.filter((f) => f.choices);
      const set = (name: string, value: string | undefined): void => {
        const i = argv.indexOf(`--${name}`);
        if (i >= 0 && value !== undefined) argv[i + 1] = value;
        else if (i >= 0) argv.splice(i + 1, 1);
        else argv.push(`--${name}`, ...(value === undefined ? [] : [value]));
      };
      const edits = 1 + rng.int(3);
      for (let e = 0; e < edits; e++) {
        const k = rng.int(10);
        if (k < 4 && numeric.length) {
          const f = rng.pick(numeric);
          set(f.name, invalidNumber(rng, f));
        } else if (k < 7) set(rng.pick(t.pathFlags), rng.pick(paths));
        else if (k < 8 && choice.length) set(rng.pick(choice).name, rng.pick(['', 'nope', '__proto__', 'toString', 'constructor']));
        else if (k < 9) argv.push(rng.pick(['--__proto__', '--constructor', '--no-such-flag', 'stray', '--help=x', '--quiet=maybe']), 'x');
        else argv = argv.slice(0, 1 + rng.int(argv.length));
      }
      for (const [name, value] of t.keep) if (!argv.includes(`--${name}`)) argv.push(`--${name}`, value);
      if (t.argv === templates[3]!.argv && !argv.includes('--real')) argv.push('--real', rng.pick(paths)); // pipeline: never on valid images
      // generate forks workers of process.argv[1], which here is the fuzzer, not the CLI: keep one.
      if (argv[0] === 'generate') argv = [...argv.filter((_, i) => argv[i] !== '--workers' && argv[i - 1] !== '--workers'), '--workers', '1'];
      if (process.env.DRG_FUZZ_TRACE) process.stdout.write(`cli input ${index}: ${JSON.stringify(argv)}\n`);
      try {
        await runCli(argv);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
  };
}

export const TARGETS: Record<string, () => Target> = {
  tiff: () => imageTarget('tiff', tiffSeeds, [[0x49, 0x49, 42, 0], [0x4d, 0x4d, 0, 42]]),
  png: () => imageTarget('png', pngSeeds, [[137, 80, 78, 71, 13, 10, 26, 10]]),
  ply: () => meshTarget('ply'),
  obj: () => meshTarget('obj'),
  safetensors: safetensorsTarget,
  'scene-config': sceneConfigTarget,
  'run-folder': runFolderTarget,
  cli: cliTarget,
};

