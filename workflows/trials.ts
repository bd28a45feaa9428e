/**
 * Compact trial lists. A sweep's trials differ from one another in a few grid values, so the
 * workflow input stores one base config and, per trial, only the leaves that differ. That keeps
 * a 5,000-trial input far below Temporal's 2 MB payload limit. Pure functions, safe in
 * workflow code and in the client.
 */
import type { TrialConfig } from '../spec/schema.js';
import type { CompactTrial, ConfigPatchEntry, TrialRef } from './types.js';

/**
 * Splits full trial configs into one base config (the first trial's) and per-trial patches.
 *
 * Arrays are compared and stored whole. An empty list gives an empty base config.
 */
export function compactTrials(trials: TrialRef[]): {
  baseConfig: TrialConfig;
  trials: CompactTrial[];
} {
  const first = trials[0];
  const baseConfig = (first === undefined ? {} : first.config) as TrialConfig;

  const compact = trials.map((trial) => ({
    id: trial.id,
    index: trial.index,
    name: trial.name,
    values: trial.values,
    patch: diffConfig(baseConfig, trial.config),
  }));

  return { baseConfig, trials: compact };
}

/** Rebuilds a trial's full config from the base config and its patch (inputs are unchanged). */
export function expandConfig(baseConfig: TrialConfig, patch: ConfigPatchEntry[]): TrialConfig {
  const config = structuredCopy(baseConfig) as Record<string, unknown>;

  for (const entry of patch) {
    applyEntry(config, entry);
  }

  return config as unknown as TrialConfig;
}

/** Leaf-level differences that turn `base` into `target`. */
export function diffConfig(base: unknown, target: unknown): ConfigPatchEntry[] {
  const entries: ConfigPatchEntry[] = [];
  collectDiff(base, target, [], entries);
  return entries;
}

function collectDiff(
  base: unknown,
  target: unknown,
  path: string[],
  entries: ConfigPatchEntry[],
): void {
  if (isPlainObject(base) && isPlainObject(target)) {
    const keys = new Set([...Object.keys(base), ...Object.keys(target)]);

    for (const key of [...keys].sort()) {
      const inTarget = Object.hasOwn(target, key) && target[key] !== undefined;
      if (!inTarget) {
        if (Object.hasOwn(base, key) && base[key] !== undefined) {
          entries.push({ path: [...path, key], deleted: true });
        }
        continue;
      }
      collectDiff(base[key], target[key], [...path, key], entries);
    }
    return;
  }

  if (JSON.stringify(base) !== JSON.stringify(target)) {
    entries.push({ path, value: target });
  }
}

function applyEntry(config: Record<string, unknown>, entry: ConfigPatchEntry): void {
  const parentPath = entry.path.slice(0, -1);
  const leaf = entry.path[entry.path.length - 1];

  let node = config;
  for (const key of parentPath) {
    const next = node[key];
    if (!isPlainObject(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }

  if (leaf === undefined) return;
  if (entry.deleted === true) {
    delete node[leaf];
  } else {
    node[leaf] = structuredCopy(entry.value);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// JSON round trip: configs are plain JSON, and this works inside the workflow sandbox.
function structuredCopy(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
