import yargs from 'yargs';

import { logger } from '../lib/logger.js';
import { commands } from './commands/index.js';
import { EXIT, UsageError, reportAndExit } from './exit.js';

/** Builds the `sweep` CLI. Exported so tests can drive it without spawning a process. */
export function buildCli(argv: string[]) {
  return yargs(argv)
    .scriptName('sweep')
    .usage('$0 <command> [options]\n\nHyperparameter sweeps of an attention CNN.')
    .option('log-level', {
      type: 'string',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
      describe:
        'structured log level on stderr (default: $SWEEP_LOG_LEVEL, else warn; ' +
        'info for `sweep worker`)',
      global: true,
    })
    .middleware((argv) => {
      // Human-facing commands keep stderr quiet unless asked; workers log at info.
      const fallback = argv._[0] === 'worker' ? 'info' : 'warn';
      logger.level =
        (argv.logLevel as string | undefined) ?? process.env.SWEEP_LOG_LEVEL ?? fallback;
    })
    .command(commands)
    .demandCommand(1, 'Name a command; `sweep --help` lists them.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .epilogue(
      `Exit codes: ${EXIT.ok} ok, ${EXIT.failure} failure, ${EXIT.usage} usage, ` +
        `${EXIT.badInput} bad input, ${EXIT.unavailable} service unavailable, ` +
        `${EXIT.interrupted} interrupted.`,
    )
    .fail((message, error, cli) => {
      if (error !== undefined && error !== null && !(error instanceof UsageError)) throw error;
      process.stderr.write(`${cli.help()}\n\n${error?.message ?? message}\n`);
      process.exit(EXIT.usage);
    });
}
