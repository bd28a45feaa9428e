/**
 * How the CLI and workers prove themselves to a Temporal cluster, read the way every Temporal
 * SDK and the Temporal CLI read it (`@temporalio/envconfig`): the environment, over a profile
 * of Temporal's own config file (`TEMPORAL_CONFIG_FILE`, or
 * `~/.config/temporalio/temporal.toml`; profile `TEMPORAL_PROFILE`, or `default`).
 *
 * | setting | environment | `temporal.toml` profile key |
 * |---|---|---|
 * | API key | `TEMPORAL_API_KEY` | `api_key` |
 * | TLS on or off | `TEMPORAL_TLS` | `tls.disabled` |
 * | server CA (PEM) | `TEMPORAL_TLS_SERVER_CA_CERT_PATH` (or `_DATA`) | `tls.server_ca_cert_path` |
 * | client cert (mTLS) | `TEMPORAL_TLS_CLIENT_CERT_PATH` (or `_DATA`) | `tls.client_cert_path` |
 * | client key (mTLS) | `TEMPORAL_TLS_CLIENT_KEY_PATH` (or `_DATA`) | `tls.client_key_path` |
 * | server name to verify | `TEMPORAL_TLS_SERVER_NAME` | `tls.server_name` |
 * | gRPC headers | `TEMPORAL_GRPC_META_<NAME>` | `grpc_meta` |
 *
 * TLS is on when an API key or any TLS setting is given, unless turned off; without a CA the
 * system's trusted roots verify the server. The profile may also hold the address and the
 * namespace: they come after our own flag, environment and `sweep.config.yaml`.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

import {
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
} from '@temporalio/envconfig';

/** The TLS options the Temporal SDK connections take (`TLSConfig`). */
export interface TemporalTls {
  serverNameOverride?: string | undefined;
  serverRootCACertificate?: Uint8Array | undefined;
  clientCertPair?: { crt: Uint8Array; key: Uint8Array } | undefined;
}

/** What {@link resolveTemporalAuth} found. */
export interface TemporalAuth {
  /** TLS options, or null for a plaintext connection. */
  tls: TemporalTls | null;
  /** The API key, or null. Never log it. */
  apiKey: string | null;
  /** Extra gRPC headers for every call (`TEMPORAL_GRPC_META_*`). */
  metadata: Record<string, string>;
  /** The profile's address and namespace, when it has them. */
  profileAddress: string | null;
  profileNamespace: string | null;
}

const FILE_SETTINGS = [
  ['clientCert', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'tls.client_cert_path'],
  ['clientKey', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'tls.client_key_path'],
  ['serverCACert', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'tls.server_ca_cert_path'],
] as const;

/**
 * Reads the TLS, API-key and header settings, and the files they name. Problems go to
 * `problems`, one line each naming the variable or profile key; the result is then
 * meaningless.
 */
export function resolveTemporalAuth(env: NodeJS.ProcessEnv, problems: string[]): TemporalAuth {
  const none: TemporalAuth = {
    tls: null,
    apiKey: null,
    metadata: {},
    profileAddress: null,
    profileNamespace: null,
  };

  const given = definedOnly(env);
  const tlsSwitch = given.TEMPORAL_TLS;
  if (tlsSwitch !== undefined) {
    // envconfig reads anything but `1` and `true` as off, so `True` would send a key in clear.
    const on = parseSwitch(tlsSwitch);
    if (on === undefined) {
      problems.push(`TEMPORAL_TLS must be true or false, got ${JSON.stringify(tlsSwitch)}`);
      return none;
    }
    given.TEMPORAL_TLS = String(on);
  }

  let profile: ClientConfigProfile;
  try {
    profile = loadProfile(given);
  } catch (error) {
    const file = given.TEMPORAL_CONFIG_FILE ?? '~/.config/temporalio/temporal.toml';
    problems.push(
      `Temporal client settings (environment and ${file}): ${(error as Error).message}`,
    );
    return none;
  }

  const tlsSettings = profile.tls;
  if (tlsSettings !== undefined && tlsSettings.disabled !== true) {
    const hasCert = tlsSettings.clientCert !== undefined;
    if (hasCert !== (tlsSettings.clientKey !== undefined)) {
      const [given, missing] = hasCert
        ? ['a client certificate', 'TEMPORAL_TLS_CLIENT_KEY_PATH (or tls.client_key_path)']
        : ['a client key', 'TEMPORAL_TLS_CLIENT_CERT_PATH (or tls.client_cert_path)'];
      problems.push(`${given} is set but ${missing} is not: mTLS needs both`);
    }
  }

  // Each file named, read once here so that a problem names its setting.
  for (const [field, variable, key] of FILE_SETTINGS) {
    const source = tlsSettings?.[field];
    if (source === undefined || !('path' in source)) continue;
    try {
      readFileSync(source.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder' : code;
      problems.push(`${variable} (or ${key}): cannot read ${source.path} (${why})`);
    }
  }
  if (problems.length > 0) return none;

  let options: ReturnType<typeof toClientOptions>['connectionOptions'];
  try {
    options = toClientOptions(profile).connectionOptions;
  } catch (error) {
    problems.push(`Temporal TLS settings: ${(error as Error).message}`);
    return none;
  }

  const tls = options.tls === undefined || options.tls === false ? null : toTls(options.tls);
  if (tls !== null) checkPem(tls, problems);
  if (tls !== null && problems.length === 0) checkUsable(tls, problems);

  return {
    tls,
    apiKey: typeof options.apiKey === 'string' && options.apiKey !== '' ? options.apiKey : null,
    metadata: (options.metadata ?? {}) as Record<string, string>,
    profileAddress: profile.address ?? null,
    profileNamespace: profile.namespace ?? null,
  };
}

/**
 * The profile from the environment and Temporal's config file. A config file with no
 * `[profile]` table at all (an empty one) makes envconfig 1.24 throw a TypeError; it holds
 * nothing to read, so the environment alone is used then.
 */
function loadProfile(env: Record<string, string>): ClientConfigProfile {
  try {
    return loadClientConfigProfile({ overrideEnvVars: env });
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return loadClientConfigProfile({ overrideEnvVars: env, disableFile: true });
  }
}

function toTls(tls: true | TemporalTls | null): TemporalTls {
  if (tls === true || tls === null) return {};
  const out: TemporalTls = {};
  if (tls.serverNameOverride !== undefined) out.serverNameOverride = tls.serverNameOverride;
  if (tls.serverRootCACertificate !== undefined) {
    out.serverRootCACertificate = tls.serverRootCACertificate;
  }
  if (tls.clientCertPair !== undefined) out.clientCertPair = tls.clientCertPair;
  return out;
}

/** A certificate or key that is not PEM gets a line naming it. */
function checkPem(tls: TemporalTls, problems: string[]): void {
  const files: [Uint8Array | undefined, string][] = [
    [tls.serverRootCACertificate, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
    [tls.clientCertPair?.crt, 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
    [tls.clientCertPair?.key, 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
  ];
  for (const [content, name] of files) {
    if (content !== undefined && !Buffer.from(content).includes('-----BEGIN ')) {
      problems.push(`${name} (or its _DATA or profile twin) is not PEM: no -----BEGIN line`);
    }
  }
}

/** `TEMPORAL_TLS` as a boolean, in any letter case; undefined when it is neither. */
function parseSwitch(text: string): boolean | undefined {
  const value = text.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  return undefined;
}

/**
 * Loads the CA and the client certificate with its key the way the TLS connection will, so a
 * key of another certificate, an encrypted key or a file of the wrong kind is named now.
 */
function checkUsable(tls: TemporalTls, problems: string[]): void {
  const attempt = (what: string, options: Parameters<typeof createSecureContext>[0]) => {
    try {
      createSecureContext(options);
    } catch (error) {
      problems.push(`${what}: ${opensslReason((error as Error).message)}`);
    }
  };

  if (tls.serverRootCACertificate !== undefined) {
    attempt('TEMPORAL_TLS_SERVER_CA_CERT_PATH (or tls.server_ca_cert_path)', {
      ca: Buffer.from(tls.serverRootCACertificate),
    });
  }
  if (tls.clientCertPair !== undefined) {
    attempt('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or tls.client_*)', {
      cert: Buffer.from(tls.clientCertPair.crt),
      key: Buffer.from(tls.clientCertPair.key),
    });
  }
}

/** OpenSSL's reason in words a user can act on. */
function opensslReason(message: string): string {
  if (/key values mismatch/i.test(message)) return 'the key does not belong to the certificate';
  if (/bad decrypt|bad password|interrupted or cancelled/i.test(message)) {
    return 'the key is encrypted; give it without a passphrase';
  }
  if (/no start line|bad base64|unsupported/i.test(message)) {
    return 'the file is not a certificate or key of the expected kind (swapped?)';
  }
  return message;
}

/** The environment without unset entries, as envconfig takes it; blank values count unset. */
function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[name] = value.trim();
  }
  return out;
}
