/**
 * Reading a spec's YAML: strict YAML 1.2 core schema, no tags beyond the core ones, unique
 * keys, and a map from key paths back to line and column for error messages.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';

import type { SpecIssue } from '../lib/errors.js';
import { formatPath, type PathSegment } from './paths.js';

/** 1-based line and column in the spec file. */
export interface Position {
  line: number;
  column: number;
}

/** A plain (unquoted, untagged) scalar as written, for YAML 1.1 look-alike checks. */
export interface PlainScalar {
  path: PathSegment[];
  /** The characters written in the file, e.g. `yes` or `010`. */
  source: string;
  /** What YAML 1.2 made of it. */
  value: unknown;
}

/** A parsed spec file: the plain data plus what is needed to point back into the text. */
export interface SpecYaml {
  /** The document as plain JavaScript data (mappings become objects). */
  data: unknown;
  /** Problems found while reading: syntax, duplicate keys, tags, the `%YAML` directive. */
  issues: SpecIssue[];
  /**
   * True when the text is too broken to trust its structure (any syntax error other than a
   * duplicate key, or an alias that cannot be resolved); schema checks are then skipped to
   * avoid noise.
   */
  broken: boolean;
  /**
   * Formatted paths (`formatPath`) whose value already has an issue, such as a refused tag;
   * later checks add to it and skip the paths in it, so a value gets one message.
   */
  flaggedPaths: Set<string>;
  /** Position of the key (or, for a list item, the item) at `path`; see `locate`. */
  locate(path: readonly PropertyKey[], target: 'key' | 'value'): Position | undefined;
  /** The plain scalar at `path`, if the value there is one. */
  plainScalarAt(path: readonly PropertyKey[]): PlainScalar | undefined;
  /** Every plain scalar value in the document, in reading order. */
  plainScalars: PlainScalar[];
}

/** Core-schema tags a spec may use explicitly (`!!str 010` forces a string). */
const CORE_TAGS = new Set(['!!str', '!!int', '!!float', '!!bool', '!!null', '!!map', '!!seq']);

const YAML_PREFIX = 'tag:yaml.org,2002:';

/** Writes `tag:yaml.org,2002:str` as `!!str`, the way users type it. */
function shortTag(tag: string): string {
  return tag.startsWith(YAML_PREFIX) ? `!!${tag.slice(YAML_PREFIX.length)}` : tag;
}

/** Key used for path lookups; JSON keeps dotted grid keys apart from nested keys. */
function pathKey(path: readonly PropertyKey[]): string {
  const segments = path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
  return JSON.stringify(segments);
}

interface WalkedNode {
  path: PathSegment[];
  start: number;
  /** For an alias: the anchor name it refers to. */
  alias?: string;
}

/**
 * Parses spec text as one YAML 1.2 document (core schema, unique keys, string keys only,
 * no merge keys, no custom tags) and gathers every reading problem as a `SpecIssue`.
 * Never throws for bad input; an alias that points nowhere becomes an issue too.
 */
export function readSpecYaml(text: string): SpecYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    resolveKnownTags: false,
    merge: false,
    uniqueKeys: true,
    stringKeys: true,
    strict: true,
    prettyErrors: false,
    lineCounter,
  });

  const positionOf = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const walked: WalkedNode[] = [];
  const plainScalars = new Map<string, PlainScalar>();
  walk(doc.contents, [], walked, plainScalars);

  const issues: SpecIssue[] = [];
  const flaggedPaths = new Set<string>();

  const directive = doc.directives?.yaml;
  if (directive?.explicit === true && directive.version !== '1.2') {
    issues.push({
      path: '',
      message:
        `the %YAML ${directive.version} directive is not supported; specs are read as ` +
        'YAML 1.2, so remove the directive',
      ...positionOf(0),
    });
  }

  for (const error of doc.errors) {
    issues.push(syntaxIssue(error, walked, positionOf));
  }

  for (const warning of doc.warnings) {
    const issue = warningIssue(warning, walked, positionOf);
    issues.push(issue);
    if (issue.path !== '') flaggedPaths.add(issue.path);
  }

  let data: unknown = null;
  let unreadable = false;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    unreadable = true;
    issues.push(aliasIssue(error as Error, walked, positionOf));
  }

  const broken = unreadable || doc.errors.some((error) => error.code !== 'DUPLICATE_KEY');

  return {
    data,
    issues,
    broken,
    flaggedPaths,
    locate: (path, target) => locate(doc, path, target, positionOf),
    plainScalarAt: (path) => plainScalars.get(pathKey(path)),
    plainScalars: [...plainScalars.values()],
  };
}

/** Records every node's path and start offset, and every plain scalar value. */
function walk(
  node: unknown,
  path: PathSegment[],
  walked: WalkedNode[],
  plainScalars: Map<string, PlainScalar>,
): void {
  if (isAlias(node)) {
    if (node.range) walked.push({ path, start: node.range[0], alias: node.source });
    return;
  }

  if (isMap(node)) {
    for (const pair of node.items) {
      const key = keyText(pair.key);
      const keyNode = pair.key as Node | null;
      if (keyNode?.range) walked.push({ path: [...path, key], start: keyNode.range[0] });
      walk(pair.value, [...path, key], walked, plainScalars);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => walk(item, [...path, index], walked, plainScalars));
  }

  if (!isMap(node) && !isSeq(node) && !isScalar(node)) return;
  if (node.range) walked.push({ path, start: node.range[0] });

  const plain = isScalar(node) && node.type === 'PLAIN' && node.tag === undefined;
  if (plain && typeof node.source === 'string') {
    plainScalars.set(pathKey(path), { path, source: node.source, value: node.value });
  }
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** Why the document could not become plain data: an alias to no anchor, or too many. */
function aliasIssue(
  error: Error,
  walked: WalkedNode[],
  positionOf: (offset: number) => Position,
): SpecIssue {
  const unresolved = /^Unresolved alias.*: (\S+)$/.exec(error.message);
  const alias = walked.find((node) => node.alias !== undefined && node.alias === unresolved?.[1]);

  if (unresolved === null || alias === undefined) {
    return { path: '', message: `cannot read the YAML: ${error.message}` };
  }

  const name = unresolved[1]!;
  return {
    path: formatPath(alias.path),
    message: `alias \`*${name}\` has no anchor \`&${name}\` before it; define the anchor first`,
    ...positionOf(alias.start),
  };
}

/** The path of the first node that starts at or after `offset` (a tag's target). */
function pathAfter(offset: number, walked: WalkedNode[]): PathSegment[] | undefined {
  let best: WalkedNode | undefined;
  for (const node of walked) {
    if (node.start >= offset && (best === undefined || node.start < best.start)) best = node;
  }
  return best?.path;
}

/** The path of the key or value that starts exactly at `offset`. */
function pathAt(offset: number, walked: WalkedNode[]): PathSegment[] | undefined {
  return walked.find((node) => node.start === offset)?.path;
}

function syntaxIssue(
  error: YAMLError,
  walked: WalkedNode[],
  positionOf: (offset: number) => Position,
): SpecIssue {
  const at = positionOf(error.pos[0]);

  if (error.code === 'DUPLICATE_KEY') {
    const path = pathAt(error.pos[0], walked) ?? [];
    const first = walked.find(
      (node) => pathKey(node.path) === pathKey(path) && node.start < error.pos[0],
    );
    const firstLine =
      first === undefined ? '' : ` (first set at line ${positionOf(first.start).line})`;
    return {
      path: formatPath(path),
      message: `duplicate key${firstLine}; keep one of them`,
      ...at,
    };
  }

  if (error.code === 'MULTIPLE_DOCS') {
    return {
      path: '',
      message: 'a second YAML document starts here (`---`); a spec file holds one document',
      ...at,
    };
  }

  if (error.code === 'TAB_AS_INDENT') {
    return { path: '', message: 'tabs are not allowed as indentation; indent with spaces', ...at };
  }

  if (error.code === 'NON_STRING_KEY') {
    return { path: '', message: 'keys must be plain names, not lists or mappings', ...at };
  }

  const text = error.message.charAt(0).toLowerCase() + error.message.slice(1);
  return { path: '', message: `YAML syntax: ${text}`, ...at };
}

function warningIssue(
  warning: YAMLError,
  walked: WalkedNode[],
  positionOf: (offset: number) => Position,
): SpecIssue {
  const at = positionOf(warning.pos[0]);
  const tagged = /^Unresolved tag: (\S+)/.exec(warning.message);

  if (warning.code !== 'TAG_RESOLVE_FAILED' || tagged === null) {
    const text = warning.message.charAt(0).toLowerCase() + warning.message.slice(1);
    return { path: '', message: `YAML: ${text}`, ...at };
  }

  const tag = shortTag(tagged[1]!);
  const path = formatPath(pathAfter(warning.pos[1], walked) ?? []);
  const message = CORE_TAGS.has(tag)
    ? `the value does not fit the tag \`${tag}\`; remove the tag`
    : `tag \`${tag}\` is not allowed; a spec holds plain YAML 1.2 values, so remove the tag`;

  return { path, message, ...at };
}

/**
 * Position of `path` in the document. `key` points at the mapping key (for unknown keys),
 * `value` at the value (falling back to its key when the value is empty). When the path
 * does not exist (a missing key), points at the key of the deepest mapping that does, or at
 * the start of the document.
 */
function locate(
  doc: Document.Parsed,
  path: readonly PropertyKey[],
  target: 'key' | 'value',
  positionOf: (offset: number) => Position,
): Position | undefined {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  let found = true;

  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);

    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (pair === undefined) {
        found = false;
        break;
      }
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      keyNode = undefined;
      node = node.items[segment];
    } else {
      found = false;
      break;
    }
  }

  const start = (candidate: unknown): number | undefined => {
    const range = (candidate as Node | undefined)?.range;
    return range === undefined || range === null ? undefined : range[0];
  };

  const empty = isScalar(node) && node.value === null && node.source === '';
  const preferKey = target === 'key' || empty || (!found && (isMap(node) || node == null));
  const offset = preferKey ? (start(keyNode) ?? start(node)) : (start(node) ?? start(keyNode));

  return offset === undefined ? undefined : positionOf(offset);
}
