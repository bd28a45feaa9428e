/**
 * Key paths into a sweep spec: what the schema allows at a path, which dotted paths a grid
 * may vary, and reading or writing plain values by path.
 */
import { z } from 'zod';

import { sweepSpecSchema } from './schema.js';
import { closestMatch } from './suggest.js';

/** One step of a key path: an object key or a list index. */
export type PathSegment = string | number;

/** Top-level sections whose leaves are trained parameters, so a grid may vary them. */
export const PARAMETER_SECTIONS = ['augmentation', 'model', 'training', 'callbacks'] as const;

/**
 * Renders a path for messages: keys joined by dots, indices in brackets, e.g.
 * `grid.model.dropout.dense[1]`. The empty path renders as ''.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/** Strips defaults, prefaults, optionals and preprocessing to reach the shape beneath. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.out as z.ZodType;
    } else {
      return current;
    }
  }
}

/** The object schema that a discriminated union picks for `data`, if any. */
function pickOption(union: z.ZodDiscriminatedUnion, data: unknown): z.ZodType | undefined {
  const discriminator = union.def.discriminator;
  const wanted = isRecord(data) ? data[discriminator] : typeof data === 'string' ? data : undefined;

  return (union.options as z.ZodType[]).find((option) => {
    const inner = unwrap(option);
    if (!(inner instanceof z.ZodObject)) return false;
    const literal = inner.shape[discriminator];
    return literal instanceof z.ZodLiteral && literal.values.has(wanted as never);
  });
}

/**
 * The schema at `path` in the sweep spec, following the data alongside so that a union
 * (the schedule) resolves to the option the data names. Undefined when the path leaves the
 * schema.
 */
export function schemaAt(path: readonly PropertyKey[], data: unknown): z.ZodType | undefined {
  let schema: z.ZodType | undefined = sweepSpecSchema;
  let value = data;

  for (const segment of path) {
    if (schema === undefined) return undefined;

    let inner = unwrap(schema);
    if (inner instanceof z.ZodDiscriminatedUnion) {
      const picked = pickOption(inner, value);
      if (picked === undefined) return undefined;
      inner = unwrap(picked);
    }

    if (inner instanceof z.ZodObject) schema = inner.shape[String(segment)] as z.ZodType;
    else if (inner instanceof z.ZodRecord) schema = inner.valueType as z.ZodType;
    else if (inner instanceof z.ZodArray) schema = inner.element as z.ZodType;
    else return undefined;

    value = isRecord(value) || Array.isArray(value) ? readKey(value, segment) : undefined;
  }

  return schema;
}

/**
 * The keys allowed in the mapping at `path` (e.g. `['block1', 'block2', ...]` for
 * `model.dropout`), in schema order. `data` is the whole spec as written, used to pick the
 * schedule variant. Empty when the path is not a fixed-key mapping.
 */
export function allowedKeysAt(path: readonly PropertyKey[], data: unknown): string[] {
  const schema = schemaAt(path, data);
  if (schema === undefined) return [];

  let inner = unwrap(schema);
  if (inner instanceof z.ZodDiscriminatedUnion) {
    const picked = pickOption(inner, getPath(data, path));
    if (picked === undefined) return [];
    inner = unwrap(picked);
  }

  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/** Dotted paths of every leaf (non-mapping value) under `schema`, depth first. */
function leavesOf(schema: z.ZodType, prefix: string): string[] {
  const inner = unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return [prefix];

  return Object.entries(inner.shape).flatMap(([key, child]) =>
    leavesOf(child as z.ZodType, `${prefix}.${key}`),
  );
}

/**
 * Every dotted path a grid may vary, in schema order: the leaves under augmentation, model,
 * training and callbacks. `training.schedule` is one leaf (its values are a name or a
 * whole schedule object).
 */
export const PARAMETER_PATHS: readonly string[] = PARAMETER_SECTIONS.flatMap((section) =>
  leavesOf(sweepSpecSchema.shape[section], section),
);

/** Every leaf path of the spec, parameters or not; used to explain a refused grid key. */
const ALL_LEAF_PATHS: readonly string[] = Object.entries(sweepSpecSchema.shape)
  .filter(([key]) => key !== 'grid')
  .flatMap(([key, child]) => leavesOf(child as z.ZodType, key));

/**
 * Why `key` cannot be a grid axis, as a short message, or undefined when it can.
 *
 * Refused: paths outside the trained sections (`name`, `dataset.*`, `search.*`,
 * `execution.*`), groups such as `model.dropout`, and unknown paths (with a suggestion).
 */
export function gridKeyProblem(key: string): string | undefined {
  if (PARAMETER_PATHS.includes(key)) return undefined;

  const section = key.split('.')[0] ?? '';
  const sections = 'augmentation, model, training or callbacks';
  const inParameterSection = (PARAMETER_SECTIONS as readonly string[]).includes(section);
  const elsewhere = ALL_LEAF_PATHS.some((path) => path === key || path.startsWith(`${key}.`));
  if (!inParameterSection && elsewhere) {
    return `\`${key}\` is not a trained parameter; grid keys name a setting under ${sections}`;
  }

  const children = PARAMETER_PATHS.filter((path) => path.startsWith(`${key}.`));
  if (children.length > 0) {
    return `\`${key}\` is a group, not one parameter; use one of ${children.join(', ')}`;
  }

  const suggestion = suggestGridKey(key);
  const hint = suggestion === undefined ? '' : ` did you mean \`${suggestion}\`?`;
  return `\`${key}\` is not a parameter of the spec;${hint || ` use a path under ${sections}`}`;
}

/** The parameter path a mistyped grid key most likely meant. */
function suggestGridKey(key: string): string | undefined {
  // A key written without its section (`dropout.dense`) is a common slip.
  const bySuffix = PARAMETER_PATHS.filter((path) => path.endsWith(`.${key}`));
  if (bySuffix.length === 1) return bySuffix[0];

  return closestMatch(key, PARAMETER_PATHS);
}

/** Whether `value` is a plain object (not null, not a list). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readKey(container: unknown, segment: PropertyKey): unknown {
  if (Array.isArray(container) && typeof segment === 'number') return container[segment];
  if (isRecord(container)) return container[String(segment)];
  return undefined;
}

/** The value at `path` in plain data, or undefined where the path runs out. */
export function getPath(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) value = readKey(value, segment);
  return value;
}

/**
 * A deep copy of `data` with `value` set at the dotted `path` (`model.dropout.dense`).
 * Missing or non-mapping steps on the way become empty mappings; `data` is not changed.
 */
export function withPathValue(
  data: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const copy = structuredClone(data);
  const keys = path.split('.');
  let target: Record<string, unknown> = copy;

  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    target[key] = isRecord(next) ? next : {};
    target = target[key] as Record<string, unknown>;
  }

  target[keys[keys.length - 1]!] = structuredClone(value);
  return copy;
}
