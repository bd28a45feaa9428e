/**
 * Runs one benchmark, prints its figures, and with `--record` appends them as a dated section
 * to bench/RESULTS.md.
 *
 *     npm run bench -- keras-parity [--epochs 3] [--threads 2] [--rounds 1] [--record]
 *     npm run bench -- step | scaling | memory | overhead [--record]
 *
 * Progress goes to stderr, the human view to stdout, and with `--json` the figures instead.
 */
import { cpus } from 'node:os';

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

import { SweepError } from '../lib/errors.js';

import {
  machineInfo,
  recordResult,
  resultSection,
  versions,
  wholeNumber,
  type BenchReport,
} from './common.js';

/** The benchmarks, one file each. */
export const BENCHMARKS = ['keras-parity', 'step', 'scaling', 'memory', 'overhead'] as const;
type BenchName = (typeof BENCHMARKS)[number];

interface RunOptions {
  name: BenchName;
  record: boolean;
  json: boolean;
  epochs?: number;
  threads?: number;
  rounds?: number;
  trials?: number;
  data?: string;
}

async function runBenchmark(options: RunOptions): Promise<BenchReport> {
  const threads = wholeNumber('threads', options.threads ?? cpus().length, 1, 256);

  switch (options.name) {
    case 'keras-parity': {
      const { kerasParity, kerasParityDefaults } = await import('./keras-parity.js');
      const defaults = kerasParityDefaults();
      return kerasParity({
        epochs: wholeNumber('epochs', options.epochs ?? defaults.epochs, 1, 1000),
        rounds: wholeNumber('rounds', options.rounds ?? defaults.rounds, 1, 100),
        threads,
        data: options.data ?? defaults.data,
      });
    }
    case 'step': {
      const { stepBenchmark } = await import('./step.js');
      return stepBenchmark({
        rounds: wholeNumber('rounds', options.rounds ?? 3, 1, 100),
        threads,
      });
    }
    case 'scaling': {
      const { scaling } = await import('./scaling.js');
      const trials = wholeNumber('trials', options.trials ?? 8, 1, 100);
      return scaling({ trials, cores: threads });
    }
    case 'memory': {
      const { memory } = await import('./memory.js');
      return memory({
        epochs: wholeNumber('epochs', options.epochs ?? 20, 1, 1000),
        trials: wholeNumber('trials', options.trials ?? 10, 1, 1000),
      });
    }
    case 'overhead': {
      const { overhead } = await import('./overhead.js');
      return overhead({ trials: wholeNumber('trials', options.trials ?? 200, 1, 10_000) });
    }
  }
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run bench --')
    .usage('$0 <name> [options]')
    .command('$0 <name>', 'run one benchmark', (command) =>
      command.positional('name', { choices: BENCHMARKS, demandOption: true }),
    )
    .option('record', { type: 'boolean', default: false, describe: 'append to bench/RESULTS.md' })
    .option('json', { type: 'boolean', default: false, describe: 'print the figures as JSON' })
    .option('epochs', { type: 'number', describe: 'epochs per run (keras-parity 3, memory 20)' })
    .option('threads', { type: 'number', describe: 'TensorFlow threads (default: cores)' })
    .option('rounds', { type: 'number', describe: 'alternating repeats (keras-parity, step)' })
    .option('trials', { type: 'number', describe: 'trials (scaling 8, memory 10, overhead 200)' })
    .option('data', { type: 'string', describe: 'dataset folder (default: shared flowers)' })
    .strict()
    .parse();

  const options = argv as unknown as RunOptions;
  // Progress lines are enough; the trainer's info logs would bury the figures.
  process.env.SWEEP_LOG_LEVEL ??= 'warn';
  const machine = machineInfo();
  const report = await runBenchmark(options);

  if (options.json) {
    process.stdout.write(`${JSON.stringify({ machine, ...report.figures }, null, 2)}\n`);
  } else {
    process.stdout.write(`${report.name}\n\n${report.text.trimEnd()}\n`);
  }

  if (options.record) {
    const command = `npm run bench -- ${hideBin(process.argv).join(' ')}`;
    const recorded = {
      ...report,
      figures: { machine, versions: await versions(), ...report.figures },
    };
    const file = await recordResult(resultSection(recorded, command, machine));
    process.stderr.write(`recorded in ${file}\n`);
  }

  // A benchmark may leave TensorFlow's thread pools or a server's handles behind.
  process.exit(0);
}

main().catch((error: unknown) => {
  const hint = error instanceof SweepError && error.hint !== undefined ? `\n${error.hint}` : '';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`bench failed: ${message}${hint}\n`);
  process.exit(1);
});
