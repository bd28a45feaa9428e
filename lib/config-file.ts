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

import { z } from 'zod';

import { didYouMean } from '../spec/suggest.js';
import { readSpecYaml } from '../spec/yaml.js';
import { ConfigError, formatSpecIssues, type SpecIssue } from './errors.js';

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

/** Keys allowed in each mapping of the file, for did-you-mean suggestions. */
const ALLOWED_KEYS: Record<string, readonly string[]> = {
  '': ['stateDir', 'temporal', 'embedded', 'trackingUri', 'mlflowPort'],
  temporal: ['address', 'namespace', 'uiUrl'],
  embedded: ['port', 'uiPort'],
};

/** Key names that look like a credential, which this file never holds. */
const CREDENTIAL_KEY = /key|token|password|secret|credential|cert/i;

/**
 * Reads and checks a config file: YAML 1.2 as specs are read (unique keys, no custom tags),
 * then the schema.
 *
 * @throws ConfigError listing every problem as `file:line:column key: message`, with a
 *   did-you-mean for a misspelt key and a pointer to the environment for a credential.
 */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot read ${file}: ${code === 'EISDIR' ? 'it is a folder' : (code ?? String(error))}`,
      { hint: 'Make it a YAML file of settings, or remove it.', cause: error },
    );
  }

  const yaml = readSpecYaml(text);
  const issues: SpecIssue[] = [...yaml.issues];
  let credential = false;

  if (!yaml.broken) {
    const parsed = configFileSchema.safeParse(yaml.data ?? {});
    if (parsed.success && issues.length === 0) return parsed.data;

    for (const issue of parsed.success ? [] : parsed.error.issues) {
      const path = issue.path.map((segment) =>
        typeof segment === 'number' ? segment : String(segment),
      );
      if (issue.code !== 'unrecognized_keys') {
        const at = yaml.locate(path, 'value');
        issues.push({ path: path.join('.'), message: issue.message, ...at });
        continue;
      }

      for (const key of issue.keys) {
        const allowed = ALLOWED_KEYS[path.join('.')] ?? [];
        const isCredential = CREDENTIAL_KEY.test(key);
        credential ||= isCredential;
        const message = isCredential
          ? 'unknown key; credentials are read from the environment only'
          : `unknown key;${didYouMean(key, allowed) || ` expected one of ${allowed.join(', ')}`}`;
        const at = yaml.locate([...path, key], 'key');
        issues.push({ path: [...path, key].join('.'), message, ...at });
      }
    }
  }

  throw new ConfigError(formatSpecIssues(file, issues, 'config file'), {
    hint: credential
      ? 'Remove the credential from the file; set TEMPORAL_API_KEY (or TEMPORAL_TLS_*) and ' +
        'MLFLOW_TRACKING_TOKEN (or _USERNAME and _PASSWORD) in the environment.'
      : 'Fix the file or remove it; the README lists its keys (Configuration).',
  });
}
