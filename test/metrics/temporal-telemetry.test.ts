import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Runtime } from '@temporalio/worker';

import {
  SCHEDULE_TO_START_BUCKETS_SECONDS,
  temporalRuntimeTelemetry,
} from '../../metrics/temporal-telemetry.js';
import { freePort } from './helpers.js';

describe('temporalRuntimeTelemetry', { timeout: 20_000 }, () => {
  test('asks for Prometheus names with units and _total, and hour-long buckets', () => {
    const options = temporalRuntimeTelemetry('0.0.0.0:9465', { workerId: 'gpu-box-1' });

    assert.deepEqual(options.metrics, {
      prometheus: {
        bindAddress: '0.0.0.0:9465',
        countersTotalSuffix: true,
        unitSuffix: true,
        useSecondsForDurations: true,
        histogramBucketOverrides: {
          activity_schedule_to_start_latency: SCHEDULE_TO_START_BUCKETS_SECONDS,
          workflow_task_schedule_to_start_latency: SCHEDULE_TO_START_BUCKETS_SECONDS,
          activity_execution_latency: [1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400],
        },
      },
      globalTags: { worker: 'gpu-box-1' },
    });
  });

  test('rejects an address without a usable port, showing what it got', () => {
    for (const address of ['9465', 'localhost:', 'localhost:0', 'host:99999', ':9465']) {
      assert.throws(() => temporalRuntimeTelemetry(address), {
        name: 'ConfigError',
        message:
          'the Temporal metrics address must be host:port with a port from 1 to 65535, ' +
          `got ${JSON.stringify(address)}`,
      });
    }
    assert.doesNotThrow(() => temporalRuntimeTelemetry('[::1]:9465'));
  });

  test('is accepted by Runtime.install, whose exporter then answers /metrics', async () => {
    const port = await freePort();
    Runtime.install({ telemetryOptions: temporalRuntimeTelemetry(`127.0.0.1:${port}`) });

    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
  });
});
