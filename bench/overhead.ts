/**
 * `overhead`: what running trials through Temporal costs, on a real dev server and sweep
 * worker (2 slots, as on this 2-core machine).
 *
 * 1. Orchestration alone: a sweep of no-op trials (no TensorFlow, no child process): time per
 *    trial of the sweep and chunk workflows, activity dispatch and results.
 * 2. Tiny real trials (32x32, 2 images per class and split, 1 epoch): each trial is a child
 *    process that loads TensorFlow and the data, trains and writes its outputs. The same trials
 *    also run in this process, one after another, with the data loaded once; the difference
 *    per trial is the price of isolation (process, TensorFlow start, data) plus Temporal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TrialConfig } from '../spec/schema.js';
import type { SweepRequest, SweepResult, TrialRef } from '../workflows/types.js';

import type { BenchReport } from './common.js';
import { FLOWERS, mean, round, sampleLoad, table } from './common.js';

/** Options of `overhead`. */
export interface OverheadOptions {
  /** Trials of each sweep (no-op and tiny real). Default 200. */
  trials: number;
}

const SLOTS = 2;

interface PhaseResult {
  kind: 'noop' | 'train';
  trials: number;
  done: number;
  wallSeconds: number;
  /** Wall seconds times slots, per trial: the worker time one trial occupies. */
  slotSecondsPerTrial: number;
  trialsPerSecond: number;
  /** Mean training time the trials report (trainModel), in seconds. */
  meanReportedSeconds: number;
}

async function tinyConfig(seed: number): Promise<TrialConfig> {
  const { sweepSpecSchema } = await import('../spec/schema.js');
  const spec = sweepSpecSchema.parse({
    name: 'bench-overhead',
    dataset: { root: FLOWERS, imageSize: 32, maxPerClass: 2 },
    training: { epochs: 1, batchSize: 16, seed },
  });
  const { dataset, augmentation, model, training, callbacks } = spec;
  return { dataset, augmentation, model, training, callbacks };
}

async function trialRefs(sweepId: string, count: number): Promise<TrialRef[]> {
  const refs: TrialRef[] = [];
  for (let index = 0; index < count; index += 1) {
    refs.push({
      id: `${sweepId}-t${index}`,
      index,
      name: `training.seed=${index + 1}`,
      values: { 'training.seed': index + 1 },
      config: await tinyConfig(index + 1),
    });
  }
  return refs;
}

/** Runs one sweep through a fresh worker on `server`, returning its figures. */
async function runSweep(
  address: string,
  stateDir: string,
  kind: 'noop' | 'train',
  trials: number,
): Promise<PhaseResult> {
  const { Client, Connection } = await import('@temporalio/client');
  const { NativeConnection } = await import('@temporalio/worker');
  const { startSweep } = await import('../temporal/sweeps.js');
  const { createSweepWorker } = await import('../workers/worker.js');

  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const taskQueue = `bench-${kind}`;
  const sweepId = `bench-overhead-${kind}-${Date.now()}`;

  try {
    const worker = await createSweepWorker({
      connection: native,
      namespace: 'default',
      taskQueue,
      trials: { stateDir, kind, slots: SLOTS, threadsPerTrial: 1 },
    });
    const request: SweepRequest = {
      sweepId,
      specHash: 'bench',
      trials: await trialRefs(sweepId, trials),
      concurrency: SLOTS,
      taskQueue,
      retry: { maximumAttempts: 1, initialIntervalSeconds: 1 },
    };
    const memo = { name: sweepId, specFile: 'bench', specHash: 'bench', total: trials, axes: [] };

    const started = performance.now();
    const result = await worker.runUntil(async () => {
      await startSweep(client, request, memo);
      return (await client.workflow.getHandle(sweepId).result()) as SweepResult;
    });
    const wallSeconds = (performance.now() - started) / 1000;

    const reported = result.trials.map((trial) => trial.durationMs / 1000);
    return {
      kind,
      trials,
      done: result.counts.done,
      wallSeconds: round(wallSeconds, 1),
      slotSecondsPerTrial: round((wallSeconds * SLOTS) / trials, 3),
      trialsPerSecond: round(trials / wallSeconds, 2),
      meanReportedSeconds: round(mean(reported), 3),
    };
  } finally {
    await native.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

/** The same tiny trials in this process, data loaded once: seconds per trial. */
async function runInProcess(trials: number, root: string): Promise<number> {
  const { loadDataset } = await import('../data/dataset.js');
  const { trainTrial } = await import('../training/trial.js');
  const dataset = await loadDataset((await tinyConfig(1)).dataset);

  const started = performance.now();
  for (let index = 0; index < trials; index += 1) {
    const runDir = join(root, `direct-${index}`);
    await trainTrial({ config: await tinyConfig(index + 1), runDir, dataset });
    await rm(runDir, { recursive: true, force: true });
  }
  return (performance.now() - started) / 1000 / trials;
}

/** Runs the benchmark; see the module comment. */
export async function overhead(options: OverheadOptions): Promise<BenchReport> {
  const { startDevServer } = await import('../temporal/dev-server.js');
  const stateDir = await mkdtemp(join(tmpdir(), 'sweep-bench-overhead-'));
  const load = sampleLoad();
  const server = await startDevServer({ stateDir, port: 0, uiPort: null });

  let noop: PhaseResult;
  let train: PhaseResult;
  let directSeconds: number;
  try {
    process.stderr.write(`overhead: ${options.trials} no-op trials through Temporal...\n`);
    noop = await runSweep(server.address, stateDir, 'noop', options.trials);
    process.stderr.write(`overhead: ${options.trials} tiny trials through Temporal...\n`);
    train = await runSweep(server.address, stateDir, 'train', options.trials);
    process.stderr.write(`overhead: the same tiny trials in this process...\n`);
    directSeconds = await runInProcess(options.trials, stateDir);
  } finally {
    await server.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
  const loadSummary = load.stop();

  const perTrialOverhead = round(train.slotSecondsPerTrial - directSeconds, 2);
  const text = [
    `${options.trials} trials per sweep, worker with ${SLOTS} slots (1 thread each), ` +
      `real dev server; load 1-min mean ${loadSummary.mean}, max ${loadSummary.max}`,
    '',
    table(
      ['sweep', 'done', 'wall s', 'trials/s', 'slot-s per trial', 'trainer s per trial'],
      [noop, train].map((phase) => [
        phase.kind === 'noop' ? 'no-op trials' : 'tiny real trials',
        phase.done,
        phase.wallSeconds,
        phase.trialsPerSecond,
        phase.slotSecondsPerTrial,
        phase.meanReportedSeconds,
      ]),
    ),
    '',
    `orchestration alone: ${round((noop.slotSecondsPerTrial / SLOTS) * 1000)} ms of wall time ` +
      `per trial (${noop.trialsPerSecond} trials/s)`,
    `tiny trial in this process (data loaded once): ${round(directSeconds, 2)} s; through ` +
      `Temporal in a child process: ${train.slotSecondsPerTrial} slot-s, so ` +
      `${perTrialOverhead} s of overhead per trial`,
  ].join('\n');

  return {
    name: 'overhead',
    text,
    figures: {
      options,
      load: loadSummary,
      noop,
      train,
      directSecondsPerTrial: round(directSeconds, 3),
      overheadSecondsPerTrial: perTrialOverhead,
    },
  };
}
