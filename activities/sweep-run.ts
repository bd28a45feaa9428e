/**
 * The sweep-level activities: end a tracked sweep's MLflow parent run once every trial has
 * ended (and set it back to RUNNING when a resumed sweep runs again). They run on a worker of
 * the sweep's task queue, so the parent run is finished whether the sweep was followed by
 * `sweep start`, detached, or run on remote workers.
 */
import { ApplicationFailure } from '@temporalio/activity';

import { SweepError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import type { MlflowClient } from '../tracking/client.js';
import { SweepRecorder } from '../tracking/sweep-run.js';
import type {
  FinishSweepRunInput,
  FinishSweepRunResult,
  SweepActivities,
  SweepTrackingRef,
} from '../workflows/types.js';

/** Options of {@link createSweepActivities}, fixed for the life of a worker. */
export interface SweepActivityOptions {
  /** This worker's MLflow client; null or absent makes both activities fail (retryable). */
  tracking?: MlflowClient | null;
}

/** Builds the sweep-level activities a worker registers. */
export function createSweepActivities(options: SweepActivityOptions): SweepActivities {
  const client = options.tracking ?? null;
  return {
    reopenSweepRun: (tracking) => reopenSweepRun(tracking, client),
    finishSweepRun: (input) => finishSweepRun(input, client),
  };
}

/**
 * Sets the parent run back to RUNNING.
 *
 * @throws ApplicationFailure as {@link finishSweepRun} does.
 */
async function reopenSweepRun(
  tracking: SweepTrackingRef,
  client: MlflowClient | null,
): Promise<void> {
  const log = logger.child({ sweepId: tracking.sweepId });
  const ready = requireClient(client, tracking, 'reopen');

  try {
    await ready.updateRun(tracking.parentRunId, { status: 'RUNNING' });
    log.info({ runId: tracking.parentRunId }, 'mlflow sweep run reopened');
  } catch (error) {
    throw toFailure(error, log);
  }
}

/**
 * Writes the leaderboard, figure, best trial and registered model on the parent run and
 * ends it with `input.status` (see `SweepRecorder.finish`, safe to run again).
 *
 * @throws ApplicationFailure `TRACKING_NOT_CONFIGURED` (retryable, so another worker may
 *   take it) when this worker has no MLflow client; the tracking error's own code and
 *   retryability otherwise.
 */
async function finishSweepRun(
  input: FinishSweepRunInput,
  client: MlflowClient | null,
): Promise<FinishSweepRunResult> {
  const log = logger.child({ sweepId: input.tracking.sweepId });
  const ready = requireClient(client, input.tracking, 'finish');

  try {
    const recorder = SweepRecorder.attach(ready, input.tracking, log);
    const result = await recorder.finish({ trials: input.trials, status: input.status });
    const version = result.modelVersion;

    return {
      bestTrialId: result.best?.trialId ?? null,
      modelVersion: version === undefined ? null : `${version.name}/${version.version}`,
    };
  } catch (error) {
    throw toFailure(error, log);
  }
}

function requireClient(
  client: MlflowClient | null,
  tracking: SweepTrackingRef,
  action: string,
): MlflowClient {
  if (client !== null) return client;

  throw ApplicationFailure.create({
    type: 'TRACKING_NOT_CONFIGURED',
    message:
      `this worker has no MLflow server, so it cannot ${action} the run of sweep ` +
      `${tracking.sweepId}; start workers with --tracking-uri or MLFLOW_TRACKING_URI`,
  });
}

/** Our errors keep their code and retryability; anything else is retryable. */
function toFailure(error: unknown, log: typeof logger): ApplicationFailure {
  const code = error instanceof SweepError ? error.code : 'UNEXPECTED';
  const retryable = error instanceof SweepError ? error.retryable : true;
  const message = error instanceof Error ? error.message : String(error);
  log.warn({ code, retryable, err: error }, 'mlflow sweep run not updated');

  return ApplicationFailure.create({
    type: code,
    message,
    nonRetryable: !retryable,
    ...(error instanceof Error ? { cause: error } : {}),
  });
}
