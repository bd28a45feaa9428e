/**
 * `scaling`: the same small trials run with 1 slot of N threads and with N slots of 1 thread
 * (N = the machine's cores), each trial in its own child process as a worker runs it. Reports
 * the sweep's wall time in both set-ups and the speed-up of running trials side by side.
 *
 * On a small machine one trial cannot keep every core busy (TensorFlow's threads wait on each
 * other at small ops and the JS work between ops is single-threaded), so slots usually win.
 */
import type { BenchReport } from './common.js';
import { FLOWERS, mean, round, runJsonChild, sampleLoad, table, tsxArgs } from './common.js';
import type { TrainJob, TrainJobResult } from './train-entry.js';

/** Options of `scaling`. */
export interface ScalingOptions {
  /** Trials per set-up. Default 8. */
  trials: number;
  /** Cores to share out: 1 slot x `cores` threads vs `cores` slots x 1 thread. */
  cores: number;
}

interface SetupResult {
  slots: number;
  threadsPerTrial: number;
  wallSeconds: number;
  meanTrialSeconds: number;
  trialsPerMinute: number;
}

/** A small trial: 64x64 images, 20 per class and split, 2 epochs. Trials differ by seed. */
function trialJob(index: number): TrainJob {
  return {
    mode: 'trial',
    spec: {
      dataset: { root: FLOWERS, imageSize: 64, maxPerClass: 20 },
      training: { epochs: 2, batchSize: 32, seed: index + 1 },
    },
  };
}

async function runSetup(trials: number, slots: number, threads: number): Promise<SetupResult> {
  const started = performance.now();
  const trialSeconds: number[] = [];
  let next = 0;

  const slot = async (): Promise<void> => {
    while (next < trials) {
      const index = next;
      next += 1;
      const [node, args] = tsxArgs('bench/train-entry.ts', [JSON.stringify(trialJob(index))]);
      const { wallSeconds } = await runJsonChild<TrainJobResult>(node, args, {
        env: { TF_NUM_INTRAOP_THREADS: String(threads), TF_NUM_INTEROP_THREADS: String(threads) },
      });
      trialSeconds.push(wallSeconds);
    }
  };
  await Promise.all(Array.from({ length: slots }, slot));

  const wallSeconds = (performance.now() - started) / 1000;
  return {
    slots,
    threadsPerTrial: threads,
    wallSeconds: round(wallSeconds, 1),
    meanTrialSeconds: round(mean(trialSeconds), 1),
    trialsPerMinute: round((trials / wallSeconds) * 60, 2),
  };
}

/** Runs the benchmark; see the module comment. */
export async function scaling(options: ScalingOptions): Promise<BenchReport> {
  const load = sampleLoad();
  process.stderr.write(`scaling: ${options.trials} trials, 1 slot x ${options.cores} threads...\n`);
  const oneSlot = await runSetup(options.trials, 1, options.cores);
  process.stderr.write(`scaling: ${options.trials} trials, ${options.cores} slots x 1 thread...\n`);
  const manySlots = await runSetup(options.trials, options.cores, 1);
  const loadSummary = load.stop();

  const speedUp = round(oneSlot.wallSeconds / manySlots.wallSeconds, 2);
  const text = [
    `${options.trials} trials (64x64, 20 images per class and split, 2 epochs, full outputs), ` +
      `each in a child process; load 1-min mean ${loadSummary.mean}, max ${loadSummary.max}`,
    '',
    table(
      ['set-up', 'wall s', 'mean trial s', 'trials/min'],
      [oneSlot, manySlots].map((setup) => [
        `${setup.slots} slot(s) x ${setup.threadsPerTrial} thread(s)`,
        setup.wallSeconds,
        setup.meanTrialSeconds,
        setup.trialsPerMinute,
      ]),
    ),
    '',
    `speed-up of ${options.cores} slots over 1: ${speedUp}x`,
  ].join('\n');

  return {
    name: 'scaling',
    text,
    figures: { options, load: loadSummary, oneSlot, manySlots, speedUp },
  };
}
