/**
 * Planning a sweep: expanding a loaded spec's grid into the list of trials to run, each
 * with a stable id, a readable name and the full config it trains with.
 */
import { SpecError } from '../lib/errors.js';
import { trialIdOf, sweepIdOf } from './ids.js';
import type { LoadedSpec } from './load.js';
import { isRecord, withPathValue } from './paths.js';
import { sampleDistinct, seededRandom } from '../lib/random.js';
import { sweepSpecSchema, type TrialConfig } from './schema.js';

/** One trial of a sweep. */
export interface PlannedTrial {
  /** 0-based position in plan order. */
  index: number;
  /** `${sweepId}-t${8 hex of the hash of values}`; the same values give the same id. */
  id: string;
  /** Readable and file-name safe, e.g. `dropout.dense=0.3,attention=none`; `base` if no grid. */
  name: string;
  /** The grid value of each axis, as written in the spec, keyed by axis in axis order. */
  values: Record<string, unknown>;
  /** The spec with `values` applied and defaults filled in; `dataset.root` is absolute. */
  config: TrialConfig;
}

/** The trials of a sweep, in the order they are started. */
export interface SweepPlan {
  /** `${spec name}-${8 hex of the spec hash}`, e.g. `dropout-1f0c9a2b`. */
  sweepId: string;
  trials: PlannedTrial[];
  /** Grid keys in the order written in the spec; empty when there is no grid. */
  axes: string[];
  /** Number of values of each axis, in axis order. */
  axisSizes: number[];
  /** Number of trials planned (`trials.length`). */
  total: number;
  /** Size of the full grid (product of `axisSizes`, 1 without a grid). */
  combinations: number;
  /** `grid` runs every combination; `random` runs `search.count` of them. */
  method: 'grid' | 'random';
}

/** Longest trial name; longer names are cut and end with their id's hash. */
export const MAX_TRIAL_NAME_LENGTH = 96;

/**
 * Expands a loaded spec into its trials.
 *
 * - Grid search: every combination, in the order the axes are written, the last axis
 *   changing fastest.
 * - Random search: `search.count` distinct combinations drawn with a generator seeded by
 *   `search.seed`, listed in grid order. The same spec always draws the same trials, and a
 *   larger count keeps the trials of a smaller one.
 * - No grid: one trial with the base values, named `base`.
 *
 * @throws SpecError when random search has no `search.count` or asks for more trials than
 *   the grid holds (`loadSpec` reports both first, so this only guards hand-built input).
 */
export function planTrials(loaded: LoadedSpec): SweepPlan {
  const { spec } = loaded;
  const sweepId = sweepIdOf(spec.name, loaded.hash);

  const axes = Object.keys(spec.grid);
  const axisValues = axes.map((axis) => spec.grid[axis] ?? []);
  const axisSizes = axisValues.map((values) => values.length);
  const combinations = axisSizes.reduce((product, size) => product * size, 1);

  const picks = pickCombinations(loaded, combinations);
  const labels = axisLabels(axes);
  const resolved = axes.map((axis, index) => resolveAxis(loaded, axis, axisValues[index]!));

  const trials = picks.map((combination, index): PlannedTrial => {
    const choice = choiceOf(combination, axisSizes);
    const values = Object.fromEntries(
      axes.map((axis, at) => [axis, axisValues[at]![choice[at]!]]),
    );
    const id = trialIdOf(sweepId, values);
    const applied = axes.map((axis, at) => [axis, resolved[at]![choice[at]!]] as const);

    return {
      index,
      id,
      name: trialName(labels, values, id),
      values,
      config: configFor(loaded, applied),
    };
  });

  return {
    sweepId,
    trials,
    axes,
    axisSizes,
    total: trials.length,
    combinations,
    method: spec.search.method,
  };
}

/** Indices into the grid (0 .. combinations - 1) of the trials to run, ascending. */
function pickCombinations(loaded: LoadedSpec, combinations: number): number[] {
  const { search } = loaded.spec;

  if (search.method === 'grid') {
    return Array.from({ length: combinations }, (_, index) => index);
  }

  const count = search.count;
  if (count === undefined || count > combinations) {
    const message =
      count === undefined
        ? 'required when search.method is random: the number of trials to draw'
        : `${count} is more than the ${combinations} combination(s) in the grid`;
    throw new SpecError(loaded.file, [{ path: 'search.count', message }]);
  }

  const drawn = sampleDistinct(count, combinations, seededRandom(search.seed));
  return drawn.sort((a, b) => a - b);
}

/** Which value of each axis grid combination `combination` takes; the last axis is fastest. */
function choiceOf(combination: number, axisSizes: number[]): number[] {
  const choice = new Array<number>(axisSizes.length);
  let rest = combination;

  for (let axis = axisSizes.length - 1; axis >= 0; axis--) {
    const size = axisSizes[axis]!;
    choice[axis] = rest % size;
    rest = Math.floor(rest / size);
  }

  return choice;
}

/**
 * Each value of an axis with its defaults filled in (`cosine` becomes the whole cosine
 * schedule), parsed once per value rather than once per trial.
 */
function resolveAxis(loaded: LoadedSpec, axis: string, values: unknown[]): unknown[] {
  const keys = axis.split('.');

  return values.map((value) => {
    const result = sweepSpecSchema.safeParse(withPathValue(loaded.spec, axis, value));
    if (!result.success) {
      // loadSpec checked every value; this only fires for hand-built input.
      const issues = result.error.issues.map((issue) => ({
        path: `grid.${axis}`,
        message: `${issue.path.map(String).join('.')}: ${issue.message}`,
      }));
      throw new SpecError(loaded.file, issues);
    }

    return keys.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], result.data);
  });
}

/** The base spec with resolved axis values applied, as a trial config. */
function configFor(
  loaded: LoadedSpec,
  applied: ReadonlyArray<readonly [string, unknown]>,
): TrialConfig {
  let spec: Record<string, unknown> = {
    dataset: { ...loaded.spec.dataset, root: loaded.datasetRoot },
    augmentation: loaded.spec.augmentation,
    model: loaded.spec.model,
    training: loaded.spec.training,
    callbacks: loaded.spec.callbacks,
  };

  for (const [axis, value] of applied) spec = withPathValue(spec, axis, value);

  // A fresh copy per trial, so no two trials share (and could change) one object.
  return structuredClone(spec) as unknown as TrialConfig;
}

/**
 * Short labels for axes in trial names: the path without its section
 * (`model.dropout.dense` becomes `dropout.dense`), or the full path when two would clash.
 */
export function axisLabels(axes: readonly string[]): string[] {
  const short = axes.map((axis) => axis.split('.').slice(1).join('.') || axis);
  return short.map((label, index) =>
    short.indexOf(label) === short.lastIndexOf(label) ? label : axes[index]!,
  );
}

/** A grid value as it appears in a trial name. */
function valueLabel(value: unknown): string {
  if (Array.isArray(value)) return value.map(valueLabel).join('x');

  if (isRecord(value)) {
    const { name, ...rest } = value;
    const fields = Object.entries(rest).map(([key, field]) => `${key}-${valueLabel(field)}`);
    return [name === undefined ? undefined : valueLabel(name), ...fields]
      .filter((part) => part !== undefined)
      .join('_');
  }

  return String(value);
}

/**
 * `label=value` pairs joined by commas, with any character outside `A-Z a-z 0-9 . _ = , + -`
 * replaced by `_`, cut to `MAX_TRIAL_NAME_LENGTH` with the id's hash kept at the end so cut
 * names stay distinct. `base` for the single trial of a spec without a grid.
 */
function trialName(labels: string[], values: Record<string, unknown>, id: string): string {
  const parts = Object.values(values).map(
    (value, index) => `${labels[index]}=${valueLabel(value)}`,
  );
  if (parts.length === 0) return 'base';

  const name = parts.join(',').replace(/[^A-Za-z0-9._=,+-]/g, '_');
  if (name.length <= MAX_TRIAL_NAME_LENGTH) return name;

  const hash = id.slice(id.lastIndexOf('-t') + 2);
  return `${name.slice(0, MAX_TRIAL_NAME_LENGTH - hash.length - 1)}-${hash}`;
}
