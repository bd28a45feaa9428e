/**
 * Following a sweep until it closes: on a terminal, a view redrawn in place; elsewhere, one
 * plain line per trial that changes state (logs and CI stay readable).
 */
import type { Client } from '@temporalio/client';

import { changeLines, renderLive, renderStatus, seenOf, type TrialSeen } from './format.js';
import { readSweepStatus, type SweepStatusView } from './sweeps.js';

/** Where a watch writes; `isTTY` chooses between the redrawn view and plain lines. */
export interface WatchOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Options of {@link watchSweep}. */
export interface WatchOptions {
  client: Client;
  sweepId: string;
  uiLink: string;
  out: WatchOutput;
  /** Aborting stops the watch (the sweep itself goes on). */
  signal: AbortSignal;
  /** On a terminal: `live` summary (start, resume) or the full status `table`. */
  view: 'live' | 'table';
  /** Time between reads, in milliseconds; default 1,000 on a terminal, 2,000 elsewhere. */
  intervalMs?: number;
}

/** The watch was stopped (Ctrl-C) before the sweep closed. */
export class WatchInterruptedError extends Error {
  constructor(readonly sweepId: string) {
    super(`stopped watching sweep ${sweepId}`);
    this.name = 'WatchInterruptedError';
  }
}

/**
 * Reads the sweep's status until its workflow closes and returns the last view.
 *
 * @throws WatchInterruptedError when `signal` aborts first.
 * @throws SweepNotFoundError when no sweep has this id.
 */
export async function watchSweep(options: WatchOptions): Promise<SweepStatusView> {
  const tty = options.out.isTTY === true;
  const intervalMs = options.intervalMs ?? (tty ? 1000 : 2000);
  let seen: ReadonlyMap<number, TrialSeen> = new Map();
  let drawnLines = 0;

  for (;;) {
    if (options.signal.aborted) throw new WatchInterruptedError(options.sweepId);
    const view = await readSweepStatus(options.client, options.sweepId);

    if (tty) {
      const render = options.view === 'live' ? renderLive : renderStatus;
      const text = render(view, options.uiLink);
      // Move to the start of the previous drawing and clear it, then draw again.
      const erase = drawnLines > 0 ? `\x1b[${drawnLines}F\x1b[0J` : '';
      options.out.write(`${erase}${text}\n`);
      drawnLines = text.split('\n').length;
    } else {
      for (const line of changeLines(seen, view)) options.out.write(`${line}\n`);
    }
    seen = seenOf(view);

    if (view.status !== 'RUNNING') return view;
    await pause(intervalMs, options.signal);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });

    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
