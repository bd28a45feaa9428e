/**
 * Child process of the benchmarks: trains one trial and prints one JSON line with its figures.
 * Run in a child so that TensorFlow starts with the thread counts the parent put in the
 * environment (`TF_NUM_INTRAOP_THREADS`, `TF_NUM_INTEROP_THREADS`), as a worker's trial does.
 *
 *     node --import tsx bench/train-entry.ts '<TrainJob as JSON>'
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { sweepSpecSchema, type TrialConfig } from '../spec/schema.js';

/** What the parent asks for. */
export interface TrainJob {
  /** A partial sweep spec (dataset, training, ...); parsed with the spec's defaults. */
  spec: Record<string, unknown>;
  /** `model`: the training loop only (as `model.fit`); `trial`: also evaluate and write the
   * run folder (as a sweep's trial). Default `model`. */
  mode?: 'model' | 'trial';
  /** Use tfjs's default gradients instead of the fast ones (for comparisons). Default false. */
  defaultGradients?: boolean;
}

/** What the child prints. */
export interface TrainJobResult {
  tensorflow: string;
  intraOpThreads: string;
  datasetSeconds: number;
  parameters: number;
  trainImages: number;
  valImages: number;
  epochs: {
    epoch: number;
    epoch_seconds: number;
    images_per_second: number;
    loss: number;
    accuracy: number;
    val_loss: number;
    val_accuracy: number;
  }[];
  totalSeconds: number;
  /** User plus system CPU time of the whole process, in seconds. */
  cpuSeconds: number;
  maxRssMb: number;
}

function configOf(spec: Record<string, unknown>): TrialConfig {
  const parsed = sweepSpecSchema.parse({ name: 'bench', ...spec });
  const { dataset, augmentation, model, training, callbacks } = parsed;
  return { dataset, augmentation, model, training, callbacks };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as TrainJob;
  const started = performance.now();

  // Loaded after the parent's environment is in place (the thread counts are read at start).
  const { tf } = await import('../lib/tf.js');
  const { loadDataset } = await import('../data/dataset.js');
  const { trainModel } = await import('../training/trainer.js');
  const { trainTrial } = await import('../training/trial.js');
  const { useFastGradients } = await import('../training/fast-gradients.js');

  const config = configOf(job.spec);
  const dataset = await loadDataset(config.dataset);
  const datasetSeconds = (performance.now() - started) / 1000;

  const runDir = await mkdtemp(join(tmpdir(), 'sweep-bench-'));
  const epochs: TrainJobResult['epochs'] = [];
  let parameters = 0;
  try {
    // trainModel installs the fast gradients; a later call here takes them out again.
    const onStart = (report: { parameterCount: number }): void => {
      parameters = report.parameterCount;
      if (job.defaultGradients === true) useFastGradients(false);
    };
    const onEpoch = ({ logs }: { logs: TrainJobResult['epochs'][number] }): void => {
      const { epoch, epoch_seconds, images_per_second, loss, accuracy, val_loss, val_accuracy } =
        logs;
      epochs.push({
        epoch,
        epoch_seconds,
        images_per_second,
        loss,
        accuracy,
        val_loss,
        val_accuracy,
      });
    };

    if (job.mode === 'trial') {
      await trainTrial({ config, runDir, dataset, onStart, onEpoch });
    } else {
      const result = await trainModel({ config, runDir, dataset, onStart, onEpoch });
      result.model.dispose();
    }
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }

  const binding = (tf.backend() as unknown as { binding: { TF_Version: string } }).binding;
  const result: TrainJobResult = {
    tensorflow: binding.TF_Version,
    intraOpThreads: process.env.TF_NUM_INTRAOP_THREADS ?? 'default',
    datasetSeconds,
    parameters,
    trainImages: dataset.train.count,
    valImages: dataset.val.count,
    epochs,
    totalSeconds: (performance.now() - started) / 1000,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);

  // TensorFlow's thread pools would keep the process alive.
  process.exit(0);
}

await main();
