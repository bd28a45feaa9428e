/**
 * Queries, updates and signals of the sweep and chunk workflows. Shared by the workflows that
 * handle them and the client that sends them, so the names are written once.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

import type { ChunkResult, ControlResult, SweepSnapshot } from './types.js';

/** The sweep's status table and chunk placement (rows of running chunks may lag). */
export const sweepStatusQuery = defineQuery<SweepSnapshot>('sweepStatus');

/**
 * Cancels every queued and running trial. Running trials stop within one heartbeat and end
 * as `cancelled`; the sweep then completes. Answers how many trials and chunks it reached.
 */
export const cancelSweepUpdate = defineUpdate<ControlResult>('cancelSweep');

/**
 * Queues every `failed` and `cancelled` trial again; `done` trials are never retrained.
 * Answers how many trials and chunks it reached.
 */
export const resumeSweepUpdate = defineUpdate<ControlResult>('resumeSweep');

/** A chunk's live rows (every trial of the chunk). */
export const chunkStatusQuery = defineQuery<ChunkResult>('chunkStatus');

/** Sets how many of the chunk's trials may run at once (the parent hands out freed slots). */
export const setChunkSlotsSignal = defineSignal<[number]>('setChunkSlots');

/** Cancels the chunk's queued and running trials. */
export const cancelChunkSignal = defineSignal('cancelChunk');

/** Queues the chunk's failed and cancelled trials again and lifts an earlier cancel. */
export const resumeChunkSignal = defineSignal('resumeChunk');
