/**
 * `sweep status <id>`: one row per trial (values, state, epoch, best validation accuracy,
 * attempts, duration), once or redrawn until the sweep ends.
 */
import type { Client } from '@temporalio/client';
import type { Argv, CommandModule } from 'yargs';

import type { TemporalFlags } from '../../temporal/config.js';
import { renderStatus, renderSummary } from '../../temporal/format.js';
import { DEFAULT_TASK_QUEUE, openSessionFor, withWorker } from '../../temporal/session.js';
import { readSweepStatus, type SweepMemo, type SweepStatusView } from '../../temporal/sweeps.js';
import { WatchInterruptedError, watchSweep, type WatchOutput } from '../../temporal/watch.js';
import { UsageError } from '../exit.js';
import { withTemporalOptions, writeMlflowLine } from './start.js';

/** Options of `sweep status`. */
export interface StatusOptions extends TemporalFlags {
  /** Sweep id (`sweep list` shows them). */
  id: string;
  /** Redraw until the sweep ends. */
  watch: boolean;
  /** Print the status as JSON (machine output; no UI line). */
  json: boolean;
}

export const statusCommand: CommandModule<object, StatusOptions> = {
  command: 'status <id>',
  describe: 'Show every trial of a sweep: state, epoch, accuracy, attempts',
  builder: (yargs) =>
    withTemporalOptions(yargs as Argv<object>)
      .positional('id', { type: 'string', demandOption: true, describe: 'sweep id' })
      .option('watch', { type: 'boolean', default: false, describe: 'redraw until it ends' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 status quick-1f0c9a2b', 'the table once')
      .example('$0 status quick-1f0c9a2b --watch', 'follow it until it ends')
      .example('$0 status quick-1f0c9a2b --json | jq .counts', 'counts for a script')
      .check((argv) => {
        if (argv.watch && argv.json) {
          throw new UsageError('--watch and --json cannot be used together');
        }
        return true;
      }) as unknown as Argv<StatusOptions>,
  handler: async (argv) => {
    await status(argv);
  },
};

/**
 * Runs `sweep status`.
 *
 * @throws SweepNotFoundError when no sweep has this id.
 */
export async function status(
  options: StatusOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const session = await openSessionFor(options, options.id);

  try {
    const taskQueue = await sweepTaskQueue(session.client, options.id);
    const uiLink = session.uiLink(options.id);

    await withWorker(session, { need: 'answers', taskQueue }, async (signal) => {
      if (!options.watch) {
        const view = await readSweepStatus(session.client, options.id);
        const text = options.json
          ? JSON.stringify(statusJson(view, uiLink), null, 2)
          : renderStatus(view, uiLink);
        out.write(`${text}\n`);
        if (!options.json) writeMlflowLine(out, view.memo.mlflowRunUrl);
        return;
      }

      try {
        const client = session.client;
        const view = await watchSweep({
          client,
          sweepId: options.id,
          uiLink,
          out,
          signal,
          view: 'table',
        });
        // A terminal shows the final table; plain output ends as `sweep start` does.
        if (out.isTTY !== true) out.write(`${renderSummary(view, uiLink)}\n`);
        writeMlflowLine(out, view.memo.mlflowRunUrl);
      } catch (error) {
        if (!(error instanceof WatchInterruptedError)) throw error;
      }
    });
  } finally {
    await session.close();
  }
}

/**
 * The machine-readable status. `status` is the sweep workflow's Temporal status
 * (`COMPLETED` also when trials failed or were cancelled; `counts` tells them apart).
 * `concurrency` is the sweep's `execution.concurrency`, left out when it cannot be read.
 * `counts` has every trial state, `waiting` included: a trial whose activity is scheduled
 * but not started by a worker has `state: "waiting"` and a `waitingFor` of `worker` (its
 * first attempt), `retry` (a later attempt, in its backoff or waiting for a worker) or
 * `paused` (paused in Temporal); the sweep itself counts it as running.
 */
export function statusJson(view: SweepStatusView, uiLink: string): object {
  return {
    sweepId: view.sweepId,
    status: view.status,
    taskQueue: view.taskQueue,
    startTime: view.startTime.toISOString(),
    closeTime: view.closeTime?.toISOString() ?? null,
    ...(view.concurrency === null ? {} : { concurrency: view.concurrency }),
    counts: view.counts,
    uiLink,
    mlflowLink: view.memo.mlflowRunUrl ?? null,
    trials: view.trials,
  };
}

/**
 * The MLflow UI page of the sweep's parent run, as `sweep start` stored it in the workflow's
 * memo; undefined for sweeps started without tracking (or that cannot be read).
 */
export async function sweepMlflowLink(
  client: Client,
  sweepId: string,
): Promise<string | undefined> {
  try {
    const memo = (await client.workflow.getHandle(sweepId).describe()).memo as
      | Partial<SweepMemo>
      | undefined;
    return typeof memo?.mlflowRunUrl === 'string' ? memo.mlflowRunUrl : undefined;
  } catch {
    return undefined;
  }
}

/** The task queue a sweep's workflow runs on (the default queue when it cannot be read). */
export async function sweepTaskQueue(client: Client, sweepId: string): Promise<string> {
  try {
    return (await client.workflow.getHandle(sweepId).describe()).taskQueue;
  } catch {
    // readSweepStatus reports a missing sweep with a clear error.
    return DEFAULT_TASK_QUEUE;
  }
}
