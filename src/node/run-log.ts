/**
 * A run folder's text log (train.log): every line `train` reports (the calibrations with the
 * estimates behind them, the epochs' realism scores, the chosen epoch), kept whether or not
 * --quiet hid them from the terminal, so a quiet run (the pipeline's, a scheduled job's) still
 * says how its scene was calibrated. Lines reported before the run folder exists are held and
 * written when it is attached; a resumed run appends to the same file.
 */
import { appendFileSync } from 'node:fs';
import { ExitCode, UserError } from '../errors.js';
import { fsErrorText } from './files.js';

export const RUN_LOG_FILE = 'train.log';

export class RunLog {
  private held: string[] = [];
  private file: string | null = null;

  /** Keeps one line (no trailing newline). */
  write(line: string): void {
    if (this.file) append(this.file, line + '\n');
    else this.held.push(line);
  }

  /** From now on lines go to `file`, after the held ones and a line that marks this process's start. */
  attach(file: string, start: string): void {
    append(file, [start, ...this.held].map((l) => l + '\n').join(''));
    this.held = [];
    this.file = file;
  }
}

function append(file: string, text: string): void {
  try {
    appendFileSync(file, text);
  } catch (e) {
    throw new UserError(`${file}: cannot append (${fsErrorText(e)})`, ExitCode.badOutput);
  }
}
