/**
 * Errors of the Temporal boundary: the dev server that will not start and the cluster that
 * cannot be reached. Both are retryable (exit code 4, "service unavailable"): nothing in the
 * spec is wrong, and the same command can succeed once the cause is gone.
 */
import { SweepError } from '../lib/errors.js';

/** The embedded Temporal dev server could not be started or stopped. */
export class DevServerError extends SweepError {
  /** The server's log file, when it got that far. */
  readonly logFile: string | undefined;

  constructor(message: string, options: { hint?: string; logFile?: string; cause?: unknown }) {
    super(message, {
      code: 'DEV_SERVER_FAILED',
      retryable: true,
      ...(options.hint === undefined ? {} : { hint: options.hint }),
      cause: options.cause,
    });
    this.logFile = options.logFile;
  }
}

/** A Temporal cluster that does not answer, or answers with an error we cannot act on. */
export class TemporalUnavailableError extends SweepError {
  readonly address: string;
  readonly namespace: string;

  constructor(
    address: string,
    namespace: string,
    detail: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(`cannot reach Temporal at ${address} (namespace ${namespace}): ${detail}`, {
      code: 'TEMPORAL_UNAVAILABLE',
      retryable: true,
      hint:
        options.hint ??
        'Check --temporal-address / TEMPORAL_ADDRESS, or unset it to use the embedded server.',
      cause: options.cause,
    });
    this.address = address;
    this.namespace = namespace;
  }
}

/** No sweep with this id exists in the namespace. */
export class SweepNotFoundError extends SweepError {
  readonly sweepId: string;

  /** `where` replaces "in namespace <namespace>" and `hint` the default hint when given. */
  constructor(sweepId: string, namespace: string, options: { where?: string; hint?: string } = {}) {
    super(`no sweep with id ${sweepId} ${options.where ?? `in namespace ${namespace}`}`, {
      code: 'SWEEP_NOT_FOUND',
      hint: options.hint ?? 'List the sweeps with: sweep list',
    });
    this.sweepId = sweepId;
  }
}
