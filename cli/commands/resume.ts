/**
 * `sweep resume <id>`: runs a sweep's failed and cancelled trials again, from their last
 * checkpoint; done trials are never retrained. In embedded mode it then runs them here, as
 * `sweep start` does.
 */
import type { Argv, CommandModule } from 'yargs';

import type { TemporalFlags } from '../../temporal/config.js';
import { openSessionFor, withWorker, type TrialRunFlags } from '../../temporal/session.js';
import { resumeSweep } from '../../temporal/sweeps.js';
import type { WatchOutput } from '../../temporal/watch.js';
import { resolveTrackingSettings, type TrackingFlags } from '../../tracking/config.js';
import { openTracking, type TrackingSession } from '../../tracking/session.js';
import type { MetricsFlags, WorkerTelemetry } from '../../workers/telemetry.js';
import {
  follow,
  followTelemetry,
  withMetricsOptions,
  withTemporalOptions,
  withTrackingUriOption,
  writeMlflowLine,
} from './start.js';
import { sweepMlflowLink, sweepTaskQueue } from './status.js';

/** Options of `sweep resume`. */
export interface ResumeOptions extends TemporalFlags, TrialRunFlags, TrackingFlags, MetricsFlags {
  /** Sweep id. */
  id: string;
  /** Re-queue and return at once. */
  detach: boolean;
}

export const resumeCommand: CommandModule<object, ResumeOptions> = {
  command: 'resume <id>',
  describe: 'Run the failed and cancelled trials of a sweep again',
  builder: (yargs) =>
    withMetricsOptions(withTrackingUriOption(withTemporalOptions(yargs as Argv<object>)), 0)
      .positional('id', { type: 'string', demandOption: true, describe: 'sweep id' })
      .option('detach', { type: 'boolean', default: false, describe: 're-queue and return' })
      .option('slots', {
        type: 'number',
        describe: 'trials this machine runs at once (embedded mode; default cores / 2)',
      })
      .option('trial-kind', { type: 'string', choices: ['train', 'noop'], hidden: true })
      .example('$0 resume quick-1f0c9a2b', 're-run what failed or was cancelled, here')
      .example('$0 resume quick-1f0c9a2b --detach --temporal-address temporal.lab:7233',
        're-queue on a cluster and return') as unknown as Argv<ResumeOptions>,
  handler: async (argv) => {
    await resume(argv);
  },
};

/**
 * Runs `sweep resume`.
 *
 * @throws SweepNotFoundError when no sweep has this id.
 * @throws ExitError (exit 1) when trials fail again.
 */
export async function resume(
  options: ResumeOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const session = await openSessionFor(options, options.id);
  let telemetry: WorkerTelemetry | null = null;
  let tracking: TrackingSession | null = null;

  try {
    const taskQueue = await sweepTaskQueue(session.client, options.id);
    const mlflowLink = await sweepMlflowLink(session.client, options.id);
    const follows = !options.detach;

    // Before the first worker connection: the SDK's metrics are set up with the Runtime.
    if (follows) telemetry = await followTelemetry(session, options, out);
    // The in-process worker records the trials of a tracked sweep; no-op trials never do.
    if (follows && session.embedded && mlflowLink !== undefined && options.trialKind !== 'noop') {
      tracking = await openTracking(resolveTrackingSettings(options), {
        stateDir: session.stateDir,
        temporalAddress: null,
        command: 'sweep resume',
      });
    }

    const result = await withWorker(session, { need: 'answers', taskQueue }, () =>
      resumeSweep(session.client, options.id),
    );
    const uiLink = session.uiLink(options.id);

    if (result.mode === 'nothing') {
      out.write(`sweep ${options.id} has nothing to resume: every trial is done\nUI: ${uiLink}\n`);
      writeMlflowLine(out, mlflowLink);
      return;
    }

    const what =
      result.mode === 'update'
        ? `re-queued ${result.result.trials} trial(s), and asked ${result.result.chunks} ` +
          'running chunk(s) to re-queue theirs'
        : `re-queued ${result.requeued} trial(s) in a new run of the sweep`;
    out.write(`resumed sweep ${options.id}: ${what}\nUI: ${uiLink}\n`);
    writeMlflowLine(out, mlflowLink);

    if (options.detach) {
      out.write(`follow it with: sweep status ${options.id} --watch\n`);
      return;
    }
    await follow(session, options.id, taskQueue, options, out, {
      continueCommand: `sweep resume ${options.id}`,
      tracking,
      telemetry,
    });
  } finally {
    await telemetry?.close();
    await tracking?.close();
    await session.close();
  }
}
