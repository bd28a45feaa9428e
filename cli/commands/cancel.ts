/**
 * `sweep cancel <id>`: cancels every queued and running trial of a sweep. Running trials
 * stop within one heartbeat (a few seconds) and end as `cancelled`; `sweep resume` runs them
 * again later, from their last checkpoint.
 */
import type { Argv, CommandModule } from 'yargs';

import type { TemporalFlags } from '../../temporal/config.js';
import { openSessionFor, withWorker } from '../../temporal/session.js';
import { cancelSweep } from '../../temporal/sweeps.js';
import type { WatchOutput } from '../../temporal/watch.js';
import { withTemporalOptions, writeMlflowLine } from './start.js';
import { sweepMlflowLink, sweepTaskQueue } from './status.js';

/** Options of `sweep cancel`. */
export interface CancelOptions extends TemporalFlags {
  /** Sweep id. */
  id: string;
}

export const cancelCommand: CommandModule<object, CancelOptions> = {
  command: 'cancel <id>',
  describe: 'Cancel the queued and running trials of a sweep',
  builder: (yargs) =>
    withTemporalOptions(yargs as Argv<object>)
      .positional('id', { type: 'string', demandOption: true, describe: 'sweep id' })
      .example('$0 cancel quick-1f0c9a2b', 'stop it; `sweep resume` continues it later')
      .example('$0 cancel quick-1f0c9a2b --temporal-address temporal.lab:7233', 'on a cluster')
      .strict() as unknown as Argv<CancelOptions>,
  handler: async (argv) => {
    await cancel(argv);
  },
};

/**
 * Runs `sweep cancel`.
 *
 * @throws SweepNotFoundError when no sweep has this id.
 * @throws SweepClosedError when it has already finished.
 */
export async function cancel(
  options: CancelOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const session = await openSessionFor(options, options.id);

  try {
    const taskQueue = await sweepTaskQueue(session.client, options.id);
    const result = await withWorker(session, { need: 'answers', taskQueue }, () =>
      cancelSweep(session.client, options.id),
    );

    out.write(
      `cancelling sweep ${options.id}: ${result.queued} queued trial(s) cancelled; running ` +
        'trials stop within a heartbeat and end as cancelled\n' +
        `follow it with: sweep status ${options.id} --watch; continue it later with: ` +
        `sweep resume ${options.id}\n` +
        `UI: ${session.uiLink(options.id)}\n`,
    );
    writeMlflowLine(out, await sweepMlflowLink(session.client, options.id));
  } finally {
    await session.close();
  }
}
