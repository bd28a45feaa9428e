/**
 * Where the CLI finds Temporal. With an address it talks to that cluster only; without one it
 * runs the embedded dev server on loopback, with its SQLite file in the state folder.
 *
 * Each setting is taken from the first place that has it:
 *
 * | setting | flag | environment | `sweep.config.yaml` | default |
 * |---|---|---|---|---|
 * | cluster address | `--temporal-address` | `TEMPORAL_ADDRESS` | `temporal.address` | embedded |
 * | namespace | `--namespace` | `TEMPORAL_NAMESPACE` | `temporal.namespace` | `default` |
 * | UI link base | | `TEMPORAL_UI_URL` | `temporal.uiUrl` | see below |
 * | state folder | | `SWEEP_STATE_DIR` | `stateDir` | `./.state` |
 * | embedded gRPC port | | `SWEEP_TEMPORAL_PORT` | `embedded.port` | 7233 |
 * | embedded UI port | | `SWEEP_TEMPORAL_UI_PORT` | `embedded.uiPort` | gRPC port + 1000 |
 *
 * TLS, the API key and gRPC headers for a cluster follow Temporal's own environment
 * configuration (`./tls.ts`); a profile there may supply the address and namespace last.
 *
 * `sweep.config.yaml` is read from the current directory; relative paths in it are taken
 * from that directory. Without a UI link base, a cluster's UI is assumed at its host on the
 * gRPC port + 1000 (the dev server's convention: 7233 -> 8233).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { CONFIG_FILE_NAME, readConfigFile } from '../lib/config-file.js';
import { ConfigError } from '../lib/errors.js';
import { DEFAULT_DEV_SERVER_PORT } from './dev-server.js';
import { resolveTemporalAuth, type TemporalTls } from './tls.js';

export { CONFIG_FILE_NAME };

/** Flags every Temporal-facing command accepts. */
export interface TemporalFlags {
  temporalAddress?: string | undefined;
  namespace?: string | undefined;
}

/** Resolved settings. */
export interface TemporalSettings {
  /** Cluster address (`host:port`), or null for the embedded dev server. */
  address: string | null;
  namespace: string;
  /** Base URL of the Temporal Web UI, or null to derive it (see the module doc). */
  uiUrl: string | null;
  /** Absolute state folder: embedded server db and log, trial run folders. */
  stateDir: string;
  /** Embedded server ports. */
  embeddedPort: number;
  embeddedUiPort: number;
  /** The config file read, or null. */
  configFile: string | null;
  /** TLS options for the cluster, or null for plaintext. Only used with an address. */
  tls: TemporalTls | null;
  /** API key sent as a bearer token, or null. Only used with an address; never log it. */
  apiKey: string | null;
  /** Extra gRPC headers for a cluster (`TEMPORAL_GRPC_META_*`). */
  metadata: Record<string, string>;
}

/**
 * Resolves the Temporal settings from flags, environment and config file.
 *
 * @throws ConfigError naming the file, key and value for a config file or environment
 *   variable that cannot be used (every problem listed at once), or when TLS or an API key
 *   is set without a cluster address.
 */
export function resolveTemporalSettings(
  flags: TemporalFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): TemporalSettings {
  const configPath = resolve(cwd, CONFIG_FILE_NAME);
  const hasFile = existsSync(configPath);
  const file = hasFile ? readConfigFile(configPath) : {};
  const problems: string[] = [];

  const envPort = parsePortEnv(env, 'SWEEP_TEMPORAL_PORT', problems);
  const envUiPort = parsePortEnv(env, 'SWEEP_TEMPORAL_UI_PORT', problems);
  if (problems.length > 0) {
    throw new ConfigError(problems.join('\n'), {
      hint: 'Set it to a TCP port between 1 and 65535, or unset it for the default.',
    });
  }

  const auth = resolveTemporalAuth(env, problems);
  if (problems.length > 0) {
    throw new ConfigError(problems.join('\n'), {
      hint:
        'Fix or unset the setting named. deploy/README.md (Remote Temporal) lists the TLS ' +
        'and API-key settings.',
    });
  }

  const embeddedPort = envPort ?? file.embedded?.port ?? DEFAULT_DEV_SERVER_PORT;
  const stateDirText = nonEmpty(env.SWEEP_STATE_DIR) ?? file.stateDir ?? '.state';

  const address =
    nonEmpty(flags.temporalAddress) ??
    nonEmpty(env.TEMPORAL_ADDRESS) ??
    file.temporal?.address ??
    auth.profileAddress;
  if (address === null && (auth.tls !== null || auth.apiKey !== null)) {
    // Caught here, before any command starts a server or reads a state folder.
    const what =
      auth.apiKey === null
        ? 'TLS settings are set'
        : nonEmpty(env.TEMPORAL_API_KEY) === undefined
          ? 'an API key is set (in a temporal.toml profile)'
          : 'TEMPORAL_API_KEY is set';
    throw new ConfigError(
      `${what} but no Temporal address is (the embedded server takes no TLS or key)`,
      {
        hint:
          'Pass --temporal-address (or set TEMPORAL_ADDRESS) to use that cluster, or unset ' +
          'them to run on the embedded server.',
      },
    );
  }

  if (address !== null && !/^(\[[^\]]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
    throw new ConfigError(
      `the Temporal address ${JSON.stringify(address)} is not host:port`,
      {
        hint:
          'Give the frontend as host:port, e.g. --temporal-address temporal.lab:7233 (or ' +
          'TEMPORAL_ADDRESS, or temporal.address in sweep.config.yaml).',
      },
    );
  }

  return {
    address,
    namespace:
      nonEmpty(flags.namespace) ??
      nonEmpty(env.TEMPORAL_NAMESPACE) ??
      file.temporal?.namespace ??
      auth.profileNamespace ??
      'default',
    uiUrl: nonEmpty(env.TEMPORAL_UI_URL) ?? file.temporal?.uiUrl ?? null,
    stateDir: resolve(cwd, stateDirText),
    embeddedPort,
    embeddedUiPort: envUiPort ?? file.embedded?.uiPort ?? embeddedPort + 1000,
    configFile: hasFile ? configPath : null,
    tls: auth.tls,
    apiKey: auth.apiKey,
    metadata: auth.metadata,
  };
}

/**
 * The Web UI base URL for these settings: the configured one, the embedded server's, or a
 * guess from the cluster address (same host, gRPC port + 1000, as the dev server does).
 */
export function uiBaseUrl(settings: TemporalSettings, embeddedUiUrl: string | null): string {
  if (settings.uiUrl !== null) return settings.uiUrl.replace(/\/+$/, '');
  if (embeddedUiUrl !== null) return embeddedUiUrl;

  const address = settings.address ?? '127.0.0.1:7233';
  const match = /^(.*):(\d+)$/.exec(address);
  const host = match?.[1] ?? address;
  const port = match?.[2] === undefined ? 8233 : Number(match[2]) + 1000;
  return `http://${host}:${port}`;
}

/** The Web UI page of a sweep's workflow. */
export function sweepUiLink(uiBase: string, namespace: string, sweepId: string): string {
  return `${uiBase}/namespaces/${encodeURIComponent(namespace)}/workflows/` +
    encodeURIComponent(sweepId);
}

function parsePortEnv(env: NodeJS.ProcessEnv, name: string, problems: string[]): number | null {
  const text = nonEmpty(env[name]);
  if (text === undefined) return null;

  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    problems.push(`${name} must be a TCP port between 1 and 65535, got ${JSON.stringify(text)}`);
    return null;
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
