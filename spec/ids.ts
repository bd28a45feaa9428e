/**
 * Stable identifiers: canonical JSON and the hashes built on it. The same values give the
 * same id on every machine and run, whatever the order their keys were written in.
 */
import { createHash } from 'node:crypto';

/**
 * Serialises a JSON value with object keys sorted (by UTF-16 code unit) and no whitespace.
 *
 * Object entries whose value is `undefined` are left out, as `JSON.stringify` does. Array
 * order is kept. `-0` is written as `0`.
 *
 * @throws TypeError for values JSON cannot hold exactly: functions, symbols, bigints,
 *   `NaN`, infinities, and `undefined` outside an object entry.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';

  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);

    case 'number':
      if (!Number.isFinite(value)) {
        throw new TypeError(`canonical JSON cannot hold the number ${value}`);
      }
      return JSON.stringify(value);

    case 'object':
      return Array.isArray(value) ? canonicalArray(value) : canonicalObject(value);

    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

function canonicalArray(items: unknown[]): string {
  return `[${items.map((item) => canonicalJson(item)).join(',')}]`;
}

function canonicalObject(object: object): string {
  const entries = Object.entries(object)
    .filter(([, entry]) => entry !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const body = entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`);
  return `{${body.join(',')}}`;
}

/** Lowercase hex SHA-256 of a UTF-8 string (64 characters). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Lowercase hex SHA-256 of the canonical JSON of `value`.
 *
 * @throws TypeError as `canonicalJson` does.
 */
export function hashValue(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** Number of hex digits of a hash kept in sweep and trial ids (32 bits). */
export const SHORT_HASH_LENGTH = 8;

/**
 * Sweep id: `${name}-${first 8 hex of the spec hash}`, e.g. `dropout-1f0c9a2b`.
 * `specHash` is the full hex hash of the parsed spec (see `LoadedSpec.hash`).
 */
export function sweepIdOf(name: string, specHash: string): string {
  return `${name}-${specHash.slice(0, SHORT_HASH_LENGTH)}`;
}

/**
 * Trial id: `${sweepId}-t${first 8 hex of the hash of the trial's grid values}`. Key order in
 * `values` does not matter; the empty grid's single trial hashes `{}`.
 *
 * @throws TypeError as `canonicalJson` does.
 */
export function trialIdOf(sweepId: string, values: Record<string, unknown>): string {
  return `${sweepId}-t${hashValue(values).slice(0, SHORT_HASH_LENGTH)}`;
}
