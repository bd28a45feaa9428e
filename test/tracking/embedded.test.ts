/**
 * The embedded MLflow server shared through the state folder: a stale record is replaced by a
 * fresh server, a second command joins the running one, and the last to leave stops it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { findFreePort, isPortFree } from '../../temporal/dev-server.js';
import {
  acquireEmbeddedMlflow,
  runningEmbeddedMlflow,
  type EmbeddedMlflowLease,
} from '../../tracking/embedded.js';

describe('embedded MLflow server', { timeout: 150_000 }, () => {
  let stateDir: string;
  const leases: EmbeddedMlflowLease[] = [];

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'sweep-embedded-mlflow-'));
  });

  after(async () => {
    for (const lease of leases) await lease.release();
    await rm(stateDir, { recursive: true, force: true });
  });

  test('embedded mlflow - started once, joined by the next command, stopped by the last',
    async () => {
      // What a crashed command leaves behind: a record of a server that is gone.
      const port = await findFreePort();
      await writeFile(
        join(stateDir, 'mlflow-server.json'),
        JSON.stringify({ pid: 999_999, url: 'http://127.0.0.1:1', startedAt: '2026-01-01' }),
      );
      await mkdir(join(stateDir, 'mlflow-clients'), { recursive: true });
      await writeFile(join(stateDir, 'mlflow-clients', '999999'), '');

      const first = await acquireEmbeddedMlflow({ stateDir, port });
      leases.push(first);
      assert.equal(first.started, true);
      assert.equal(first.url, `http://127.0.0.1:${port}`);
      assert.equal(await runningEmbeddedMlflow(stateDir), first.url);

      // Another command of this folder (here the same process, registered once).
      const second = await acquireEmbeddedMlflow({ stateDir, port: 0 });
      assert.equal(second.started, false);
      assert.equal(second.url, first.url);
      assert.equal(second.pid, first.pid);

      // A live client elsewhere keeps it running: a pid that is surely alive (our parent).
      await writeFile(join(stateDir, 'mlflow-clients', String(process.ppid)), '');
      await first.release();
      assert.equal(await runningEmbeddedMlflow(stateDir), first.url);
      assert.deepEqual(await readdir(join(stateDir, 'mlflow-clients')), [String(process.ppid)]);

      await rm(join(stateDir, 'mlflow-clients', String(process.ppid)));
      await second.release();
      assert.equal(await runningEmbeddedMlflow(stateDir), null);
      assert.equal(existsSync(join(stateDir, 'mlflow-server.json')), false);
      assert.ok(await isPortFree('127.0.0.1', port), `port ${port} is free again`);
      assert.ok(existsSync(join(stateDir, 'mlflow.db')), 'the runs stay for the next start');
    });
});
