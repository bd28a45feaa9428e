import type { CommandModule } from 'yargs';

/** Placeholder until the command lands. */
export const trainCommand: CommandModule<object, object> = {
  command: 'train',
  describe: 'not yet available',
  handler: () => {
    throw new Error('not implemented');
  },
};
