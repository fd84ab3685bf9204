/**
 * The `diffrendergan` command. Each subcommand declares its flags (src/cli/args.ts) and a main
 * function; user errors print one line and exit with the code documented in the README.
 */
import { ExitCode, UserError } from './errors.js';
import { helpText, parseFlags, type CommandSpec, type ParsedFlags } from './cli/args.js';
import { gradcheckCommand, gradcheckMain } from './cli/gradcheck.js';
import { segmentCommand, segmentMain } from './cli/segment.js';
import { trainCommand, trainMain } from './cli/train.js';
import { generateCommand, generateMain } from './cli/generate.js';
import { renderCommand, renderMain } from './cli/render.js';
import { pipelineCommand, pipelineMain } from './cli/pipeline.js';
import { realismCommand, realismMain } from './cli/realism.js';
import './autodiff/index.js';

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

async function main(argv: string[]): Promise<number> {
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UserError) {
      console.error(`diffrendergan: ${err.message}`);
      process.exitCode = err.exitCode;
    } else {
      console.error(err);
      process.exitCode = ExitCode.internal;
    }
  },
);
