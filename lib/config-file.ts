/**
 * `sweep.config.yaml`: the optional per-folder settings file, read from the current
 * directory. One schema for every section, so a misspelt key is an error, not ignored.
 *
 * ```yaml
 * stateDir: .state
 * temporal: { address: temporal.lab:7233, namespace: sweeps, uiUrl: http://temporal.lab:8080 }
 * embedded: { port: 7233, uiPort: 8233 }
 * trackingUri: http://mlflow.lab:5000
 * mlflowPort: 5000
 * ```
 *
 * Credentials never go here: they come from the environment only.
 */
import { readFileSync } from 'node:fs';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { ConfigError } from './errors.js';

/** Name of the optional config file, looked up in the current directory. */
export const CONFIG_FILE_NAME = 'sweep.config.yaml';

const port = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be 1-65535')
  .max(65535, 'must be 1-65535');

const configFileSchema = z.strictObject({
  stateDir: z.string().min(1).optional(),
  temporal: z
    .strictObject({
      address: z.string().min(1).optional(),
      namespace: z.string().min(1).optional(),
      uiUrl: z.string().min(1).optional(),
    })
    .optional(),
  embedded: z.strictObject({ port: port.optional(), uiPort: port.optional() }).optional(),
  trackingUri: z.string().min(1).optional(),
  mlflowPort: port.optional(),
});

/** The settings `sweep.config.yaml` may hold. */
export type ConfigFile = z.infer<typeof configFileSchema>;

/**
 * Reads and checks a config file.
 *
 * @throws ConfigError naming the file and every key that cannot be used.
 */
export function readConfigFile(file: string): ConfigFile {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (error) {
    throw new ConfigError(`${file} is not valid YAML: ${(error as Error).message}`, {
      hint: 'Fix the file or remove it; the README lists its keys (Configuration).',
      cause: error,
    });
  }

  const parsed = configFileSchema.safeParse(data);
  if (parsed.success) return parsed.data;

  const lines = parsed.error.issues.map((issue) => {
    const key = issue.path.join('.');
    return `  ${file} ${key === '' ? '(document)' : key}: ${issue.message}`;
  });
  throw new ConfigError(`${lines.length} problem(s) in ${file}:\n${lines.join('\n')}`, {
    hint:
      'Allowed keys: stateDir, temporal.{address,namespace,uiUrl}, embedded.{port,uiPort}, ' +
      'trackingUri, mlflowPort.',
  });
}
