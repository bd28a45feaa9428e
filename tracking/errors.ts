/**
 * Typed errors of the MLflow tracking layer. They carry the endpoint that failed, what it was
 * acting on, the HTTP status and MLflow's own error code, and say on purpose whether a retry
 * could help: a network error or a 5xx is retryable, a 4xx is not.
 */
import { SweepError } from '../lib/errors.js';

/** Where a tracking call failed and why, as carried by {@link TrackingError}. */
export interface TrackingErrorDetails {
  /** Method and path, e.g. `POST /api/2.0/mlflow/runs/log-batch`. */
  endpoint: string;

  /** What the call acted on, e.g. `experiment "flowers"` or `run 3f2a... (params: lr)`. */
  subject?: string;

  /** HTTP status; undefined when no response came back (network error, timeout). */
  status?: number;

  /** MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`. */
  serverCode?: string;

  /** Stable machine-readable code; defaults from `status` (see {@link TrackingError}). */
  code?: string;

  retryable?: boolean;
  hint?: string;
  cause?: unknown;
}

/**
 * A call to the MLflow tracking server failed.
 *
 * Codes: `TRACKING_REJECTED` (4xx, not retryable), `TRACKING_SERVER_ERROR` (5xx after the
 * retries ran out, retryable), `TRACKING_UNREACHABLE` (no answer after the retries ran out,
 * retryable), plus the specific codes of the subclasses and of the metric buffer.
 * The message never contains a credential: URLs are shown without userinfo.
 */
export class TrackingError extends SweepError {
  /** Method and path of the failed call. */
  readonly endpoint: string;

  /** What the call acted on; undefined when nothing more specific than the endpoint applies. */
  readonly subject: string | undefined;

  /** HTTP status of the last attempt; undefined when no response came back. */
  readonly status: number | undefined;

  /** MLflow's `error_code` from the response body, when it sent one. */
  readonly serverCode: string | undefined;

  constructor(message: string, details: TrackingErrorDetails) {
    super(message, {
      code: details.code ?? defaultCode(details.status),
      retryable: details.retryable ?? isRetryableStatus(details.status),
      hint: details.hint,
      cause: details.cause,
    });
    this.endpoint = details.endpoint;
    this.subject = details.subject;
    this.status = details.status;
    this.serverCode = details.serverCode;
  }
}

/**
 * The experiment name is held by an experiment in MLflow's trash (lifecycle stage `deleted`).
 * MLflow keeps names unique across deleted experiments, so the name cannot be reused until
 * the experiment is restored or purged. Not retryable.
 */
export class ExperimentDeletedError extends TrackingError {
  readonly experimentName: string;
  readonly experimentId: string;

  constructor(experimentName: string, experimentId: string, endpoint: string) {
    super(
      `experiment "${experimentName}" (id ${experimentId}) is deleted in MLflow, ` +
        'and MLflow does not reuse the name of a deleted experiment',
      {
        endpoint,
        subject: `experiment "${experimentName}"`,
        code: 'EXPERIMENT_DELETED',
        retryable: false,
        hint:
          `Restore it with: mlflow experiments restore --experiment-id ${experimentId} ` +
          '(with MLFLOW_TRACKING_URI set to this server), or pick another experiment name.',
      },
    );
    this.experimentName = experimentName;
    this.experimentId = experimentId;
  }
}

/**
 * The embedded MLflow server failed to start or exited. Carries the tail of its log, which is
 * where Python prints the real reason.
 */
export class MlflowServerError extends SweepError {
  /** The server's full log, `<stateDir>/mlflow-server.log`. */
  readonly logFile: string;

  /** The last lines the server printed during this start. */
  readonly logTail: string;

  constructor(
    message: string,
    options: { logFile: string; logTail: string; retryable?: boolean; cause?: unknown },
  ) {
    super(`${message}\n--- last lines of ${options.logFile} ---\n${options.logTail}`, {
      code: 'MLFLOW_SERVER_FAILED',
      retryable: options.retryable ?? false,
      hint: `Read the server log: ${options.logFile}`,
      cause: options.cause,
    });
    this.logFile = options.logFile;
    this.logTail = options.logTail;
  }
}

/** True for statuses worth retrying: 5xx, 429 (rate limited) and 408 (request timeout). */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) {
    return true;
  }
  return status >= 500 || status === 429 || status === 408;
}

function defaultCode(status: number | undefined): string {
  if (status === undefined) {
    return 'TRACKING_UNREACHABLE';
  }
  return isRetryableStatus(status) ? 'TRACKING_SERVER_ERROR' : 'TRACKING_REJECTED';
}
