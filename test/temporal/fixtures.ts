/** Rows of the status table for the view tests: every field at its "nothing yet" value. */
import type { TrialViewRow } from '../../temporal/sweeps.js';

/** Trial `index` (id `s-t<index>`, name `t<index>`), queued unless `overrides` say otherwise. */
export function viewRow(index: number, overrides: Partial<TrialViewRow> = {}): TrialViewRow {
  return {
    id: `s-t${index}`,
    index,
    name: `t${index}`,
    values: {},
    state: 'queued',
    epoch: 0,
    bestValAccuracy: null,
    testAccuracy: null,
    attempts: 0,
    durationMs: 0,
    error: null,
    ...overrides,
  };
}
