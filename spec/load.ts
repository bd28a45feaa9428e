/**
 * Loading a sweep spec: read the YAML, check it against the schema and the grid rules, and
 * report every problem at once, each at its line and column.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { SpecError, type SpecIssue } from '../lib/errors.js';
import { hashValue, canonicalJson } from './ids.js';
import { humanIssues, leadingZeroHint, showValue, type IssueContext } from './messages.js';
import {
  allowedKeysAt,
  formatPath,
  getPath,
  gridKeyProblem,
  isRecord,
  withPathValue,
  type PathSegment,
} from './paths.js';
import { searchSchema, sweepSpecSchema, type SweepSpec } from './schema.js';
import { readSpecYaml, type SpecYaml } from './yaml.js';

/** A spec that passed every check, with what later steps need to find and identify it. */
export interface LoadedSpec {
  /** Absolute path of the spec file. */
  file: string;
  /** The spec with every default filled in (`dataset.root` as written). */
  spec: SweepSpec;
  /** The file's text as read. */
  text: string;
  /**
   * Lowercase hex SHA-256 of what the trials depend on (the spec without `description` and
   * `execution`); names the sweep, so raising `execution.concurrency` or editing the
   * description and starting again attaches to the same sweep.
   */
  hash: string;
  /** `dataset.root` made absolute, relative paths taken from the spec file's folder. */
  datasetRoot: string;
}

/**
 * Reads and checks the spec file at `file` (relative to the working directory or absolute).
 *
 * @throws SpecError listing every problem found, each as `file:line:column key: message`,
 *   or a single problem when the file cannot be read.
 */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SpecError(file, [{ path: '', message: readProblem(error) }]);
  }

  return parseSpec(text, file);
}

function readProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file; check the path';
  if (code === 'EISDIR') return 'is a folder; name a .yaml spec file inside it';
  if (code === 'EACCES') return 'cannot be read: permission denied';
  return `cannot be read: ${(error as Error).message}`;
}

/**
 * Checks spec `text` as if read from `file`, without touching the file system. `file` is
 * used in messages as given and made absolute for `LoadedSpec.file` and `datasetRoot`.
 *
 * An optional section left empty (`grid:` with every axis commented out) counts as absent,
 * so it takes its defaults.
 *
 * Checks, all gathered before throwing: YAML syntax, duplicate keys, tags, YAML 1.1
 * look-alikes (`yes`, `010`, `1:30`), unknown keys (with suggestions), types and ranges,
 * grid keys (trained parameters only) and every grid value, repeated grid values, the grid
 * size against `search.maxTrials` (grid search), and `search.count` against the grid size
 * and `search.maxTrials` (random search, whose grid may be larger than `maxTrials`).
 *
 * @throws SpecError with the problems sorted by line.
 */
export function parseSpec(text: string, file: string): LoadedSpec {
  const yaml = readSpecYaml(text);
  const issues: SpecIssue[] = [...yaml.issues];

  const spec = yaml.broken ? undefined : checkSpec(yaml, issues);
  if (spec === undefined || issues.length > 0) {
    throw new SpecError(file, sortByPosition(issues));
  }

  const absolute = path.resolve(file);
  return {
    file: absolute,
    spec,
    text,
    hash: trialsHash(spec),
    datasetRoot: path.resolve(path.dirname(absolute), spec.dataset.root),
  };
}

function trialsHash(spec: SweepSpec): string {
  const { description: _description, execution: _execution, ...trained } = spec;
  return hashValue(trained);
}

/** Issues without a position first, then by line and column; ties keep their order. */
function sortByPosition(issues: SpecIssue[]): SpecIssue[] {
  const key = (issue: SpecIssue): number =>
    issue.line === undefined ? -1 : issue.line * 100_000 + (issue.column ?? 0);
  return [...issues].sort((a, b) => key(a) - key(b));
}

/**
 * Runs the schema and grid checks, pushing problems onto `issues`. Returns the parsed spec
 * when the base spec is valid (grid problems may still have been pushed).
 */
function checkSpec(yaml: SpecYaml, issues: SpecIssue[]): SweepSpec | undefined {
  const written = yaml.data;

  if (written === null || written === undefined) {
    const message = 'the spec is empty; it needs at least name and dataset.root';
    issues.push({ path: '', message });
    return undefined;
  }

  if (!isRecord(written)) {
    const kind = Array.isArray(written) ? 'a list' : `the value ${showValue(written)}`;
    issues.push({
      path: '',
      message: `a spec is a mapping of keys (name, dataset, grid, ...), got ${kind}`,
      ...yaml.locate([], 'value'),
    });
    return undefined;
  }

  const data = withoutEmptySections(written);
  checkLeadingZeros(yaml, issues);

  const result = sweepSpecSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    const context = baseContext(yaml, data);
    for (const issue of result.error.issues) {
      for (const human of humanIssues(issue, context)) pushAt(yaml, issues, human.path, human);
    }
  }

  checkGrid(yaml, data, issues);

  return result.success ? result.data : undefined;
}

/** Sections that may be left out; an empty one (`grid:` with every axis commented out) too. */
const OPTIONAL_SECTIONS = [
  'augmentation',
  'model',
  'training',
  'callbacks',
  'search',
  'grid',
  'execution',
];

/** A copy of the written spec without optional sections that are empty (null). */
function withoutEmptySections(written: Record<string, unknown>): Record<string, unknown> {
  const data = { ...written };
  for (const section of OPTIONAL_SECTIONS) {
    if (data[section] === null) delete data[section];
  }
  return data;
}

/** Flags integers written with a leading zero, which YAML 1.1 read as octal. */
function checkLeadingZeros(yaml: SpecYaml, issues: SpecIssue[]): void {
  for (const scalar of yaml.plainScalars) {
    const message = leadingZeroHint(scalar);
    if (message === undefined) continue;

    const where = formatPath(scalar.path);
    yaml.flaggedPaths.add(where);
    issues.push({ path: where, message, ...yaml.locate(scalar.path, 'value') });
  }
}

/** Adds an issue at `yamlPath` unless that value already has a reading problem. */
function pushAt(
  yaml: SpecYaml,
  issues: SpecIssue[],
  yamlPath: PathSegment[],
  human: { message: string; target: 'key' | 'value' },
): void {
  const where = formatPath(yamlPath);
  if (yaml.flaggedPaths.has(where)) return;

  issues.push({ path: where, message: human.message, ...yaml.locate(yamlPath, human.target) });
}

/** Context for issues of the spec as written: data paths and YAML paths are the same. */
function baseContext(yaml: SpecYaml, data: unknown): IssueContext {
  return {
    plainScalarAt: (at) => yaml.plainScalarAt(at),
    rawAt: (at) => getPath(data, at),
    allowedKeysAt: (at) => allowedKeysAt(at, data),
  };
}

/**
 * Checks each grid key and each of its values, then the number of trials. A value is
 * checked by applying it to the spec as written and validating the result, so it meets
 * exactly the rules of the base spec; its problems are reported at the value in the grid.
 */
function checkGrid(yaml: SpecYaml, data: Record<string, unknown>, issues: SpecIssue[]): void {
  // No grid is one trial; a grid that is not a mapping was reported by the schema check.
  const grid = data.grid ?? {};
  if (!isRecord(grid)) return;

  const sizes: number[] = [];

  for (const [key, values] of Object.entries(grid)) {
    const problem = gridKeyProblem(key);
    if (problem !== undefined) {
      issues.push({ path: `grid.${key}`, message: problem, ...yaml.locate(['grid', key], 'key') });
    }

    // A value that is not a non-empty list was reported by the schema check.
    if (!Array.isArray(values) || values.length === 0) continue;
    sizes.push(values.length);

    if (problem === undefined) checkAxisValues(yaml, data, key, values, issues);
  }

  checkTrialCount(yaml, data, sizes, issues);
}

/** The smallest valid spec, to resolve a grid value's defaults when the base is invalid. */
const MINIMAL_SPEC = { name: 'check', dataset: { root: '.' } };

function checkAxisValues(
  yaml: SpecYaml,
  data: Record<string, unknown>,
  key: string,
  values: unknown[],
  issues: SpecIssue[],
): void {
  const keyPath = key.split('.');
  const seen = new Map<string, number>();

  values.forEach((value, index) => {
    const candidate = withPathValue(data, key, value);
    const toYaml = (at: readonly PathSegment[]): PathSegment[] => [
      'grid',
      key,
      index,
      ...at.slice(keyPath.length),
    ];
    const result = sweepSpecSchema.safeParse(candidate, { reportInput: true });

    // Problems elsewhere in the base spec were reported once already; keep this value's.
    const own = result.success
      ? []
      : result.error.issues.filter((issue) => startsWith(issue.path, keyPath));

    if (own.length > 0) {
      const context: IssueContext = {
        plainScalarAt: (at) => yaml.plainScalarAt(toYaml(at)),
        rawAt: (at) => getPath(candidate, at),
        allowedKeysAt: (at) => allowedKeysAt(at, candidate),
      };

      for (const issue of own) {
        for (const human of humanIssues(issue, context)) {
          pushAt(yaml, issues, toYaml(human.path), human);
        }
      }
      return;
    }

    // Two spellings of one value (`cosine` and `{name: cosine}`) would be one trial twice.
    const parsed = result.success
      ? result.data
      : sweepSpecSchema.safeParse(withPathValue(MINIMAL_SPEC, key, value)).data;
    if (parsed === undefined) return;

    const resolved = canonicalJson(getPath(parsed, keyPath));
    const first = seen.get(resolved);
    if (first === undefined) {
      seen.set(resolved, index);
      return;
    }

    pushAt(yaml, issues, ['grid', key, index], {
      message: `repeats the value at [${first}] (${showValue(value)}); list each value once`,
      target: 'value',
    });
  });
}

function startsWith(full: readonly PropertyKey[], prefix: readonly string[]): boolean {
  return prefix.every((segment, index) => String(full[index]) === segment);
}

/** The grid size against `search.maxTrials`, and `search.count` against the method. */
function checkTrialCount(
  yaml: SpecYaml,
  data: Record<string, unknown>,
  sizes: number[],
  issues: SpecIssue[],
): void {
  const parsed = searchSchema.safeParse(data.search ?? {});
  if (!parsed.success) return;

  const search = parsed.data;
  const combinations = sizes.reduce((product, size) => product * size, 1);
  const shape = sizes.length === 0 ? 'no grid' : sizes.join(' x ');

  if (search.method === 'grid') {
    if (search.count !== undefined) {
      issues.push({
        path: 'search.count',
        message: 'is only used when search.method is random; remove it or set method: random',
        ...yaml.locate(['search', 'count'], 'key'),
      });
    }

    if (combinations > search.maxTrials) {
      issues.push({
        path: 'grid',
        message:
          `${combinations} trials (${shape}) is more than search.maxTrials ` +
          `(${search.maxTrials}); trim an axis or raise search.maxTrials`,
        ...yaml.locate(['grid'], 'key'),
      });
    }
    return;
  }

  if (search.count === undefined) {
    issues.push({
      path: 'search.count',
      message: 'required when search.method is random: the number of trials to draw',
      ...yaml.locate(['search', 'method'], 'value'),
    });
    return;
  }

  if (search.count > combinations) {
    issues.push({
      path: 'search.count',
      message:
        `${search.count} is more than the ${combinations} combination(s) in the grid ` +
        `(${shape}); lower it or add values to the grid`,
      ...yaml.locate(['search', 'count'], 'value'),
    });
  }

  if (search.count > search.maxTrials) {
    issues.push({
      path: 'search.count',
      message: `${search.count} is more than search.maxTrials (${search.maxTrials})`,
      ...yaml.locate(['search', 'count'], 'value'),
    });
  }
}
