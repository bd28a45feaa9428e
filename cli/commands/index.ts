/**
 * Every `sweep` command, declared in one place. Each lives in its own file and exports a
 * yargs CommandModule whose handler takes one options object.
 */
import type { CommandModule } from 'yargs';

import { cancelCommand } from './cancel.js';
import { listCommand } from './list.js';
import { planCommand } from './plan.js';
import { predictCommand } from './predict.js';
import { reportCommand } from './report.js';
import { resumeCommand } from './resume.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { trainCommand } from './train.js';
import { workerCommand } from './worker.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  planCommand,
  startCommand,
  statusCommand,
  listCommand,
  reportCommand,
  cancelCommand,
  resumeCommand,
  workerCommand,
  trainCommand,
  predictCommand,
];
