/**
 * Turns zod's validation issues into short messages a person can act on: the constraint,
 * the value received, and a suggestion where one is likely (a misspelt key or name, a
 * YAML 1.1 habit such as `yes` for true).
 */
import type { z } from 'zod';

import type { PathSegment } from './paths.js';
import { closestMatch, didYouMean } from './suggest.js';
import type { PlainScalar } from './yaml.js';

/** A humanised issue, still at a path of the data that was validated. */
export interface HumanIssue {
  path: PathSegment[];
  message: string;
  /** Point at the key (unknown keys) or at the value (everything else). */
  target: 'key' | 'value';
}

/** What the humaniser may ask about the data it explains. */
export interface IssueContext {
  /** The plain scalar written at a data path, if any (for YAML 1.1 look-alikes). */
  plainScalarAt(path: readonly PathSegment[]): PlainScalar | undefined;
  /** The data at a path as written, before defaults and preprocessing. */
  rawAt(path: readonly PathSegment[]): unknown;
  /** Keys the schema allows in the mapping at a path (for unknown-key suggestions). */
  allowedKeysAt(path: readonly PathSegment[]): string[];
}

type Issue = z.core.$ZodIssue;

/** Zod's own messages start like this; schema-authored messages never do. */
const DEFAULT_MESSAGE = /^(Invalid|Too small|Too big|Unrecognized|Expected)/;

const MAX_SHOWN_TEXT = 40;

/** A value as quoted in a message: `"abc"`, `1.5`, `true`, `[1, 2]`. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') {
    const text = value.length > MAX_SHOWN_TEXT ? `${value.slice(0, MAX_SHOWN_TEXT)}...` : value;
    return JSON.stringify(text);
  }

  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'object') return showCompound(value);
  return String(value);
}

function showCompound(value: object): string {
  let text: string;
  try {
    text = JSON.stringify(value).replace(/,/g, ', ').replace(/:/g, ': ');
  } catch {
    text = Array.isArray(value) ? 'a list' : 'a mapping';
  }
  return text.length > MAX_SHOWN_TEXT ? (Array.isArray(value) ? 'a list' : 'a mapping') : text;
}

/** A received value with its kind, for type errors: `string "abc"`, `a list`. */
function showReceived(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${showValue(value)}`;
  return `${typeof value} ${showValue(value)}`;
}

/** Zod's `expected` names in words. */
function expectedInWords(expected: string): string {
  switch (expected) {
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'text';
    case 'object':
      return 'a mapping';
    case 'array':
    case 'tuple':
      return 'a list';
    default:
      return expected;
  }
}

const YAML11_BOOLEAN = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;
const YAML11_SEXAGESIMAL = /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/;
const YAML11_UNDERSCORED = /^[-+]?[0-9][0-9_]*(\.[0-9_]*)?$/;
const YAML11_BINARY = /^[-+]?0b[01_]+$/;

/**
 * The message for a plain scalar that YAML 1.1 read as a boolean or number but YAML 1.2
 * reads as text, when the schema wanted a boolean or number; undefined otherwise.
 */
function yaml11Hint(scalar: PlainScalar | undefined, expected: string): string | undefined {
  if (scalar === undefined || typeof scalar.value !== 'string') return undefined;
  const source = scalar.source;

  if (expected === 'boolean' && YAML11_BOOLEAN.test(source)) {
    return `\`${source}\` is a string in YAML 1.2; write true or false`;
  }

  if (expected !== 'number' && expected !== 'int') return undefined;

  const sign = source.startsWith('-') ? -1 : 1;
  const digits = source.replace(/^[-+]/, '').replace(/_/g, '');

  if (YAML11_SEXAGESIMAL.test(source)) {
    const value = digits.split(':').reduce((total, part) => total * 60 + Number(part), 0);
    return (
      `\`${source}\` is a string in YAML 1.2 (YAML 1.1 read it as ${sign * value} in base 60); ` +
      `write ${sign * value}`
    );
  }

  if (YAML11_BINARY.test(source)) {
    const value = sign * parseInt(digits.slice(2), 2);
    return `\`${source}\` is a string in YAML 1.2 (binary is YAML 1.1); write ${value}`;
  }

  if (source.includes('_') && YAML11_UNDERSCORED.test(source)) {
    const value = sign * Number(digits);
    return `\`${source}\` is a string in YAML 1.2 (digit separators are YAML 1.1); write ${value}`;
  }

  return undefined;
}

/**
 * The message for an integer written with a leading zero (`010`), which YAML 1.2 reads as
 * decimal and YAML 1.1 as octal (or as text for `08`, `09`); undefined for any other scalar
 * and for `00`-`07`, which both versions read the same.
 */
export function leadingZeroHint(scalar: PlainScalar): string | undefined {
  if (typeof scalar.value !== 'number' || !/^[-+]?0[0-9]+$/.test(scalar.source)) return undefined;

  const digits = scalar.source.replace(/^[-+]/, '');
  const fix = 'write it without the leading zero (or quote it for text)';

  if (/^[0-7]+$/.test(digits)) {
    const octal = parseInt(digits, 8) * Math.sign(scalar.value || 1);
    if (octal === scalar.value) return undefined;
    return (
      `\`${scalar.source}\` is ${scalar.value} in YAML 1.2 but octal ${octal} in YAML 1.1; ${fix}`
    );
  }

  return `\`${scalar.source}\` is ${scalar.value} in YAML 1.2 but text in YAML 1.1; ${fix}`;
}

/**
 * Explains one zod issue in human words. An unknown-keys issue becomes one issue per key;
 * a union issue is explained through the branch that fits the value's type best.
 */
export function humanIssues(issue: Issue, context: IssueContext): HumanIssue[] {
  const path = issue.path.map((segment) =>
    typeof segment === 'number' ? segment : String(segment),
  );
  const at = (message: string): HumanIssue[] => [{ path, message, target: 'value' }];
  const input = (issue as { input?: unknown }).input;
  const custom = !DEFAULT_MESSAGE.test(issue.message);

  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKey(path, key, context));

    case 'invalid_type':
      return at(typeMessage(issue, input, context.plainScalarAt(path)));

    case 'invalid_value':
      return at(oneOfMessage(issue.values.map(String), input));

    case 'invalid_union':
      return unionIssues(issue, path, context);

    case 'too_small':
    case 'too_big':
      return at(custom ? withReceived(issue.message, input) : sizeMessage(issue, input));

    default:
      return at(withReceived(custom ? issue.message : 'is not valid', input));
  }
}

function withReceived(message: string, input: unknown): string {
  if (Array.isArray(input)) return message;
  return `${message}, got ${showValue(input)}`;
}

function unknownKey(path: PathSegment[], key: string, context: IssueContext): HumanIssue {
  const allowed = context.allowedKeysAt(path);
  const suggestion = didYouMean(key, allowed);
  const message =
    suggestion !== '' || allowed.length === 0
      ? `unknown key;${suggestion || ' remove it'}`
      : `unknown key; expected one of ${allowed.join(', ')}`;

  return { path: [...path, key], message, target: 'key' };
}

function typeMessage(issue: Issue, input: unknown, scalar: PlainScalar | undefined): string {
  const expected = (issue as { expected?: string }).expected ?? 'a different value';

  if (input === undefined) return 'required, but missing';

  const hint = yaml11Hint(scalar, expected);
  if (hint !== undefined) return hint;

  // Zod calls `.inf` and `.nan` the wrong type; they are numbers, just not usable ones.
  if (typeof input === 'number' && !Number.isFinite(input)) {
    return `must be a finite number, got ${input}`;
  }

  if (!DEFAULT_MESSAGE.test(issue.message)) return withReceived(issue.message, input);

  let message = `expected ${expectedInWords(expected)}, got ${showReceived(input)}`;
  if (expected === 'array' && input !== null && typeof input !== 'object') {
    message += `; write [${String(input)}] for a single value`;
  }
  return message;
}

/** `must be one of a, b, c; got "x"`, with a suggestion when a name is close. */
export function oneOfMessage(allowed: readonly string[], input: unknown): string {
  const suggestion = typeof input === 'string' ? closestMatch(input, allowed) : undefined;
  const hint = suggestion === undefined ? '' : ` (did you mean \`${suggestion}\`?)`;

  if (input === undefined) return `required, but missing; one of ${allowed.join(', ')}`;
  return `must be one of ${allowed.join(', ')}; got ${showValue(input)}${hint}`;
}

function sizeMessage(issue: Issue, input: unknown): string {
  const { origin, inclusive } = issue as { origin?: string; inclusive?: boolean };
  const small = issue.code === 'too_small';
  const bounds = issue as { minimum?: unknown; maximum?: unknown };
  const limit = Number(small ? bounds.minimum : bounds.maximum);

  if (origin === 'string') {
    if (small && limit <= 1) return 'must not be empty';
    return `must be ${small ? 'at least' : 'at most'} ${limit} characters`;
  }

  if (origin === 'array') {
    const count = Array.isArray(input) ? input.length : 0;
    return `must list ${small ? 'at least' : 'at most'} ${limit} value(s), got ${count}`;
  }

  const bound = small
    ? inclusive ? 'at least' : 'greater than'
    : inclusive ? 'at most' : 'less than';
  return withReceived(`must be ${bound} ${limit}`, input);
}

function unionIssues(issue: Issue, path: PathSegment[], context: IssueContext): HumanIssue[] {
  const union = issue as z.core.$ZodIssueInvalidUnion & {
    discriminator?: string;
    options?: unknown[];
    input?: unknown;
  };

  if (union.discriminator !== undefined) {
    // A schedule written as a bare name was turned into `{ name }`; point at the name.
    const ownerPath = path.slice(0, -1);
    const written = context.rawAt(ownerPath);
    const where = typeof written === 'string' ? ownerPath : path;
    const chosen = (union.input as Record<string, unknown> | undefined)?.[union.discriminator];
    const allowed = (union.options ?? []).map(String);
    return [{ path: where, message: oneOfMessage(allowed, chosen), target: 'value' }];
  }

  // The branch whose complaints are not about the value's type is the one the user meant.
  const branches = union.errors ?? [];
  const typeOnly = (branch: Issue[]): boolean =>
    branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0);
  const fitting = branches.find((branch) => !typeOnly(branch));

  if (fitting !== undefined) {
    return fitting.flatMap((inner) =>
      humanIssues({ ...inner, path: [...path, ...inner.path] } as Issue, context),
    );
  }

  const expected = branches
    .map((branch) => (branch[0] as { expected?: string } | undefined)?.expected ?? '')
    .map((name) => (name === '' ? '' : expectedInWords(name)))
    .filter((words, index, all) => words !== '' && all.indexOf(words) === index);
  const message = `expected ${expected.join(' or ')}, got ${showReceived(union.input)}`;
  return [{ path, message, target: 'value' }];
}
