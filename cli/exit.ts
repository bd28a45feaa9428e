import { SweepError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';

/**
 * Thrown by a command to end the process with a message and an exit code. The single
 * handler in `cli/main.ts` prints it; commands never call `process.exit` themselves.
 */
export class ExitError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'ExitError';
    this.exitCode = exitCode;
  }
}

/**
 * Thrown by a command's argument check (`.check()`): flags that cannot go together or a value
 * out of range. Printed with the command's help and exit code 2, like yargs' own usage errors.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes, documented in `sweep --help`. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  badInput: 3,
  unavailable: 4,
  /** Stopped by Ctrl-C or SIGTERM, like a shell's 128 + SIGINT. */
  interrupted: 130,
} as const;

/** Turns any thrown value into a message on stderr and an exit code. */
export function reportAndExit(error: unknown): never {
  if (error instanceof ExitError) {
    if (error.message !== '') process.stderr.write(`${error.message}\n`);
    process.exit(error.exitCode);
  }

  if (error instanceof SweepError) {
    process.stderr.write(`error: ${error.message}\n`);
    if (error.hint !== undefined) process.stderr.write(`hint: ${error.hint}\n`);
    process.exit(error.retryable ? EXIT.unavailable : EXIT.badInput);
  }

  logger.error({ err: error }, 'unexpected error');
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(EXIT.failure);
}
