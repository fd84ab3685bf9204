/** `diffrendergan generate`: annotated synthetic image / mask pairs from a trained run. */
import type { CommandSpec, ParsedFlags } from './args.js';
import { DEFAULT_NNUNET_NAME, runGenerate, type DatasetFormat } from '../node/generate.js';
import { ExitCode, UserError } from '../errors.js';
import { availableParallelism } from 'node:os';

export const generateCommand: CommandSpec = {
  name: 'generate',
  summary: 'write annotated synthetic image / mask pairs from a trained run',
  usage: 'diffrendergan generate --run RUN_DIR --out DIR [--epoch best|last|N] [--n 1000] [--format png|nnunet|coco [--dataset-id N [--dataset-name NAME]]] [--seed S]',
  flags: [
    { name: 'run', type: 'string', meta: 'RUN_DIR', help: 'a folder written by `diffrendergan train`' },
    { name: 'out', type: 'string', meta: 'DIR', help: 'dataset folder (rerunning the same command continues an interrupted export)' },
    { name: 'epoch', type: 'string', default: 'best', meta: 'best|last|N', help: 'which checkpoint: the best-epoch rule, the last one, or an epoch number' },
    { name: 'n', type: 'int', min: 1, max: 1_000_000, default: 1000, meta: 'N', help: 'number of pairs' },
    { name: 'format', type: 'string', default: 'png', choices: ['png', 'nnunet', 'coco'], help: 'dataset layout' },
    { name: 'dataset-id', type: 'int', min: 1, meta: 'N', help: 'with --format nnunet: write OUT/DatasetNNN_<name>, the folder nnU-Net v2 expects under nnUNet_raw (docs/segmentation.md)' },
    { name: 'dataset-name', type: 'string', meta: 'NAME', help: `with --dataset-id: the dataset's name (default ${DEFAULT_NNUNET_NAME})` },
    { name: 'seed', type: 'int', min: 0, default: 1, meta: 'S', help: 'seed of the configurations (sample i depends only on seed and i)' },
    { name: 'workers', type: 'int', min: 1, max: 64, default: availableParallelism(), meta: 'N', help: 'parallel processes' },
    { name: 'shard', type: 'string', meta: 'I/N', help: '(internal) generate only indices i with i mod N = I' },
    { name: 'quiet', type: 'boolean', help: 'no progress output' },
  ],
};

export async function generateMain(flags: ParsedFlags): Promise<number> {
  if (!flags.run) throw new UserError('generate: --run RUN_DIR is required', ExitCode.usage);
  if (!flags.out) throw new UserError('generate: --out DIR is required', ExitCode.usage);
  const e = String(flags.epoch);
  if (e !== 'best' && e !== 'last' && !/^\d+$/.test(e)) throw new UserError(`--epoch must be best, last or an epoch number, got '${e}'`, ExitCode.usage);
  let shard: { index: number; count: number } | undefined;
  if (flags.shard) {
    const m = /^(\d+)\/(\d+)$/.exec(String(flags.shard));
    if (!m || Number(m[1]) >= Number(m[2])) throw new UserError(`--shard must be I/N with I < N, got '${flags.shard}'`, ExitCode.usage);
    shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  await runGenerate({
    run: String(flags.run),
    out: String(flags.out),
    epoch: e === 'best' || e === 'last' ? e : Number(e),
    n: Number(flags.n),
    format: flags.format as DatasetFormat,
    seed: Number(flags.seed),
    workers: Number(flags.workers),
    quiet: !!flags.quiet,
    shard,
    datasetId: flags['dataset-id'] === undefined ? undefined : Number(flags['dataset-id']),
    datasetName: flags['dataset-name'] === undefined ? undefined : String(flags['dataset-name']),
  });
  return ExitCode.ok;
}
