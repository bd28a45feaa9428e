/**
 * `sweep start <spec>`: plans the spec and starts its sweep on Temporal, or attaches to it
 * when it is already running (same spec = same sweep id = same workflow). Without a Temporal
 * address it runs everything here: the embedded dev server and a worker, until the sweep ends.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';

import type { Argv, CommandModule } from 'yargs';

import { preflightDataset } from '../../data/preflight.js';
import { loadSpec } from '../../spec/load.js';
import { planTrials } from '../../spec/plan.js';
import type { TemporalFlags } from '../../temporal/config.js';
import type { TemporalSession } from '../../temporal/connection.js';
import { renderSummary } from '../../temporal/format.js';
import { openSession, withWorker, type TrialRunFlags } from '../../temporal/session.js';
import {
  hasTrialWorkers,
  readSweepStatus,
  startSweep,
  sweepRequestFromPlan,
} from '../../temporal/sweeps.js';
import { WatchInterruptedError, watchSweep, type WatchOutput } from '../../temporal/watch.js';
import { EXIT, ExitError } from '../exit.js';
import { plan } from './plan.js';

/** Options of `sweep start`. */
export interface StartOptions extends TemporalFlags, TrialRunFlags {
  /** Path of the spec file. */
  spec: string;
  /** Start (or attach) and return at once; the sweep goes on without this command. */
  detach: boolean;
  /** Print the plan and start nothing. */
  dryRun: boolean;
}

/** Marks the background process of an embedded `--detach` (it must not detach again). */
const BACKGROUND_ENV = 'SWEEP_BACKGROUND_RUN';

export const startCommand: CommandModule<object, StartOptions> = {
  command: 'start <spec>',
  describe: 'Start a sweep (or attach to it) and follow it until it ends',
  builder: (yargs) =>
    withTemporalOptions(yargs as Argv<object>)
      .positional('spec', { type: 'string', demandOption: true, describe: 'sweep spec (YAML)' })
      .option('detach', {
        type: 'boolean',
        default: false,
        describe: 'start and return; follow later with `sweep status <id> --watch`',
      })
      .option('dry-run', { type: 'boolean', default: false, describe: 'print the plan only' })
      .option('slots', {
        type: 'number',
        describe: 'trials this machine runs at once (embedded mode; default cores / 2)',
      })
      .option('trial-kind', { type: 'string', choices: ['train', 'noop'], hidden: true })
      .example('$0 start sweeps/quick.yaml', 'run the quick sweep here, embedded server and all')
      .example('$0 start sweeps/dropout.yaml --dry-run', 'list the trials without starting')
      .example('$0 start sweeps/dropout.yaml --detach', 'start it in the background')
      .example(
        '$0 start sweeps/dropout.yaml --temporal-address temporal.lab:7233',
        'start it on a cluster whose workers run `sweep worker`',
      ) as unknown as Argv<StartOptions>,
  handler: async (argv) => {
    await start(argv);
  },
};

/** The `--temporal-address` and `--namespace` options every Temporal command takes. */
export function withTemporalOptions<T>(yargs: Argv<T>): Argv<T & TemporalFlags> {
  return yargs
    .option('temporal-address', {
      type: 'string',
      describe: 'Temporal frontend host:port (default: $TEMPORAL_ADDRESS, sweep.config.yaml, ' +
        'else an embedded dev server)',
    })
    .option('namespace', {
      type: 'string',
      describe: 'Temporal namespace (default: $TEMPORAL_NAMESPACE, else default)',
    }) as unknown as Argv<T & TemporalFlags>;
}

/**
 * Runs `sweep start`.
 *
 * @throws SpecError for a spec that cannot be used.
 * @throws DatasetError for a dataset that cannot be used (checked before anything starts).
 * @throws ExitError (exit 1) when trials failed or were cancelled, or the watch was stopped.
 */
export async function start(
  options: StartOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const loaded = await loadSpec(options.spec);
  const sweepPlan = planTrials(loaded);

  if (options.dryRun) {
    out.write(await plan({ spec: options.spec, json: false, full: false }));
    out.write('dry run: nothing started\n');
    return;
  }

  // Refuse a bad dataset before anything starts (no server, no workflow, no state folder).
  await preflightDataset(loaded);

  const { request, memo } = sweepRequestFromPlan(loaded, sweepPlan);
  const session = await openSession(options);

  try {
    const started = await startSweep(session.client, request, memo);
    const uiLink = session.uiLink(request.sweepId);
    out.write(`${startLine(started.outcome, request.sweepId, request.trials.length, session)}\n`);
    out.write(`UI: ${uiLink}\n`);

    if (started.outcome === 'closed') {
      const view = await readSweepStatus(session.client, request.sweepId);
      out.write(`${renderSummary(view, uiLink)}\n`);
      return;
    }

    if (options.detach && process.env[BACKGROUND_ENV] === undefined) {
      await detach(session, options, request.sweepId, out);
      return;
    }

    if (!session.embedded && !(await hasTrialWorkers(session.client, request.taskQueue))) {
      out.write(
        `warning: no worker polls task queue ${request.taskQueue}; trials wait until one ` +
          `does: sweep worker --temporal-address ${session.address} --task-queue ` +
          `${request.taskQueue}\n`,
      );
    }

    const again = `sweep start ${options.spec}`;
    await follow(session, request.sweepId, request.taskQueue, options, out, again);
  } finally {
    await session.close();
  }
}

/**
 * Follows a sweep to its end, running the in-process worker in embedded mode, then prints
 * the summary. Shared by `start` and `resume`.
 *
 * @throws ExitError (exit 1) when trials failed or were cancelled, or the watch was stopped.
 */
export async function follow(
  session: TemporalSession,
  sweepId: string,
  taskQueue: string,
  run: TrialRunFlags,
  out: WatchOutput,
  continueCommand: string,
): Promise<void> {
  const uiLink = session.uiLink(sweepId);

  let view;
  try {
    view = await withWorker(session, { need: 'trials', taskQueue, run }, (signal) =>
      watchSweep({ client: session.client, sweepId, uiLink, out, signal, view: 'live' }),
    );
  } catch (error) {
    if (!(error instanceof WatchInterruptedError)) throw error;

    const where = session.embedded
      ? `the sweep is saved in ${session.stateDir}; continue it with: ${continueCommand}`
      : `the sweep goes on on ${session.address}; follow it with: sweep status ${sweepId} --watch`;
    throw new ExitError(`stopped; ${where}`, EXIT.failure);
  }

  out.write(`${renderSummary(view, uiLink)}\n`);
  const unfinished = view.counts.failed + view.counts.cancelled;
  if (unfinished > 0 || view.status !== 'COMPLETED') {
    throw new ExitError(
      `${unfinished} trial(s) did not finish; re-run them with: sweep resume ${sweepId}`,
      EXIT.failure,
    );
  }
}

function startLine(
  outcome: 'started' | 'attached' | 'closed',
  sweepId: string,
  trials: number,
  session: TemporalSession,
): string {
  const where = session.embedded ? `embedded server ${session.address}` : session.address;
  if (outcome === 'started') return `started sweep ${sweepId}: ${trials} trials on ${where}`;
  if (outcome === 'attached') return `sweep ${sweepId} is already running on ${where}; attached`;
  return `sweep ${sweepId} has already finished on ${where}`;
}

/**
 * `--detach`. On a cluster the sweep already runs on its workers. In embedded mode the
 * server and a worker must outlive this command, so a background `sweep start` takes over;
 * it joins the server before this command leaves it, so the server never stops in between.
 */
async function detach(
  session: TemporalSession,
  options: StartOptions,
  sweepId: string,
  out: WatchOutput,
): Promise<void> {
  if (!session.embedded) {
    out.write(`detached; follow it with: sweep status ${sweepId} --watch\n`);
    return;
  }

  const logDir = join(session.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${sweepId}.log`);
  const logFd = openSync(logFile, 'a');

  const args = process.argv.slice(1).filter((arg) => arg !== '--detach');
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, [BACKGROUND_ENV]: '1' },
  });
  closeSync(logFd);
  child.unref();

  const registered = join(session.stateDir, 'temporal-clients', String(child.pid));
  const deadline = Date.now() + 60_000;
  while (!existsSync(registered) && child.exitCode === null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!existsSync(registered)) {
    throw new ExitError(`the background run did not start; see ${logFile}`, EXIT.failure);
  }

  out.write(
    `detached: pid ${child.pid} runs the sweep here, log ${logFile}\n` +
      `follow it with: sweep status ${sweepId} --watch; stop it with: sweep cancel ${sweepId}\n`,
  );
}
