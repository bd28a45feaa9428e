/**
 * Sharing an embedded server between CLI commands that use the same state folder: a lock
 * folder serialises start and stop, and each command registers its pid in a clients folder,
 * so the last one to leave stops the server and a crashed one does not keep it alive.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SweepError } from './errors.js';

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Pids registered in `dir` (one empty file per pid) whose process is alive, other than this
 * process. Entries of dead processes are removed.
 */
export function liveClients(dir: string): number[] {
  const live: number[] = [];

  for (const name of readdirSync(dir)) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
      live.push(pid);
    } else {
      rmSync(join(dir, name), { force: true });
    }
  }
  return live;
}

/**
 * Takes the lock folder `dir` (mkdir is atomic) and writes this process's pid into it; a lock
 * whose owner died is taken over. Returns the function that releases it.
 *
 * @param what Names the server in the error, e.g. `MLflow`.
 * @throws SweepError `STATE_LOCKED` (retryable) when a live process holds the lock past
 *   `timeoutMs`.
 */
export async function lockStateFolder(
  dir: string,
  timeoutMs: number,
  what: string,
): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;

  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }

    const owner = Number(readOr(join(dir, 'pid'), ''));
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }

    if (Date.now() > deadline) {
      throw new SweepError(
        `the state folder lock ${dir} of the embedded ${what} server is held by process ${owner}`,
        {
          code: 'STATE_LOCKED',
          retryable: true,
          hint: `If no sweep command is running, remove ${dir} and try again.`,
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
