/**
 * Every `sweep` command, declared in one place. Each lives in its own file and exports a
 * yargs CommandModule whose handler takes one options object.
 */
import type { CommandModule } from 'yargs';

import { planCommand } from './plan.js';
import { predictCommand } from './predict.js';
import { trainCommand } from './train.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [planCommand, trainCommand, predictCommand];
