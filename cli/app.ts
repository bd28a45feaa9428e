import yargs from 'yargs';

import { commands } from './commands/index.js';
import { EXIT, reportAndExit } from './exit.js';

/** Builds the `sweep` CLI. Exported so tests can drive it without spawning a process. */
export function buildCli(argv: string[]) {
  return yargs(argv)
    .scriptName('sweep')
    .usage('$0 <command> [options]\n\nHyperparameter sweeps of an attention CNN.')
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
        `${EXIT.badInput} bad input, ${EXIT.unavailable} service unavailable.`,
    )
    .fail((message, error, cli) => {
      if (error !== undefined && error !== null) throw error;
      process.stderr.write(`${cli.help()}\n\n${message}\n`);
      process.exit(EXIT.usage);
    });
}
