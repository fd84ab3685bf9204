/**
 * The project's own error type. Every failure a user can cause (bad file, bad flag, bad config)
 * is raised as a UserError naming the thing at fault; the CLI prints its message and exits with
 * its code, without a stack trace. Anything else is a bug and is printed with its stack.
 */
export const ExitCode = {
  ok: 0,
  /** An internal error (a bug). */
  internal: 1,
  /** A bad command-line flag or argument. */
  usage: 2,
  /** An input file that cannot be read or is not valid. */
  badInput: 3,
  /** A config (scene / preset / JSON) with a wrong field or value. */
  badConfig: 4,
  /** An output location that cannot be written. */
  badOutput: 5,
  /** A numerical fault (NaN / Inf) stopped a run. */
  numerical: 6,
  /** A check the command performs failed (e.g. gradcheck found an op out of tolerance). */
  checkFailed: 7,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class UserError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue = ExitCode.usage) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** A file that cannot be read or parsed: the message always starts with the file's name. */
export class InputError extends UserError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`, ExitCode.badInput);
    this.name = 'InputError';
    this.file = file;
  }
}

/** A config field with a wrong name, type or value. */
export class ConfigError extends UserError {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`config field '${field}': ${problem}`, ExitCode.badConfig);
    this.name = 'ConfigError';
    this.field = field;
  }
}
