/**
 * Entry script of a trial's child process (forked by `trial-process.ts`, run with tsx).
 * Waits for one `run` message, trains the trial, reports every epoch and the result over
 * IPC, then exits. SIGTERM stops training between batches; the last epoch's checkpoint stays.
 */
import type { ChildMessage, ParentMessage } from './ipc.js';
import { serializeError } from './ipc.js';

const abort = new AbortController();

process.on('SIGTERM', () => abort.abort(new Error('stopped by SIGTERM')));

// The worker is gone (crashed or killed): nobody will read the result, so stop now.
process.on('disconnect', () => process.exit(1));

process.once('message', (raw) => {
  void run(raw as ParentMessage);
});

async function run(message: ParentMessage): Promise<void> {
  const { input } = message;

  try {
    // Imported only now: TF_NUM_INTRAOP_THREADS is set by the parent before TensorFlow loads.
    const { trainTrial } = await import('../training/trial.js');
    const { tf } = await import('../lib/tf.js');

    const summary = await trainTrial({
      config: input.config,
      runDir: input.runDir,
      resume: input.resume,
      signal: abort.signal,
      onEpoch: (report) => {
        const { numTensors, numBytes } = tf.memory();
        void send({
          type: 'epoch',
          report: {
            epoch: report.epoch,
            logs: report.logs,
            checkpointDir: report.checkpointDir,
            memory: { numTensors, numBytes },
          },
        });
      },
    });

    await send({ type: 'done', summary });
  } catch (error) {
    await send({ type: 'failed', error: serializeError(error) });
  }

  // TensorFlow's thread pools would keep the process alive; the result is delivered.
  process.exit(0);
}

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}
