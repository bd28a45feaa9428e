/**
 * Status-table helpers shared by the workflows and the client. Pure functions.
 */
import type {
  CompactTrial,
  StateCounts,
  TrialState,
  TrialStatus,
  TrialStatusRow,
} from './types.js';

/** Every trial state, in the order tables and summaries list them. */
export const TRIAL_STATES: readonly TrialState[] = [
  'queued',
  'running',
  'done',
  'failed',
  'cancelled',
];

/** Counts rows by state; every state is present, zero when no row has it. */
export function countStates(rows: readonly (TrialStatus | undefined)[]): StateCounts {
  const counts: StateCounts = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
  for (const row of rows) {
    if (row !== undefined) counts[row.state] += 1;
  }
  return counts;
}

/** Joins each row with its trial's name and grid values, in index order. */
export function withTrialInfo(
  rows: readonly (TrialStatus | undefined)[],
  trials: ReadonlyMap<number, CompactTrial>,
): TrialStatusRow[] {
  const joined: TrialStatusRow[] = [];

  for (const row of rows) {
    if (row === undefined) continue;
    const trial = trials.get(row.index);
    joined.push({ ...row, name: trial?.name ?? row.id, values: trial?.values ?? {} });
  }
  return joined;
}

/**
 * The activity id of a trial's `launch`-th run within its chunk (1-based): `<trialId>@<n>`,
 * so the status reader can find a running trial's heartbeat.
 */
export function trialActivityId(trialId: string, launch: number): string {
  return `${trialId}@${launch}`;
}

/** The trial id inside an activity id made by {@link trialActivityId}. */
export function trialIdOfActivity(activityId: string): string {
  const at = activityId.lastIndexOf('@');
  return at < 0 ? activityId : activityId.slice(0, at);
}
