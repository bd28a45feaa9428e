/**
 * `keras-parity`: the tutorial's Keras pipeline (bench/keras_tutorial.py) against our trainer,
 * on the same data, epochs, batch size and threads, in the same run.
 *
 * Both sides run as fresh child processes with the same `TF_NUM_INTRAOP_THREADS` and
 * `TF_NUM_INTEROP_THREADS`; with several rounds they alternate which goes first, so a change
 * in the machine's load hits both. Epoch time includes validation on both sides. Keras reads
 * and decodes the JPEGs every epoch (flow_from_directory) while we decode them once before
 * training; that one-off load is reported apart.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';

import type { BenchReport } from './common.js';
import {
  FLOWERS,
  REPO_ROOT,
  mean,
  round,
  runJsonChild,
  sampleLoad,
  table,
  tsxArgs,
} from './common.js';
import { ensureKerasVenv } from './keras-venv.js';
import type { TrainJob, TrainJobResult } from './train-entry.js';

/** Options of `keras-parity`. */
export interface KerasParityOptions {
  /** Epochs per run. Default 3. */
  epochs: number;
  /** Intra- and inter-op threads of both sides. Default: the machine's cores. */
  threads: number;
  /** Runs of each side, alternating which goes first. Default 1. */
  rounds: number;
  /** Dataset folder with train/ and val/. Default the shared flowers. */
  data: string;
}

/** The figures of one side's run. */
interface SideRun {
  epochSeconds: number[];
  imagesPerSecond: number[];
  valAccuracy: number[];
  setupSeconds: number;
  /** CPU seconds of the whole child process (setup included), less sensitive to load. */
  cpuSeconds: number;
  maxRssMb: number;
  /** Mean 1-minute load average while this side ran. */
  load: number;
}

interface KerasResult {
  tensorflow: string;
  keras: string;
  parameters: number;
  setup_seconds: number;
  max_rss_mb: number;
  cpu_seconds: number;
  epochs: { epoch_seconds: number; images_per_second: number; val_accuracy: number }[];
}

/** Default options for this machine. */
export function kerasParityDefaults(): KerasParityOptions {
  return { epochs: 3, threads: cpus().length, rounds: 1, data: FLOWERS };
}

function threadEnv(threads: number): Record<string, string> {
  return { TF_NUM_INTRAOP_THREADS: String(threads), TF_NUM_INTEROP_THREADS: String(threads) };
}

async function runOurs(options: KerasParityOptions): Promise<SideRun & { tensorflow: string }> {
  const job: TrainJob = {
    spec: {
      dataset: { root: options.data, imageSize: 128 },
      training: { epochs: options.epochs, batchSize: 32, threads: options.threads },
    },
  };
  const [node, args] = tsxArgs('bench/train-entry.ts', [JSON.stringify(job)]);
  const load = sampleLoad();
  const { result } = await runJsonChild<TrainJobResult>(node, args, {
    env: threadEnv(options.threads),
  });

  return {
    tensorflow: result.tensorflow,
    epochSeconds: result.epochs.map((epoch) => epoch.epoch_seconds),
    imagesPerSecond: result.epochs.map((epoch) => epoch.images_per_second),
    valAccuracy: result.epochs.map((epoch) => epoch.val_accuracy),
    setupSeconds: result.datasetSeconds,
    cpuSeconds: result.cpuSeconds,
    maxRssMb: result.maxRssMb,
    load: load.stop().mean,
  };
}

async function runKeras(
  python: string,
  options: KerasParityOptions,
): Promise<SideRun & { versions: string }> {
  const script = join(REPO_ROOT, 'bench/keras_tutorial.py');
  const args = [script, '--data', options.data, '--epochs', String(options.epochs)];
  args.push('--threads', String(options.threads));
  const load = sampleLoad();
  const { result } = await runJsonChild<KerasResult>(python, args, {
    env: threadEnv(options.threads),
  });

  return {
    versions: `tensorflow ${result.tensorflow}, keras ${result.keras}`,
    epochSeconds: result.epochs.map((epoch) => epoch.epoch_seconds),
    imagesPerSecond: result.epochs.map((epoch) => epoch.images_per_second),
    valAccuracy: result.epochs.map((epoch) => epoch.val_accuracy),
    setupSeconds: result.setup_seconds,
    cpuSeconds: result.cpu_seconds,
    maxRssMb: result.max_rss_mb,
    load: load.stop().mean,
  };
}

/** Mean of epochs 2..N (tracing and warm-up excluded), or epoch 1 when there is only one. */
function steady(values: number[]): number {
  return values.length > 1 ? mean(values.slice(1)) : values[0]!;
}

/** Runs the benchmark; see the module comment. */
export async function kerasParity(options: KerasParityOptions): Promise<BenchReport> {
  const python = await ensureKerasVenv();
  const load = sampleLoad();
  const ours: SideRun[] = [];
  const keras: SideRun[] = [];
  let tensorflowOurs = '';
  let kerasVersions = '';

  for (let round = 0; round < options.rounds; round += 1) {
    const oursFirst = round % 2 === 0;
    for (const side of oursFirst ? ['ours', 'keras'] : ['keras', 'ours']) {
      process.stderr.write(`keras-parity: round ${round + 1}, ${side}...\n`);
      if (side === 'ours') {
        const run = await runOurs(options);
        tensorflowOurs = run.tensorflow;
        ours.push(run);
      } else {
        const run = await runKeras(python, options);
        kerasVersions = run.versions;
        keras.push(run);
      }
    }
  }
  const loadSummary = load.stop();

  const summarize = (runs: SideRun[]) => {
    const epochSeconds = mean(runs.map((run) => mean(run.epochSeconds)));
    const steadySeconds = mean(runs.map((run) => steady(run.epochSeconds)));
    return {
      epochSeconds: round(epochSeconds, 2),
      steadyEpochSeconds: round(steadySeconds, 2),
      imagesPerSecond: round(mean(runs.map((run) => steady(run.imagesPerSecond))), 1),
      valAccuracy: round(mean(runs.map((run) => run.valAccuracy.at(-1)!)), 4),
      setupSeconds: round(mean(runs.map((run) => run.setupSeconds)), 1),
      cpuSeconds: round(mean(runs.map((run) => run.cpuSeconds)), 1),
      load: round(mean(runs.map((run) => run.load)), 2),
      maxRssMb: round(Math.max(...runs.map((run) => run.maxRssMb))),
      runs,
    };
  };
  const oursSummary = summarize(ours);
  const kerasSummary = summarize(keras);
  const ratio = round(oursSummary.epochSeconds / kerasSummary.epochSeconds, 2);
  const steadyRatio = round(oursSummary.steadyEpochSeconds / kerasSummary.steadyEpochSeconds, 2);
  const cpuRatio = round(oursSummary.cpuSeconds / kerasSummary.cpuSeconds, 2);

  const rows = [
    ['ours (tfjs-node)', oursSummary, `TF C ${tensorflowOurs}`],
    ['keras (model.fit)', kerasSummary, kerasVersions],
  ] as const;
  const text = [
    `${options.epochs} epochs, batch 32, 128x128, ${options.threads} threads, ` +
      `${options.rounds} round(s); load 1-min mean ${loadSummary.mean}, max ${loadSummary.max}`,
    '',
    table(
      ['side', 's/epoch', 's/epoch 2..N', 'img/s', 'val acc', 'setup s', 'CPU s', 'RSS MB', 'load'],
      rows.map(([side, summary]) => [
        side,
        summary.epochSeconds,
        summary.steadyEpochSeconds,
        summary.imagesPerSecond,
        summary.valAccuracy,
        summary.setupSeconds,
        summary.cpuSeconds,
        summary.maxRssMb,
        summary.load,
      ]),
    ),
    '',
    `ratio ours/keras epoch time: ${ratio} (all epochs), ${steadyRatio} (epochs 2..N); ` +
      'target <= 1.0',
    `ratio ours/keras CPU time of the whole run: ${cpuRatio} (less sensitive to load)`,
    'img/s: training images per second of epochs 2..N; load: mean 1-min load while that side ran',
    `versions: ours ${rows[0][2]}; keras ${rows[1][2]}`,
    'setup: ours decodes every image once before training; keras decodes them every epoch.',
  ].join('\n');

  return {
    name: 'keras-parity',
    text,
    figures: {
      options,
      load: loadSummary,
      ratio,
      steadyRatio,
      cpuRatio,
      ours: oursSummary,
      keras: kerasSummary,
      tensorflowOurs,
      kerasVersions,
    },
  };
}
