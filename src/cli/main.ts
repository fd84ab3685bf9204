/**
 * The `diffrendergan` command line without the process around it: runCli(argv) resolves to the
 * exit code or throws (a UserError for anything the user caused). src/cli.ts prints and exits;
 * the fuzzer (fuzz/) drives this in-process.
 */
import { ExitCode, UserError } from '../errors.js';
import { helpText, parseFlags, type CommandSpec, type ParsedFlags } from './args.js';
import { gradcheckCommand, gradcheckMain } from './gradcheck.js';
import { segmentCommand, segmentMain } from './segment.js';
import { trainCommand, trainMain } from './train.js';
import { generateCommand, generateMain } from './generate.js';
import { renderCommand, renderMain } from './render.js';
import { pipelineCommand, pipelineMain } from './pipeline.js';
import { realismCommand, realismMain } from './realism.js';
import '../autodiff/index.js';

interface Command {
  spec: CommandSpec;
  main: (flags: ParsedFlags) => Promise<number>;
}

const commands: Command[] = [
  { spec: trainCommand, main: trainMain },
  { spec: generateCommand, main: generateMain },
  { spec: gradcheckCommand, main: gradcheckMain },
  { spec: segmentCommand, main: segmentMain },
  { spec: renderCommand, main: renderMain },
  { spec: pipelineCommand, main: pipelineMain },
  { spec: realismCommand, main: realismMain },
];

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2;
  return [
    'diffrendergan: annotated synthetic nanoparticle micrographs by differentiable rendering + GAN, and particle measurement.',
    '',
    'Usage: diffrendergan <command> [flags]      (diffrendergan <command> --help for its flags)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topHelp());
    return ExitCode.ok;
  }
  const cmd = commands.find((c) => c.spec.name === name);
  if (!cmd) throw new UserError(`unknown command '${name}'. Commands: ${commands.map((c) => c.spec.name).join(', ')}`, ExitCode.usage);
  const flags = parseFlags(cmd.spec, rest);
  if (flags.help) {
    console.log(helpText(cmd.spec));
    return ExitCode.ok;
  }
  return cmd.main(flags);
}

