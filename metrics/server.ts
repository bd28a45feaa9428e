/**
 * A small HTTP server that serves one Prometheus registry at `/metrics`, for Prometheus to
 * scrape. Loopback only unless told otherwise: metrics name sweeps, so they are not for the
 * open network.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Registry } from 'prom-client';

import { ConfigError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';

/** Default port of the worker's metrics (`sweep worker --metrics-port`). */
export const DEFAULT_METRICS_PORT = 9464;

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /**
   * Address to listen on; default `127.0.0.1`. Use `0.0.0.0` (or `::`) in a container or pod
   * so Prometheus can reach it from outside.
   */
  host?: string;

  /** TCP port; 0 picks a free one (see `url`). */
  port: number;

  /** The registry to serve, e.g. `createWorkerMetrics().registry`. */
  registry: Registry;
}

/** A running metrics server. */
export interface MetricsServer {
  /** Full URL of the metrics, e.g. `http://127.0.0.1:9464/metrics`. */
  url: string;

  /** The port it listens on (the one picked when 0 was asked for). */
  port: number;

  /** Stops listening and drops open connections. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Serves `registry` at `GET /metrics` (Prometheus text format) and answers `GET /healthz`
 * with `ok` (for liveness probes); anything else is a 404.
 *
 * @throws ConfigError for a port outside 0-65535, a port already in use, or an address this
 *   machine does not have.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const { port, registry } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`the metrics port must be a whole number from 0 to 65535, got ${port}`, {
      hint: 'Pass another --metrics-port, e.g. 9464.',
    });
  }

  const server = createServer((request, response) => {
    void answer(request, response, registry);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)));
    server.listen(port, host, () => resolve());
  });

  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${bound}/metrics`;
  logger.info({ url }, 'metrics server listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    port: bound,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  registry: Registry,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];

  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    response.end('only GET and HEAD are served\n');
    return;
  }

  if (path === '/healthz') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok\n');
    return;
  }

  if (path !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(`no such path ${path}: metrics are at /metrics\n`);
    return;
  }

  try {
    const text = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType });
    response.end(request.method === 'HEAD' ? undefined : text);
  } catch (error) {
    // A failing collect() must not take the worker down; Prometheus records the failed scrape.
    logger.warn({ err: error }, 'metrics collection failed');
    response.writeHead(500, { 'content-type': 'text/plain' });
    response.end(`metrics collection failed: ${String(error)}\n`);
  }
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new ConfigError(`the metrics port ${port} on ${host} is already in use`, {
      hint:
        'Pass another --metrics-port, or find the process that holds it: ' +
        `ss -ltnp 'sport = :${port}'`,
      cause: error,
    });
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new ConfigError(`cannot serve metrics on ${host}: this machine has no such address`, {
      hint: 'Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).',
      cause: error,
    });
  }
  return new ConfigError(`cannot serve metrics on ${host}:${port}: ${error.message}`, {
    cause: error,
  });
}
