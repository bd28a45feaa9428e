/**
 * The workflow bundle: `workflows/` compiled by Temporal's bundler (webpack) into one script
 * the worker's sandbox loads. Bundling takes seconds, so the result is cached on disk, keyed by
 * the workflow sources and the SDK version; any edit to `workflows/` makes a new bundle.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';

import { logger } from '../lib/logger.js';

/** The folder of workflow sources; `index.ts` there is the bundle's entry. */
export const WORKFLOWS_DIR = fileURLToPath(new URL('../workflows/', import.meta.url));

/**
 * Where bundles are cached: `$SWEEP_CACHE_DIR/workflow-bundles`, default
 * `~/.cache/attention-sweep/workflow-bundles`.
 */
export function bundleCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.SWEEP_CACHE_DIR ?? join(homedir(), '.cache', 'attention-sweep');
  return join(cacheRoot, 'workflow-bundles');
}

/**
 * Returns the workflow bundle, from the cache when the sources have not changed.
 *
 * @throws whatever the bundler throws for workflow code that does not compile or imports a
 *   module that cannot run in the sandbox.
 */
export async function loadWorkflowBundle(
  options: { cacheDir?: string } = {},
): Promise<WorkflowBundle> {
  const cacheDir = options.cacheDir ?? bundleCacheDir();
  const key = await sourcesKey();
  const file = join(cacheDir, `workflows-${key}.js`);

  try {
    return { code: await readFile(file, 'utf8') };
  } catch {
    // Not cached yet: build it below.
  }

  const startedAtMs = Date.now();
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(WORKFLOWS_DIR, 'index.ts'),
    logger: quietBundlerLogger,
  });
  logger.info({ durationMs: Date.now() - startedAtMs, file }, 'workflow bundle built');

  await mkdir(cacheDir, { recursive: true });
  // Write then rename, so a concurrent reader never sees half a bundle.
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, code);
  await rename(partial, file);
  return { code };
}

async function sourcesKey(): Promise<string> {
  const hash = createHash('sha256');
  const require = createRequire(import.meta.url);
  const sdk = require('@temporalio/worker/package.json') as { version: string };
  hash.update(`sdk ${sdk.version}\n`);

  const files = (await readdir(WORKFLOWS_DIR)).filter((f) => f.endsWith('.ts')).sort();
  for (const name of files) {
    hash.update(`${name}\n`);
    hash.update(await readFile(join(WORKFLOWS_DIR, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

// webpack's progress chatter is noise; warnings and errors still reach our log.
const quietBundlerLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) => logger.warn(meta ?? {}, message),
  error: (message: string, meta?: Record<string, unknown>) => logger.error(meta ?? {}, message),
  log: () => undefined,
};
