/**
 * Records the workflow histories that `replay.test.ts` replays. Run it after a deliberate,
 * replay-safe change to workflow code, and commit the new files:
 *
 *   node --import tsx test/workflows/record-histories.ts
 *
 * Each scenario runs no-op trials on a throw-away dev server and writes the sweep's and every
 * chunk's history (as `temporal workflow show --output json` prints it) to `histories/`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

import { resolveTemporalBin, startDevServer } from '../../temporal/dev-server.js';
import { cancelSweep, readSweepStatus, resumeSweep, startSweep } from '../../temporal/sweeps.js';
import { installRuntime } from '../../workers/runtime.js';
import { createSweepWorker } from '../../workers/worker.js';
import type { SweepRequest } from '../../workflows/types.js';
import { noopRequest, testMemo } from '../integration/temporal-harness.js';

const HISTORIES_DIR = fileURLToPath(new URL('./histories/', import.meta.url));

interface Scenario {
  name: string;
  request: SweepRequest;
  /** Milliseconds each trial takes, by index. */
  durationMs: (index: number) => number;
  /** What to do once the sweep is started; resolves when it should be recorded. */
  drive: (client: Client, sweepId: string) => Promise<void>;
}

const scenarios: Scenario[] = [
  {
    // Two chunks sharing three slots: the freed slot is handed over by signal; one trial
    // fails once and succeeds on its retry.
    name: 'rebalance-retry',
    request: noopRequest('rec-rebalance', 4, {
      taskQueue: 'rec',
      concurrency: 3,
      chunkSize: 2,
      failTrials: [1],
      retry: { maximumAttempts: 2, initialIntervalSeconds: 1 },
    }),
    durationMs: () => 100,
    drive: async (client, sweepId) => {
      await client.workflow.getHandle(sweepId).result();
    },
  },
  {
    // A failed trial re-queued in place by the resume update while another still runs.
    name: 'resume-live',
    request: noopRequest('rec-resume', 2, { taskQueue: 'rec', failTrials: [0] }),
    durationMs: (index) => (index === 1 ? 1500 : 20),
    drive: async (client, sweepId) => {
      await waitFor(client, sweepId, (failed) => failed === 1);
      await resumeSweep(client, sweepId);
      await client.workflow.getHandle(sweepId).result();
    },
  },
  {
    // Cancel with two trials running and two queued.
    name: 'cancel',
    request: noopRequest('rec-cancel', 4, { taskQueue: 'rec', concurrency: 2 }),
    durationMs: () => 1200,
    drive: async (client, sweepId) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cancelSweep(client, sweepId);
      await client.workflow.getHandle(sweepId).result();
    },
  },
];

async function waitFor(client: Client, sweepId: string, ok: (failed: number) => boolean) {
  for (let tries = 0; tries < 100; tries += 1) {
    const view = await readSweepStatus(client, sweepId);
    if (ok(view.counts.failed)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`sweep ${sweepId} never reached the awaited state`);
}

async function main(): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'sweep-record-'));
  const server = await startDevServer({ stateDir, port: 0, uiPort: null });
  const connection = await Connection.connect({ address: server.address });
  installRuntime();
  const native = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });

  try {
    for (const scenario of scenarios) {
      const worker = await createSweepWorker({
        connection: native,
        namespace: 'default',
        taskQueue: 'rec',
        trials: {
          stateDir,
          kind: 'noop',
          slots: 8,
          heartbeatIntervalMs: 200,
          noop: { durationMs: scenario.durationMs },
        },
      });

      const sweepId = scenario.request.sweepId;
      await worker.runUntil(async () => {
        const memo = testMemo(sweepId, scenario.request.trials.length);
        await startSweep(client, scenario.request, memo);
        await scenario.drive(client, sweepId);
      });

      await writeHistories(client, server.address, scenario.name, sweepId);
    }
  } finally {
    await native.close();
    await connection.close();
    await server.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function writeHistories(
  client: Client,
  address: string,
  scenario: string,
  sweepId: string,
): Promise<void> {
  const ids = [sweepId];
  for await (const run of client.workflow.list({ query: `WorkflowType = 'trialChunkWorkflow'` })) {
    if (run.workflowId.startsWith(`${sweepId}/`)) ids.push(run.workflowId);
  }

  for (const workflowId of [...new Set(ids)].sort()) {
    const json = execFileSync(
      resolveTemporalBin(),
      ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json'],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const file = join(HISTORIES_DIR, `${scenario}--${workflowId.replace(/\//g, '--')}.json`);
    await writeFile(file, json);
    process.stdout.write(`wrote ${file}\n`);
  }
}

await main();
