/**
 * Opening Temporal for a command: a client connected to the configured cluster, or to the
 * embedded dev server (started if needed, stopped when the last command leaves).
 */
import { createConnection, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

import { logger } from '../lib/logger.js';
import { installRuntime } from '../workers/runtime.js';
import { uiBaseUrl, sweepUiLink, type TemporalSettings } from './config.js';
import { acquireEmbeddedServer, type EmbeddedServerLease } from './embedded.js';
import { TemporalUnavailableError } from './errors.js';
import type { TemporalTls } from './tls.js';

/** How to reach a cluster: where, and with which TLS options and API key. */
interface Endpoint {
  address: string;
  tls: TemporalTls | null;
  apiKey: string | null;
  metadata: Record<string, string>;
}

/** An open connection to Temporal for the life of one command. */
export interface TemporalSession {
  client: Client;
  connection: Connection;
  namespace: string;
  /** `host:port` of the frontend in use. */
  address: string;
  /** True when this is the embedded dev server. */
  embedded: boolean;
  /** True when this session started the embedded server (no other command was using it). */
  startedServer: boolean;
  /** Absolute state folder. */
  stateDir: string;
  /** Web UI base URL. */
  uiBase: string;
  /** The Web UI page of a sweep. */
  uiLink(sweepId: string): string;
  /** A worker-side connection to the same frontend (created on first call, closed by close). */
  nativeConnection(): Promise<NativeConnection>;
  /** Closes the connections and leaves the embedded server. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Connects to the configured cluster, or joins (and if needed starts) the embedded server.
 *
 * @throws TemporalUnavailableError when the cluster does not answer or lacks the namespace.
 * @throws DevServerError when the embedded server cannot be started.
 */
export async function openTemporal(settings: TemporalSettings): Promise<TemporalSession> {
  let lease: EmbeddedServerLease | null = null;
  let address = settings.address;

  if (address === null) {
    lease = await acquireEmbeddedServer({
      stateDir: settings.stateDir,
      port: settings.embeddedPort,
      uiPort: settings.embeddedUiPort,
      namespace: settings.namespace,
    });
    address = lease.address;
  }

  // The embedded dev server listens in plaintext on loopback.
  const endpoint: Endpoint =
    lease === null
      ? { address, tls: settings.tls, apiKey: settings.apiKey, metadata: settings.metadata }
      : { address, tls: null, apiKey: null, metadata: {} };

  let connection: Connection;
  try {
    connection = await connect(endpoint, settings.namespace);
  } catch (error) {
    await lease?.release();
    throw error;
  }

  const client = new Client({ connection, namespace: settings.namespace });
  const uiBase = uiBaseUrl(settings, lease?.uiUrl ?? null);
  let native: Promise<NativeConnection> | undefined;
  let closed: Promise<void> | undefined;

  const session: TemporalSession = {
    client,
    connection,
    namespace: settings.namespace,
    address,
    embedded: lease !== null,
    startedServer: lease?.started ?? false,
    stateDir: settings.stateDir,
    uiBase,
    uiLink: (sweepId) => sweepUiLink(uiBase, settings.namespace, sweepId),
    nativeConnection: () => {
      installRuntime();
      return (native ??= NativeConnection.connect(connectionOptions(endpoint)));
    },
    close: () =>
      (closed ??= (async () => {
        if (native !== undefined) await (await native).close().catch(() => undefined);
        await connection.close().catch(() => undefined);
        await lease?.release();
      })()),
  };

  logger.debug({ address, namespace: settings.namespace, embedded: session.embedded }, 'connected');
  return session;
}

/** The options both SDK connections take; TLS and the API key only when set. */
function connectionOptions(endpoint: Endpoint): {
  address: string;
  tls: TemporalTls | false;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  return {
    address: endpoint.address,
    // Explicitly off when not on: given an API key alone, the SDK would turn TLS on itself.
    tls: endpoint.tls ?? false,
    ...(endpoint.apiKey === null ? {} : { apiKey: endpoint.apiKey }),
    ...(Object.keys(endpoint.metadata).length === 0 ? {} : { metadata: endpoint.metadata }),
  };
}

async function connect(endpoint: Endpoint, namespace: string): Promise<Connection> {
  const { address } = endpoint;
  // gRPC retries a refused connection until its deadline and then only says it timed out;
  // one plain TCP attempt first names the real cause at once.
  const refused = await tcpProblem(address);
  if (refused !== undefined) throw new TemporalUnavailableError(address, namespace, refused);

  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(endpoint), connectTimeout: 5000 });
  } catch (error) {
    // gRPC says only that it could not connect; a TLS handshake of our own says why.
    const tls = endpoint.tls === null ? undefined : await tlsProblem(address, endpoint.tls);
    const detail = tls === undefined ? messageChain(error) : `TLS: ${tls}`;
    throw new TemporalUnavailableError(address, namespace, detail, {
      ...tlsHint(endpoint, detail),
      cause: error,
    });
  }

  try {
    await connection.withDeadline(Date.now() + 5000, () =>
      connection.workflowService.describeNamespace({ namespace }),
    );
  } catch (error) {
    await connection.close().catch(() => undefined);
    const detail = messageChain(error);
    const missing = /not found/i.test(detail);
    throw new TemporalUnavailableError(
      address,
      namespace,
      missing ? 'the namespace does not exist' : detail,
      missing
        ? {
            hint: `Create it (temporal operator namespace create -n ${namespace}) or pass ` +
              '--namespace default.',
            cause: error,
          }
        : { ...tlsHint(endpoint, detail), cause: error },
    );
  }
  return connection;
}

/**
 * A hint for the errors that TLS or the API key cause: plaintext against a TLS frontend (it
 * hangs up, and gRPC reports a timeout or a reset), an untrusted certificate, a rejected key.
 */
function tlsHint(endpoint: Endpoint, detail: string): { hint?: string } {
  if (/unauthenticated|permission denied|unauthorized|api key/i.test(detail)) {
    return {
      hint:
        endpoint.apiKey === null
          ? 'The cluster wants credentials: set TEMPORAL_API_KEY, or a client certificate ' +
            '(TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH).'
          : 'The cluster refused the credentials: check TEMPORAL_API_KEY and the namespace.',
    };
  }
  if (endpoint.tls === null) {
    return {
      hint:
        'If the cluster takes TLS, set TEMPORAL_TLS=true (and TEMPORAL_TLS_SERVER_CA_CERT_PATH ' +
        'for a private CA); otherwise check --temporal-address / TEMPORAL_ADDRESS.',
    };
  }
  if (/certificate|handshake|tls|ssl|unknown ?issuer|invalid ?peer/i.test(detail)) {
    return {
      hint:
        'Check the TLS settings: TEMPORAL_TLS_SERVER_CA_CERT_PATH must hold the CA that ' +
        'signed the server certificate, TEMPORAL_TLS_SERVER_NAME must be a name in it, and ' +
        'the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH) one the server trusts.',
    };
  }
  return {};
}

/** An error's message followed by those of its causes, where they add something. */
function messageChain(error: unknown): string {
  const parts: string[] = [];
  for (let at: unknown = error; at instanceof Error && parts.length < 4; at = at.cause) {
    if (!parts.some((part) => part.includes(at.message))) parts.push(at.message);
  }
  return parts.join(': ') || String(error);
}

/** `host:port` (or `[v6]:port`) split, or undefined for another form. */
function hostAndPort(address: string): { host: string; port: number } | undefined {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return match === null ? undefined : { host: match[1]!, port: Number(match[2]) };
}

/**
 * Why a TLS handshake with `host:port` fails (an untrusted or mismatched server certificate,
 * a refused client certificate), or undefined when it succeeds or is merely slow.
 */
async function tlsProblem(address: string, tls: TemporalTls): Promise<string | undefined> {
  const parts = hostAndPort(address);
  if (parts === undefined) return undefined;
  const { host, port } = parts;
  const serverName = tls.serverNameOverride ?? (isIP(host) === 0 ? host : undefined);

  return new Promise((resolve) => {
    let socket: ReturnType<typeof tlsConnect>;
    try {
      socket = tlsConnect({
        host,
        port,
        ALPNProtocols: ['h2'],
        ...(serverName === undefined ? {} : { servername: serverName }),
        ...(tls.serverRootCACertificate === undefined
          ? {}
          : { ca: Buffer.from(tls.serverRootCACertificate) }),
        ...(tls.clientCertPair === undefined
          ? {}
          : {
              cert: Buffer.from(tls.clientCertPair.crt),
              key: Buffer.from(tls.clientCertPair.key),
            }),
        // Checked below, so that the reason can be reported rather than thrown.
        rejectUnauthorized: false,
      });
    } catch (error) {
      // Settings that cannot make a TLS context at all (checked earlier, so rarely reached).
      resolve((error as Error).message);
      return;
    }
    const done = (problem: string | undefined): void => {
      socket.destroy();
      resolve(problem);
    };

    socket.setTimeout(3000, () => done(undefined));
    socket.once('error', (error) => done(handshakeFailure(error.message)));
    socket.once('secureConnect', () => {
      if (!socket.authorized) {
        done(untrustedServer(String(socket.authorizationError), serverName ?? host));
        return;
      }
      // A server that refuses the client certificate says so just after the handshake.
      setTimeout(() => done(undefined), 300);
    });
  });
}

/** Why a server certificate was not accepted, from Node's verification code. */
function untrustedServer(code: string, name: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate does not name ${name}`;
  }
  if (code === 'CERT_HAS_EXPIRED') return "the server's certificate has expired";
  const unknownIssuer = [
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  ];
  if (unknownIssuer.includes(code)) {
    return `the server's certificate is not signed by a CA trusted here (${code})`;
  }
  return `the server's certificate is not trusted (${code})`;
}

/** A TLS handshake error in words, without OpenSSL's prefix. */
function handshakeFailure(message: string): string {
  if (/alert certificate required/i.test(message)) {
    return 'the server wants a client certificate';
  }
  if (/alert (bad certificate|unknown ca|certificate unknown|certificate expired)/i.test(message)) {
    return 'the server refused the client certificate';
  }
  if (/wrong version number|packet length too long|unexpected eof/i.test(message)) {
    return 'the server does not answer TLS on this port';
  }
  return message.replace(/^[0-9A-F]+:error:[0-9A-F]+:SSL routines:/, '');
}

/**
 * Why a TCP connection to `host:port` fails at once (refused, unknown host, unreachable), or
 * undefined when it opens or the attempt is merely slow (gRPC's own timeout handles that).
 */
async function tcpProblem(address: string): Promise<string | undefined> {
  const parts = hostAndPort(address);
  if (parts === undefined) return undefined;
  const { host, port } = parts;

  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (problem: string | undefined): void => {
      socket.destroy();
      resolve(problem);
    };

    socket.setTimeout(2000, () => done(undefined));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(tcpReason(error.code, host)));
  });
}

function tcpReason(code: string | undefined, host: string): string | undefined {
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens there)';
  if (code === 'ENOTFOUND') return `unknown host ${host}`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `host ${host} is unreachable`;
  return undefined;
}
