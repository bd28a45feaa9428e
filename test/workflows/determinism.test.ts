/**
 * Workflow code must replay the same way every time: no Node built-ins, no TensorFlow, no
 * I/O, nothing outside `workflows/` at run time. This scan is the lint rule that enforces it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const WORKFLOWS_DIR = fileURLToPath(new URL('../../workflows/', import.meta.url));

/** Modules no workflow file may name, not even for types. */
const FORBIDDEN = [
  /^node:/,
  /^(fs|path|os|child_process|crypto|net|http|https|worker_threads|process|timers)(\/|$)/,
  /^@tensorflow\//,
  /(^|\/)lib\/(tf|logger)(\.js)?$/,
  /^@temporalio\/(activity|worker|client)$/,
  /(^|\/)activities\//,
  /^(pino|sharp|yaml)$/,
];

/** Globals that are non-deterministic or do I/O; workflow code has sleep() and condition(). */
const FORBIDDEN_CALLS: [string, RegExp][] = [
  ['setTimeout', /\bsetTimeout\s*\(/],
  ['setInterval', /\bsetInterval\s*\(/],
  ['process', /\bprocess\./],
  ['require()', /\brequire\s*\(/],
  ['import()', /\bimport\s*\(/],
  ['fetch', /\bfetch\s*\(/],
];

interface ImportLine {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

function importsOf(source: string): ImportLine[] {
  const found: ImportLine[] = [];
  const pattern = /^\s*(import|export)\s+(type\s+)?([^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

  for (const match of source.matchAll(pattern)) {
    const line = source.slice(0, match.index).split('\n').length;
    found.push({ specifier: match[4] ?? '', typeOnly: match[2] !== undefined, line });
  }
  return found;
}

/** Every rule broken by one workflow source, as `file:line problem` strings. */
function problemsIn(file: string, source: string): string[] {
  const problems: string[] = [];

  for (const { specifier, typeOnly, line } of importsOf(source)) {
    if (FORBIDDEN.some((rule) => rule.test(specifier))) {
      problems.push(`${file}:${line} imports ${specifier}, which workflow code must not use`);
      continue;
    }

    const inside = specifier.startsWith('./') && !specifier.includes('..');
    if (!typeOnly && !inside && specifier !== '@temporalio/workflow') {
      problems.push(
        `${file}:${line} imports ${specifier} at run time; only @temporalio/workflow and ` +
          'files in workflows/ may be (use `import type` for types)',
      );
    }
  }

  const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  for (const [name, rule] of FORBIDDEN_CALLS) {
    if (rule.test(code)) problems.push(`${file} uses ${name}`);
  }
  return problems;
}

describe('workflow determinism', () => {
  test('determinism - no file in workflows/ imports Node, TensorFlow, I/O or activities', () => {
    const files = readdirSync(WORKFLOWS_DIR).filter((name) => name.endsWith('.ts'));
    assert.ok(files.length >= 5, `expected the workflow files, found ${files.join(', ')}`);

    const problems = files.flatMap((name) =>
      problemsIn(`workflows/${name}`, readFileSync(join(WORKFLOWS_DIR, name), 'utf8')),
    );
    assert.deepEqual(problems, []);
  });

  test('determinism - the scan flags Node built-ins, tf, the logger and timers', () => {
    const source = [
      "import { readFile } from 'node:fs/promises';",
      "import fs from 'fs';",
      "import { tf } from '../lib/tf.js';",
      "import type { Logger } from '../lib/logger.js';",
      "import { planTrials } from '../spec/plan.js';",
      "import type { TrialConfig } from '../spec/schema.js';",
      "import { condition } from '@temporalio/workflow';",
      'setTimeout(() => undefined, 10);',
    ].join('\n');

    assert.deepEqual(problemsIn('workflows/bad.ts', source), [
      'workflows/bad.ts:1 imports node:fs/promises, which workflow code must not use',
      'workflows/bad.ts:2 imports fs, which workflow code must not use',
      'workflows/bad.ts:3 imports ../lib/tf.js, which workflow code must not use',
      'workflows/bad.ts:4 imports ../lib/logger.js, which workflow code must not use',
      'workflows/bad.ts:5 imports ../spec/plan.js at run time; only @temporalio/workflow and ' +
        'files in workflows/ may be (use `import type` for types)',
      'workflows/bad.ts uses setTimeout',
    ]);
  });
});
