import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Registry } from 'prom-client';

import { ConfigError } from '../../lib/errors.js';
import { tf } from '../../lib/tf.js';
import {
  createWorkerMetrics,
  TRIAL_OUTCOMES,
  type TensorMemory,
} from '../../metrics/worker-metrics.js';
import { parseExposition, valueOf, type Sample } from './helpers.js';

async function scrape(registry: Registry): Promise<Sample[]> {
  return parseExposition(await registry.metrics());
}

describe('createWorkerMetrics', () => {
  test('builds twice in one process without a name clash, each in its own registry', async () => {
    const first = createWorkerMetrics({ workerId: 'gpu-box-1' });
    const second = createWorkerMetrics({ workerId: 'gpu-box-2' });
    first.trialStarted('dropout');
    second.trialStarted('dropout');
    second.trialStarted('dropout');

    assert.notEqual(first.registry, second.registry);
    const started = { sweep: 'dropout' };
    assert.equal(valueOf(await scrape(first.registry), 'sweep_trials_started_total', started), 1);
    assert.equal(valueOf(await scrape(second.registry), 'sweep_trials_started_total', started), 2);
  });

  test('labels every series with the worker id, the host name by default', async () => {
    const metrics = createWorkerMetrics({ workerId: 'gpu-box-1' });
    metrics.setSlots(2, 0);

    const samples = await scrape(metrics.registry);
    assert.ok(samples.length > 20, 'process metrics are included by default');
    assert.deepEqual(
      samples.filter((sample) => sample.labels.worker !== 'gpu-box-1').map((s) => s.name),
      [],
    );
  });

  test('counts trials by sweep and outcome and keeps the running count', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    metrics.trialStarted('dropout');
    metrics.trialStarted('dropout');
    metrics.trialStarted('lr');
    metrics.trialFinished('dropout', 'succeeded', { durationSeconds: 95 });
    metrics.trialFinished('lr', 'retried', { durationSeconds: 12 });

    const samples = await scrape(metrics.registry);
    const finished = (sweep: string, outcome: string) =>
      valueOf(samples, 'sweep_trials_finished_total', { sweep, outcome });
    assert.equal(finished('dropout', 'succeeded'), 1);
    assert.equal(finished('lr', 'retried'), 1);
    assert.equal(valueOf(samples, 'sweep_trials_running', { sweep: 'dropout' }), 1);
    assert.equal(valueOf(samples, 'sweep_trials_running', { sweep: 'lr' }), 0);
    assert.equal(
      valueOf(samples, 'sweep_trial_duration_seconds_bucket', { outcome: 'succeeded', le: '60' }),
      0,
    );
    assert.equal(
      valueOf(samples, 'sweep_trial_duration_seconds_bucket', { outcome: 'succeeded', le: '300' }),
      1,
    );
  });

  test("creates a sweep's series at zero on its first trial, for increase()", async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    metrics.trialStarted('dropout');

    const samples = await scrape(metrics.registry);
    for (const outcome of TRIAL_OUTCOMES) {
      assert.equal(
        valueOf(samples, 'sweep_trials_finished_total', { sweep: 'dropout', outcome }),
        0,
        outcome,
      );
    }
    assert.equal(valueOf(samples, 'sweep_epoch_duration_seconds_count', { sweep: 'dropout' }), 0);
  });

  test('records epochs: duration histogram, throughput per slot, best accuracy', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    metrics.trialStarted('dropout');
    metrics.trialStarted('dropout');
    metrics.epochFinished('dropout', { epochSeconds: 42, imagesPerSecond: 80, valAccuracy: 0.61 });
    metrics.epochFinished('dropout', {
      epochSeconds: 3000,
      imagesPerSecond: 75.5,
      valAccuracy: 0.58,
      slot: 1,
    });

    const samples = await scrape(metrics.registry);
    const bucket = (le: string) =>
      valueOf(samples, 'sweep_epoch_duration_seconds_bucket', { sweep: 'dropout', le });
    assert.equal(bucket('1'), 0);
    assert.equal(bucket('60'), 1);
    assert.equal(bucket('3600'), 2);
    assert.equal(valueOf(samples, 'sweep_training_images_per_second', { slot: '0' }), 80);
    assert.equal(valueOf(samples, 'sweep_training_images_per_second', { slot: '1' }), 75.5);
    assert.equal(valueOf(samples, 'sweep_best_val_accuracy_ratio', { sweep: 'dropout' }), 0.61);
  });

  test('skips NaN accuracy and negative or infinite numbers rather than record them', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    metrics.trialStarted('dropout');
    metrics.epochFinished('dropout', { epochSeconds: 10, imagesPerSecond: 50, valAccuracy: 0.4 });
    metrics.epochFinished('dropout', {
      epochSeconds: -1,
      imagesPerSecond: Infinity,
      valAccuracy: NaN,
    });
    metrics.trialFinished('dropout', 'failed', { durationSeconds: NaN });

    const samples = await scrape(metrics.registry);
    assert.equal(valueOf(samples, 'sweep_epoch_duration_seconds_count', { sweep: 'dropout' }), 1);
    assert.equal(valueOf(samples, 'sweep_training_images_per_second', { slot: '0' }), 50);
    assert.equal(valueOf(samples, 'sweep_best_val_accuracy_ratio', { sweep: 'dropout' }), 0.4);
    assert.equal(valueOf(samples, 'sweep_trial_duration_seconds_count', { outcome: 'failed' }), 0);
    assert.equal(
      valueOf(samples, 'sweep_trials_finished_total', { sweep: 'dropout', outcome: 'failed' }),
      1,
    );
  });

  test('reports slots offered and free', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    metrics.setSlots(4, 3);

    const samples = await scrape(metrics.registry);
    assert.equal(valueOf(samples, 'sweep_worker_slots'), 4);
    assert.equal(valueOf(samples, 'sweep_worker_slots_free'), 1);
  });

  test('gives every offered slot a throughput series, 0 until an epoch reports', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    const throughput = (samples: Sample[], slot: string) =>
      valueOf(samples, 'sweep_training_images_per_second', { slot });
    metrics.setSlots(3, 0);

    let samples = await scrape(metrics.registry);
    assert.deepEqual(['0', '1', '2'].map((slot) => throughput(samples, slot)), [0, 0, 0]);

    metrics.trialStarted('dropout');
    metrics.epochFinished('dropout', {
      epochSeconds: 5,
      imagesPerSecond: 64,
      valAccuracy: 0.3,
      slot: 2,
    });
    metrics.setSlots(3, 1);
    samples = await scrape(metrics.registry);
    assert.deepEqual(['0', '1', '2'].map((slot) => throughput(samples, slot)), [0, 0, 64]);

    // Fewer slots offered: the series of the slots gone go too.
    metrics.setSlots(1, 0);
    samples = await scrape(metrics.registry);
    assert.deepEqual(
      ['0', '1', '2'].map((slot) => throughput(samples, slot)),
      [0, undefined, undefined],
    );
  });

  test('reads tensor memory at scrape time and clears a slot when its trial ends', async () => {
    let own: TensorMemory = { numTensors: 3, numBytes: 300 };
    const metrics = createWorkerMetrics({
      workerId: 'w',
      defaultMetrics: false,
      tensorMemory: () => own,
    });
    metrics.trialStarted('dropout');
    const trialMemory = { numTensors: 120, numBytes: 52_000_000 };
    metrics.epochFinished('dropout', {
      epochSeconds: 10,
      imagesPerSecond: 50,
      valAccuracy: 0.4,
      slot: 1,
      tensorMemory: trialMemory,
    });

    let samples = await scrape(metrics.registry);
    assert.equal(valueOf(samples, 'sweep_live_tensors', { process: 'worker' }), 3);
    assert.equal(valueOf(samples, 'sweep_live_tensors', { process: 'trials' }), 120);
    assert.equal(valueOf(samples, 'sweep_tensor_bytes', { process: 'trials' }), 52_000_000);

    own = { numTensors: 7, numBytes: 700 };
    metrics.trialFinished('dropout', 'succeeded', { durationSeconds: 10, slot: 1 });
    samples = await scrape(metrics.registry);
    assert.equal(valueOf(samples, 'sweep_tensor_bytes', { process: 'worker' }), 700);
    assert.equal(valueOf(samples, 'sweep_tensor_bytes', { process: 'trials' }), 0);
    assert.equal(valueOf(samples, 'sweep_training_images_per_second', { slot: '1' }), 0);
  });

  test("reads this process's tf.memory() by default once TensorFlow is loaded", async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    const kept = tf.zeros([256, 256]);

    try {
      const samples = await scrape(metrics.registry);
      const memory = tf.memory();
      assert.ok(memory.numTensors >= 1);
      const worker = { process: 'worker' };
      assert.equal(valueOf(samples, 'sweep_live_tensors', worker), memory.numTensors);
      assert.equal(valueOf(samples, 'sweep_tensor_bytes', worker), memory.numBytes);
    } finally {
      kept.dispose();
    }
  });

  test('reports no worker tensor memory when the source says null', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', tensorMemory: null });

    const samples = await scrape(metrics.registry);
    assert.equal(valueOf(samples, 'sweep_live_tensors', { process: 'worker' }), undefined);
    assert.equal(valueOf(samples, 'sweep_live_tensors', { process: 'trials' }), 0);
  });

  test('rejects an outcome outside the bounded set, naming the allowed ones', () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    metrics.trialStarted('dropout');

    assert.throws(
      () => metrics.trialFinished('dropout', 'exploded' as 'failed', { durationSeconds: 1 }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          'a trial outcome must be one of succeeded, failed, retried, cancelled, handed_back, ' +
            'got exploded',
    );
  });

  test('rejects busy slots above the total and slot numbers that are not whole', () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });

    assert.throws(() => metrics.setSlots(2, 3), {
      name: 'ConfigError',
      message: 'busy slots must be a whole number from 0 to the 2 slots, got 3',
    });
    assert.throws(() => metrics.setSlots(1.5, 0), {
      name: 'ConfigError',
      message: 'slots must be a whole number of at least 0, got 1.5',
    });
    assert.throws(
      () =>
        metrics.epochFinished('dropout', {
          epochSeconds: 1,
          imagesPerSecond: 1,
          valAccuracy: 1,
          slot: -1,
        }),
      { name: 'ConfigError', message: 'a slot must be a whole number of at least 0, got -1' },
    );
  });

  test('rejects an empty sweep id and a blank worker id', () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });

    assert.throws(() => metrics.trialStarted(''), {
      name: 'ConfigError',
      message: 'the sweep label must be a non-empty sweep id, got ""',
    });
    assert.throws(() => createWorkerMetrics({ workerId: ' ' }), {
      name: 'ConfigError',
      message: 'the metrics worker id must not be blank, got " "',
    });
  });

  test('refuses a registry that already holds the metrics, with a hint', () => {
    const registry = new Registry();
    createWorkerMetrics({ workerId: 'w', registry, defaultMetrics: false });

    assert.throws(
      () => createWorkerMetrics({ workerId: 'w', registry, defaultMetrics: false }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.startsWith('could not register the worker metrics: Error: A metric') &&
        error.hint === 'Pass a registry that does not hold them yet, or none to get a fresh one.',
    );
  });
});
