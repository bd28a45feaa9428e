/**
 * Where the CLI finds MLflow. With a tracking URI it talks to that server only; without one,
 * next to the embedded Temporal server, it runs an embedded MLflow server on loopback, with
 * its SQLite file and artifacts in the same state folder (see `tracking/embedded.ts`).
 *
 * Each setting is taken from the first place that has it (as `temporal/config.ts` does):
 *
 * | setting | flag | environment | `sweep.config.yaml` | default |
 * |---|---|---|---|---|
 * | tracking URI | `--tracking-uri` | `MLFLOW_TRACKING_URI` | `trackingUri` | embedded |
 * | embedded port | | `SWEEP_MLFLOW_PORT` | `mlflowPort` | 5000 |
 * | tracking on | `--no-tracking` turns it off | | | on |
 *
 * Credentials come from the environment only, never from the file: `MLFLOW_TRACKING_TOKEN`,
 * or `MLFLOW_TRACKING_USERNAME` with `MLFLOW_TRACKING_PASSWORD` (or user:password in the URI).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { CONFIG_FILE_NAME, readConfigFile } from '../lib/config-file.js';
import { ConfigError } from '../lib/errors.js';
import type { MlflowClientOptions } from './client.js';


/** Port of the embedded MLflow server unless configured (MLflow's own default). */
export const DEFAULT_EMBEDDED_MLFLOW_PORT = 5000;

/** Flags of commands that record in or read from MLflow. */
export interface TrackingFlags {
  /** MLflow server URL, e.g. `http://mlflow.lab:5000`. */
  trackingUri?: string | undefined;
  /** False (`--no-tracking`) records nothing in MLflow; default true. */
  tracking?: boolean | undefined;
}

/** Resolved MLflow settings. */
export interface TrackingSettings {
  /** False when `--no-tracking` was given. */
  enabled: boolean;
  /** The configured server, or null for the embedded one. May hold user:password. */
  uri: string | null;
  /** Port the embedded server listens on when this command starts it. */
  embeddedPort: number;
  /** The config file read, or null. */
  configFile: string | null;
}

/**
 * Resolves the MLflow settings from flags, environment and config file.
 *
 * @throws ConfigError naming the file, key and value for a config file or `SWEEP_MLFLOW_PORT`
 *   that cannot be used (every problem listed at once).
 */
export function resolveTrackingSettings(
  flags: TrackingFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): TrackingSettings {
  const configPath = resolve(cwd, CONFIG_FILE_NAME);
  const configFile = existsSync(configPath) ? configPath : null;
  const file = configFile === null ? {} : readConfigFile(configFile);

  const portText = nonEmpty(env.SWEEP_MLFLOW_PORT);
  let envPort: number | undefined;
  if (portText !== undefined) {
    envPort = Number(portText);
    if (!Number.isInteger(envPort) || envPort < 1 || envPort > 65535) {
      throw new ConfigError(
        `SWEEP_MLFLOW_PORT must be a TCP port between 1 and 65535, got ${JSON.stringify(portText)}`,
        { hint: 'Set it to a free port, or unset it for the default 5000.' },
      );
    }
  }

  return {
    enabled: flags.tracking !== false,
    uri:
      nonEmpty(flags.trackingUri) ?? nonEmpty(env.MLFLOW_TRACKING_URI) ?? file.trackingUri ?? null,
    embeddedPort: envPort ?? file.mlflowPort ?? DEFAULT_EMBEDDED_MLFLOW_PORT,
    configFile,
  };
}

/**
 * Client options for a server: the URI plus credentials from the environment
 * (`MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_USERNAME`, `MLFLOW_TRACKING_PASSWORD`).
 */
export function trackingClientOptions(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
): MlflowClientOptions {
  return {
    trackingUri: uri,
    token: nonEmpty(env.MLFLOW_TRACKING_TOKEN),
    username: nonEmpty(env.MLFLOW_TRACKING_USERNAME),
    password: nonEmpty(env.MLFLOW_TRACKING_PASSWORD),
  };
}

/**
 * The MLflow UI's base URL for these settings without starting anything: the configured
 * server (credentials removed), or where the embedded server listens; null when tracking is
 * off.
 */
export function trackingBaseUrl(settings: TrackingSettings): string | null {
  if (!settings.enabled) return null;
  if (settings.uri === null) return `http://127.0.0.1:${settings.embeddedPort}`;

  try {
    const url = new URL(settings.uri);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return settings.uri;
  }
}

/** The MLflow UI page of a run (the sweep's parent run shows its trials nested under it). */
export function mlflowRunLink(baseUrl: string, experimentId: string, runId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/#/experiments/${encodeURIComponent(experimentId)}` +
    `/runs/${encodeURIComponent(runId)}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
