/**
 * Opening Temporal for a command: a client connected to the configured cluster, or to the
 * embedded dev server (started if needed, stopped when the last command leaves).
 */
import { createConnection } from 'node:net';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

import { logger } from '../lib/logger.js';
import { installRuntime } from '../workers/runtime.js';
import { uiBaseUrl, sweepUiLink, type TemporalSettings } from './config.js';
import { acquireEmbeddedServer, type EmbeddedServerLease } from './embedded.js';
import { TemporalUnavailableError } from './errors.js';

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

  let connection: Connection;
  try {
    connection = await connect(address, settings.namespace);
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
      return (native ??= NativeConnection.connect({ address }));
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

async function connect(address: string, namespace: string): Promise<Connection> {
  // gRPC retries a refused connection until its deadline and then only says it timed out;
  // one plain TCP attempt first names the real cause at once.
  const refused = await tcpProblem(address);
  if (refused !== undefined) throw new TemporalUnavailableError(address, namespace, refused);

  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 5000 });
  } catch (error) {
    throw new TemporalUnavailableError(address, namespace, (error as Error).message, {
      cause: error,
    });
  }

  try {
    await connection.withDeadline(Date.now() + 5000, () =>
      connection.workflowService.describeNamespace({ namespace }),
    );
  } catch (error) {
    await connection.close().catch(() => undefined);
    const detail = (error as Error).message;
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
        : { cause: error },
    );
  }
  return connection;
}

/**
 * Why a TCP connection to `host:port` fails at once (refused, unknown host, unreachable), or
 * undefined when it opens or the attempt is merely slow (gRPC's own timeout handles that).
 */
async function tcpProblem(address: string): Promise<string | undefined> {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (match === null) return undefined;
  const host = match[1]!;
  const port = Number(match[2]);

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
