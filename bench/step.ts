/**
 * `step`: one training step of the tutorial model (batch 32, 128x128) on a random batch, with
 * tfjs's default gradients, with the fast ones (training/fast-gradients.ts), and in Keras
 * (`train_on_batch`, the compiled step `model.fit` runs). No data pipeline: this isolates the
 * step itself, so a change to it can be measured in a minute.
 *
 * Each round runs our child (default, then fast) and the Keras child, alternating their order;
 * the figures are medians over every timed step.
 */
import { join } from 'node:path';

import type { BenchReport } from './common.js';
import { REPO_ROOT, median, round, runJsonChild, sampleLoad, table, tsxArgs } from './common.js';
import { ensureKerasVenv } from './keras-venv.js';
import type { StepJob, StepJobResult } from './step-entry.js';

/** Options of `step`. */
export interface StepOptions {
  /** Alternating rounds. Default 3. */
  rounds: number;
  /** TensorFlow threads on both sides. */
  threads: number;
}

const STEPS_PER_ROUND = 8;

interface KerasSteps {
  tensorflow: string;
  keras: string;
  parameters: number;
  step_ms: number[];
}

/** Runs the benchmark; see the module comment. */
export async function stepBenchmark(options: StepOptions): Promise<BenchReport> {
  const python = await ensureKerasVenv();
  const env = {
    TF_NUM_INTRAOP_THREADS: String(options.threads),
    TF_NUM_INTEROP_THREADS: String(options.threads),
  };
  const load = sampleLoad();
  const defaultMs: number[] = [];
  const fastMs: number[] = [];
  const kerasMs: number[] = [];
  let versions = '';

  for (let index = 0; index < options.rounds; index += 1) {
    const runOurs = async (): Promise<void> => {
      const job: StepJob = { steps: STEPS_PER_ROUND, rounds: 1 };
      const [node, args] = tsxArgs('bench/step-entry.ts', [JSON.stringify(job)]);
      const { result } = await runJsonChild<StepJobResult>(node, args, { env });
      defaultMs.push(...result.defaultMs);
      fastMs.push(...result.fastMs);
    };
    const runKeras = async (): Promise<void> => {
      const script = join(REPO_ROOT, 'bench/keras_tutorial.py');
      const args = [script, '--data', '-', '--synthetic-steps', String(STEPS_PER_ROUND)];
      args.push('--threads', String(options.threads));
      const { result } = await runJsonChild<KerasSteps>(python, args, { env });
      kerasMs.push(...result.step_ms);
      versions = `tensorflow ${result.tensorflow}, keras ${result.keras}`;
    };

    process.stderr.write(`step: round ${index + 1} of ${options.rounds}...\n`);
    if (index % 2 === 0) {
      await runOurs();
      await runKeras();
    } else {
      await runKeras();
      await runOurs();
    }
  }
  const loadSummary = load.stop();

  const keras = median(kerasMs);
  const rows = [
    ['ours, tfjs default gradients', median(defaultMs)],
    ['ours, fast gradients', median(fastMs)],
    ['keras train_on_batch', keras],
  ] as const;
  const text = [
    `batch 32, 128x128, ${options.threads} threads, ${options.rounds} round(s) of ` +
      `${STEPS_PER_ROUND} steps; load 1-min mean ${loadSummary.mean}, max ${loadSummary.max}`,
    '',
    table(
      ['variant', 'ms/step (median)', 'steps/s', 'ratio to keras'],
      rows.map(([name, ms]) => [name, round(ms), round(1000 / ms, 2), round(ms / keras, 2)]),
    ),
    '',
    `keras: ${versions}`,
  ].join('\n');

  return {
    name: 'step',
    text,
    figures: {
      options,
      load: loadSummary,
      medianMs: Object.fromEntries(rows.map(([name, ms]) => [name, round(ms, 1)])),
      defaultMs: defaultMs.map((ms) => round(ms)),
      fastMs: fastMs.map((ms) => round(ms)),
      kerasMs: kerasMs.map((ms) => round(ms)),
    },
  };
}
