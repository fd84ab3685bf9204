/**
 * The `diffrendergan` command. Each subcommand declares its flags (src/cli/args.ts) and a main
 * function; user errors print one line and exit with the code documented in the README.
 * Started as a task worker (src/node/task-workers.ts), the same script serves jobs instead.
 */
import { fileURLToPath } from 'node:url';
import { ExitCode, UserError } from './errors.js';
import { runCli } from './cli/main.js';
import { closeTaskWorkers, enableTaskWorkers, isTaskWorker, serveTasks } from './node/task-workers.js';

if (isTaskWorker()) serveTasks();
else {
  enableTaskWorkers(fileURLToPath(import.meta.url));
  runCli(process.argv.slice(2))
    .then(
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
    )
    // the task workers the command used (the pool lives for the whole command)
    .finally(closeTaskWorkers);
}
