/**
 * Opening MLflow for a command: a client of the configured server, or of the embedded server
 * of the state folder (started if needed, stopped when the last command leaves), or nothing
 * when tracking is off.
 */
import { ConfigError } from '../lib/errors.js';
import { MlflowClient } from './client.js';
import { mlflowRunLink, trackingClientOptions, type TrackingSettings } from './config.js';
import { acquireEmbeddedMlflow, type EmbeddedMlflowLease } from './embedded.js';

/** MLflow for the life of one command. */
export interface TrackingSession {
  /** One client for the whole command (and its in-process worker). */
  client: MlflowClient;
  /** Base URL without credentials, e.g. `http://127.0.0.1:5000`; safe to print and log. */
  url: string;
  /** True for the state folder's embedded server. */
  embedded: boolean;
  /** True when this command started the embedded server (no other command was using it). */
  startedServer: boolean;
  /** The MLflow UI page of a run. */
  runLink(experimentId: string, runId: string): string;
  /** Leaves the embedded server (the last command stops it). Safe to call twice. */
  close(): Promise<void>;
}

/** Where the command runs, which decides whether an embedded server may be started. */
export interface TrackingPlace {
  /** State folder of the embedded servers. */
  stateDir: string;
  /**
   * The Temporal cluster's address, or null for the embedded dev server. Only with the
   * embedded one may MLflow be embedded too: a cluster's workers could not reach a server on
   * this machine's loopback.
   */
  temporalAddress: string | null;
  /** The command, for messages, e.g. `sweep start`. */
  command: string;
}

/**
 * Opens MLflow as `settings` say: null when tracking is off, a client of the configured URI,
 * or the embedded server of `place.stateDir` (joined, or started: 6-8 s) when no URI is set
 * and Temporal is embedded.
 *
 * @throws ConfigError when no URI is configured and Temporal is a cluster, or the `mlflow`
 *   executable is missing, or the embedded port is in use.
 * @throws MlflowServerError when the embedded server does not start.
 */
export async function openTracking(
  settings: TrackingSettings,
  place: TrackingPlace,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TrackingSession | null> {
  if (!settings.enabled) return null;

  let lease: EmbeddedMlflowLease | null = null;
  let uri = settings.uri;

  if (uri === null) {
    if (place.temporalAddress !== null) {
      throw new ConfigError(
        `${place.command} uses the Temporal cluster at ${place.temporalAddress}, so it needs ` +
          'an MLflow server every worker can reach, and none is configured',
        {
          hint:
            'Pass --tracking-uri http://mlflow.lab:5000, or set MLFLOW_TRACKING_URI (or ' +
            'trackingUri in sweep.config.yaml); --no-tracking runs without MLflow.',
        },
      );
    }
    lease = await acquireEmbeddedMlflow({ stateDir: place.stateDir, port: settings.embeddedPort });
    uri = lease.url;
  }

  const client = new MlflowClient(trackingClientOptions(uri, env));
  let closed: Promise<void> | undefined;

  return {
    client,
    url: client.url,
    embedded: lease !== null,
    startedServer: lease?.started ?? false,
    runLink: (experimentId, runId) => mlflowRunLink(client.url, experimentId, runId),
    close: () => (closed ??= lease?.release() ?? Promise.resolve()),
  };
}
