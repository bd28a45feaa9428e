/**
 * `sweep report <id>`: the leaderboard of a sweep's done trials, its best trial, and the
 * mean and best validation accuracy for each value of each grid axis.
 */
import type { Argv, CommandModule } from 'yargs';

import type { TemporalFlags } from '../../temporal/config.js';
import { axisSummaries, bestTrial, renderReport } from '../../temporal/format.js';
import { openSessionFor, withWorker } from '../../temporal/session.js';
import { readSweepStatus } from '../../temporal/sweeps.js';
import type { WatchOutput } from '../../temporal/watch.js';
import { UsageError } from '../exit.js';
import { withTemporalOptions, writeMlflowLine } from './start.js';
import { sweepTaskQueue } from './status.js';

/** Options of `sweep report`. */
export interface ReportOptions extends TemporalFlags {
  /** Sweep id. */
  id: string;
  /** Rows of the leaderboard (>= 1). */
  top: number;
  /** Print JSON. */
  json: boolean;
}

export const reportCommand: CommandModule<object, ReportOptions> = {
  command: 'report <id>',
  describe: 'Leaderboard, best trial and accuracy by axis value',
  builder: (yargs) =>
    withTemporalOptions(yargs as Argv<object>)
      .positional('id', { type: 'string', demandOption: true, describe: 'sweep id' })
      .option('top', { type: 'number', default: 10, describe: 'leaderboard rows' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 report quick-1f0c9a2b', 'the ten best trials and the effect of each axis')
      .example('$0 report quick-1f0c9a2b --top 3 --json', 'for a notebook or script')
      .check((argv) => {
        if (!Number.isInteger(argv.top) || argv.top < 1) {
          throw new UsageError(`--top must be a whole number of at least 1, got ${argv.top}`);
        }
        return true;
      }) as unknown as Argv<ReportOptions>,
  handler: async (argv) => {
    await report(argv);
  },
};

/**
 * Runs `sweep report` (on a running sweep it reports the trials done so far).
 *
 * @throws SweepNotFoundError when no sweep has this id.
 */
export async function report(
  options: ReportOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const session = await openSessionFor(options, options.id);

  try {
    const taskQueue = await sweepTaskQueue(session.client, options.id);
    const view = await withWorker(session, { need: 'answers', taskQueue }, () =>
      readSweepStatus(session.client, options.id),
    );
    const uiLink = session.uiLink(options.id);

    if (options.json) {
      const ranked = view.trials
        .filter((row) => row.state === 'done' && row.bestValAccuracy !== null)
        .sort((a, b) => (b.bestValAccuracy ?? 0) - (a.bestValAccuracy ?? 0));
      const json = {
        sweepId: view.sweepId,
        status: view.status,
        counts: view.counts,
        best: bestTrial(view.trials) ?? null,
        leaderboard: ranked.slice(0, options.top),
        axes: axisSummaries(view.trials),
        uiLink,
        mlflowLink: view.memo.mlflowRunUrl ?? null,
      };
      out.write(`${JSON.stringify(json, null, 2)}\n`);
      return;
    }

    out.write(`${renderReport(view, uiLink, options.top)}\n`);
    writeMlflowLine(out, view.memo.mlflowRunUrl);
  } finally {
    await session.close();
  }
}
