/**
 * Shared set-up of the bad-input tests: a temp folder with a state folder path and free
 * ports for the embedded servers, `sweep` run as a process there, and the check that a
 * refused command left nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { findFreePort, isPortFree } from '../../temporal/dev-server.js';
import { runCli, type CliRun } from '../integration/temporal-harness.js';

/** A folder to run `sweep` in, with its own state folder path and embedded server ports. */
export interface CliPlace {
  dir: string;
  /** `SWEEP_STATE_DIR`: `<dir>/state`, not created. */
  stateDir: string;
  /** The embedded Temporal gRPC port the commands would use. */
  port: number;
  /** Runs `sweep <args>` in `dir`, `extraEnv` over the place's environment. */
  sweep(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliRun>;
  /** Asserts that no state folder was created and no embedded server listens. */
  assertNothingStarted(): Promise<void>;
  /** Removes the folder. */
  dispose(): Promise<void>;
}

/** Makes a {@link CliPlace} in a new temp folder. */
export async function cliPlace(prefix: string): Promise<CliPlace> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const stateDir = join(dir, 'state');
  const port = await findFreePort();
  const uiPort = await findFreePort();
  const env = {
    ...process.env,
    SWEEP_STATE_DIR: stateDir,
    SWEEP_TEMPORAL_PORT: String(port),
    SWEEP_TEMPORAL_UI_PORT: String(uiPort),
    SWEEP_LOG_LEVEL: 'error',
  };

  return {
    dir,
    stateDir,
    port,
    sweep: (args, extraEnv = {}) =>
      runCli(args, { cwd: dir, env: { ...env, ...extraEnv }, timeoutMs: 60_000 }),
    assertNothingStarted: async () => {
      assert.ok(!existsSync(stateDir), `no state folder at ${stateDir}`);
      assert.ok(await isPortFree('127.0.0.1', port), `nothing listens on port ${port}`);
      assert.ok(await isPortFree('127.0.0.1', uiPort), `nothing listens on port ${uiPort}`);
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
