import { join, resolve } from 'node:path';

import cliProgress from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';

import { loadSpec } from '../../spec/load.js';
import { planTrials } from '../../spec/plan.js';
import type { TrialConfig } from '../../spec/schema.js';
import type { BatchReport, EpochReport } from '../../training/trainer.js';
import type { TrialSummary } from '../../training/trial.js';
import { EXIT, ExitError, UsageError } from '../exit.js';

/** Options of `sweep train`. */
export interface TrainOptions {
  spec: string;
  /** 0-based index of the trial in the plan (`sweep plan` lists them). Default 0. */
  trial: number;
  /** Override `training.epochs`. */
  epochs?: number;
  /** Override `dataset.maxPerClass` (a quick look on a subset). */
  maxPerClass?: number;
  /** Run folder; default `runs/<sweep id>/<trial id>/<timestamp>`. */
  runDir?: string;
  /** Continue from the run folder's checkpoint. Needs `--run-dir`. */
  resume: boolean;
  json: boolean;
}

export const trainCommand: CommandModule<object, TrainOptions> = {
  command: 'train <spec>',
  describe: 'Train one trial of a spec locally (no Temporal, no MLflow)',
  builder: (yargs) =>
    (yargs as Argv<object>)
      .positional('spec', { type: 'string', demandOption: true, describe: 'sweep spec (YAML)' })
      .option('trial', { type: 'number', default: 0, describe: 'trial index from `sweep plan`' })
      .option('epochs', { type: 'number', describe: 'override training.epochs' })
      .option('max-per-class', { type: 'number', describe: 'use at most N images per class' })
      .option('run-dir', { type: 'string', describe: 'where to write checkpoint and outputs' })
      .option('resume', {
        type: 'boolean',
        default: false,
        describe: 'continue from the checkpoint in --run-dir',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
      .example('$0 train sweeps/tutorial.yaml', 'train the tutorial model on the flowers data')
      .example('$0 train sweeps/tutorial.yaml --epochs 3', 'a three-epoch check of the setup')
      .example('$0 train sweeps/dropout.yaml --trial 4', 'train the fifth trial of a grid')
      .example('$0 train sweeps/quick.yaml --run-dir runs/x --resume', 'continue a stopped run')
      .check((argv) => {
        for (const flag of ['trial', 'epochs', 'max-per-class'] as const) {
          const value = argv[flag];
          const least = flag === 'trial' ? 0 : 1;
          if (value !== undefined && (!Number.isInteger(value) || value < least)) {
            throw new UsageError(
              `--${flag} must be a whole number of at least ${least}, got ${value}`,
            );
          }
        }
        if (argv.resume && argv['run-dir'] === undefined) {
          throw new UsageError('--resume needs --run-dir: the folder whose checkpoint to continue');
        }
        return true;
      }) as unknown as Argv<TrainOptions>,
  handler: async (argv) => {
    await train(argv);
  },
};

/** Runs `sweep train`. */
export async function train(options: TrainOptions): Promise<TrialSummary> {
  const loaded = await loadSpec(options.spec);
  const plan = planTrials(loaded);
  const trial = plan.trials[options.trial];
  if (trial === undefined) {
    throw new ExitError(
      `error: --trial ${options.trial} is out of range: ${options.spec} plans ` +
        `${plan.trials.length} ` +
        `trial(s), indices 0 to ${plan.trials.length - 1} (see: sweep plan ${options.spec})`,
      EXIT.usage,
    );
  }

  const config = withOverrides(trial.config, options);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = resolve(options.runDir ?? join('runs', plan.sweepId, trial.id, stamp));
  const human = !options.json;

  if (human) {
    process.stdout.write(`trial ${trial.index} (${trial.id}): ${trial.name}\n`);
    process.stdout.write(`run folder: ${runDir}\n`);
  }

  // Loaded here, not at the top: TensorFlow takes a second to start and other commands skip it.
  const { RUN_FILES, trainTrial } = await import('../../training/trial.js');
  const progress = new EpochProgress(config.training.epochs, human);
  const summary = await trainTrial({
    config,
    runDir,
    resume: options.resume,
    onStart: (report) => {
      if (!human) return;
      const { train, val, test } = report.counts;
      process.stdout.write(`\n${report.summary}\n`);
      process.stdout.write(
        `data: ${report.classNames.length} classes (${report.classNames.join(', ')}); ` +
          `${train} train, ${val} val, ${test} test images\n`,
      );
      if (report.resumedFromEpoch > 0) {
        process.stdout.write(`resuming after epoch ${report.resumedFromEpoch}\n`);
      }
    },
    onBatch: (report) => progress.batch(report),
    onEpoch: (report) => progress.epoch(report),
  }).finally(() => progress.stop());

  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    printSummary(summary, Object.values(RUN_FILES));
  }
  return summary;
}

function withOverrides(config: TrialConfig, options: TrainOptions): TrialConfig {
  return {
    ...config,
    dataset: { ...config.dataset, maxPerClass: options.maxPerClass ?? config.dataset.maxPerClass },
    training: { ...config.training, epochs: options.epochs ?? config.training.epochs },
  };
}

function printSummary(summary: TrialSummary, files: string[]): void {
  const percent = (value: number): string => `${(value * 100).toFixed(2)}%`;
  const lines = [
    '',
    `parameters:          ${summary.parameterCount.toLocaleString('en-US')}`,
    `epochs run:          ${summary.epochsRun}${summary.stoppedEarly ? ' (stopped early)' : ''}`,
    `best val accuracy:   ${percent(summary.bestValAccuracy)} (epoch ${summary.bestEpoch})`,
    `test loss:           ${summary.testLoss.toFixed(4)}`,
    `test accuracy:       ${percent(summary.testAccuracy)}`,
    `duration:            ${(summary.durationMs / 1000).toFixed(1)} s`,
    `outputs:             ${summary.runDir}`,
    ...files.map((file) => `  ${file}`),
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

/**
 * A progress bar per epoch on a terminal; one line per epoch otherwise (logs, CI).
 */
class EpochProgress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private started = false;

  constructor(
    private readonly epochs: number,
    human: boolean,
  ) {
    if (!human || process.stdout.isTTY !== true) return;
    this.bar = new cliProgress.SingleBar(
      {
        format:
          'epoch {epoch}/{epochs} [{bar}] {value}/{total} batches | loss {loss} acc {acc} | ' +
          'ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  batch(report: BatchReport): void {
    if (this.bar === undefined) return;
    const payload = {
      epoch: report.epoch,
      epochs: this.epochs,
      loss: report.loss.toFixed(4),
      acc: report.accuracy.toFixed(4),
    };
    if (!this.started || report.batch === 1) {
      this.bar.start(report.batches, report.batch, payload);
      this.started = true;
    } else {
      this.bar.update(report.batch, payload);
    }
  }

  epoch(report: EpochReport): void {
    this.bar?.stop();
    this.started = false;
    const logs = report.logs;
    const line =
      `epoch ${report.epoch}/${report.epochs}: loss ${logs.loss.toFixed(4)} ` +
      `accuracy ${logs.accuracy.toFixed(4)} val_loss ${logs.val_loss.toFixed(4)} ` +
      `val_accuracy ${logs.val_accuracy.toFixed(4)} lr ${logs.learning_rate.toExponential(2)} ` +
      `${logs.epoch_seconds.toFixed(1)} s (${Math.round(logs.images_per_second)} img/s)` +
      (report.learningRateReduced ? ' [learning rate reduced]' : '');
    process.stdout.write(`${line}\n`);
  }

  stop(): void {
    this.bar?.stop();
  }
}
