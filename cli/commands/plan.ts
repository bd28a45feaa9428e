/**
 * `sweep plan <spec>`: checks a sweep spec and lists the trials it would run, without
 * running anything. The quickest way to check a spec after editing it.
 */
import { existsSync } from 'node:fs';

import type { Argv, CommandModule } from 'yargs';

import { loadSpec, type LoadedSpec } from '../../spec/load.js';
import { planTrials, type SweepPlan } from '../../spec/plan.js';

/** Options of `sweep plan`. */
export interface PlanOptions {
  /** Path of the spec file, as typed (relative to the working directory or absolute). */
  spec: string;
  /** Print the plan as JSON instead of a table. */
  json: boolean;
  /** Include each trial's full config; implies `json`. */
  full: boolean;
}

/**
 * Loads and plans the spec, returning what `sweep plan` prints (ends with a newline).
 *
 * @throws SpecError listing every problem in the spec.
 */
export async function plan(options: PlanOptions): Promise<string> {
  const loaded = await loadSpec(options.spec);
  const sweep = planTrials(loaded);

  if (options.json || options.full) {
    return `${JSON.stringify(planJson(sweep, loaded, options.full), null, 2)}\n`;
  }
  return renderPlan(sweep, options.spec, loaded);
}

/** The machine-readable plan: everything but the trial configs unless `full`. */
export function planJson(sweep: SweepPlan, loaded: LoadedSpec, full: boolean): object {
  return {
    sweepId: sweep.sweepId,
    file: loaded.file,
    datasetRoot: loaded.datasetRoot,
    method: sweep.method,
    axes: sweep.axes,
    axisSizes: sweep.axisSizes,
    combinations: sweep.combinations,
    total: sweep.total,
    trials: sweep.trials.map(({ index, id, name, values, config }) =>
      full ? { index, id, name, values, config } : { index, id, name, values },
    ),
  };
}

/** One line saying how many trials there are and why, e.g. `12 trials: 3 x 2 x 2`. */
export function countLine(sweep: SweepPlan, seed: number): string {
  const trials = sweep.total === 1 ? '1 trial' : `${sweep.total} trials`;
  const shape = sweep.axisSizes.join(' x ');

  if (sweep.axes.length === 0) return `${trials}: no grid, the spec's own values`;
  if (sweep.method === 'random') {
    return `${trials} drawn at random (seed ${seed}) from ${sweep.combinations}: ${shape}`;
  }
  return `${trials}: ${shape}`;
}

/** The human view: sweep id, axes, counts, then one table row per trial. */
export function renderPlan(sweep: SweepPlan, file: string, loaded: LoadedSpec): string {
  const header = [
    `sweep ${sweep.sweepId} (${file})`,
    // Planning reads no images; a missing folder is worth saying before `sweep start` refuses.
    `dataset ${loaded.datasetRoot}${existsSync(loaded.datasetRoot) ? '' : ' (does not exist)'}`,
    `axes: ${sweep.axes.length === 0 ? 'none' : sweep.axes.join(', ')}`,
    countLine(sweep, loaded.spec.search.seed),
    '',
  ];

  const columns = ['#', 'trial id', ...sweep.axes];
  const rows = sweep.trials.map((trial) => [
    String(trial.index),
    trial.id,
    ...sweep.axes.map((axis) => showCell(trial.values[axis])),
  ]);

  return `${[...header, ...table(columns, rows)].join('\n')}\n`;
}

/** A grid value in a table cell: scalars as written, objects as YAML flow mappings. */
function showCell(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(showCell).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).map(([key, field]) => `${key}: ${showCell(field)}`);
    return `{${fields.join(', ')}}`;
  }
  return String(value);
}

/** Left-aligned columns separated by two spaces, without trailing spaces. */
function table(columns: string[], rows: string[][]): string[] {
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();

  return [line(columns), ...rows.map(line)];
}

/** `sweep plan <spec> [--json] [--full]`. */
export const planCommand: CommandModule<object, PlanOptions> = {
  command: 'plan <spec>',
  describe: 'Check a sweep spec and list the trials it would run',
  builder: (yargs: Argv<object>) =>
    yargs
      .positional('spec', {
        describe: 'sweep spec (YAML), e.g. sweeps/dropout.yaml',
        type: 'string',
        demandOption: true,
      })
      .option('json', {
        describe: 'Print the plan as JSON',
        type: 'boolean',
        default: false,
      })
      .option('full', {
        describe: "Print JSON with each trial's full training config (implies --json)",
        type: 'boolean',
        default: false,
      })
      .example('$0 plan sweeps/dropout.yaml', 'Check the spec and list its trials')
      .example('$0 plan sweeps/full-grid.yaml --json', 'The plan as JSON, for scripts')
      .example('$0 plan sweeps/quick.yaml --full', 'JSON with every trial config'),
  handler: async (argv) => {
    process.stdout.write(await plan({ spec: argv.spec, json: argv.json, full: argv.full }));
  },
};
