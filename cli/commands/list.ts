/**
 * `sweep list`: the namespace's sweeps, newest first, with their state and trial count.
 */
import type { Argv, CommandModule } from 'yargs';

import type { TemporalFlags } from '../../temporal/config.js';
import { renderList } from '../../temporal/format.js';
import { emptyEmbeddedState, openSession } from '../../temporal/session.js';
import { listSweeps } from '../../temporal/sweeps.js';
import type { WatchOutput } from '../../temporal/watch.js';
import { resolveTrackingSettings, trackingBaseUrl } from '../../tracking/config.js';
import { runningEmbeddedMlflow } from '../../tracking/embedded.js';
import { UsageError } from '../exit.js';
import { withTemporalOptions, writeMlflowLine } from './start.js';

/** Options of `sweep list`. */
export interface ListOptions extends TemporalFlags {
  /** Most sweeps to show (>= 1). */
  limit: number;
  /** Print JSON. */
  json: boolean;
}

export const listCommand: CommandModule<object, ListOptions> = {
  command: 'list',
  describe: 'List sweeps, newest first',
  builder: (yargs) =>
    withTemporalOptions(yargs as Argv<object>)
      .option('limit', { type: 'number', default: 50, describe: 'most sweeps to show' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 list', 'the sweeps of the embedded server (or $TEMPORAL_ADDRESS)')
      .example('$0 list --temporal-address temporal.lab:7233', 'the sweeps on a cluster')
      .check((argv) => {
        if (!Number.isInteger(argv.limit) || argv.limit < 1) {
          throw new UsageError(`--limit must be a whole number of at least 1, got ${argv.limit}`);
        }
        return true;
      }) as unknown as Argv<ListOptions>,
  handler: async (argv) => {
    await list(argv);
  },
};

/** Runs `sweep list`. An embedded state folder where no server has run lists nothing at once. */
export async function list(
  options: ListOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const empty = emptyEmbeddedState(options);
  if (empty !== null) {
    out.write(options.json ? '[]\n' : `${renderEmptyList(empty)}\n`);
    return;
  }

  const session = await openSession(options);

  try {
    const entries = await listSweeps(session.client, options.limit);
    const namespace = encodeURIComponent(session.namespace);
    const uiLink = `${session.uiBase}/namespaces/${namespace}/workflows`;

    if (options.json) {
      out.write(`${JSON.stringify(entries, null, 2)}\n`);
      return;
    }
    out.write(`${renderList(entries, uiLink)}\n`);

    // Embedded: where the state folder's MLflow runs, or will run once a sweep starts it.
    const settings = resolveTrackingSettings({});
    const running = settings.uri === null ? await runningEmbeddedMlflow(session.stateDir) : null;
    writeMlflowLine(out, running ?? trackingBaseUrl(settings) ?? undefined);
  } finally {
    await session.close();
  }
}

/** `sweep list` where no embedded server has run. */
function renderEmptyList(stateDir: string): string {
  return (
    `no sweeps yet in ${stateDir}; start one with: sweep start sweeps/quick.yaml\n` +
    '(sweeps on a cluster: sweep list --temporal-address <host:port>)'
  );
}
