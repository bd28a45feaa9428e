import type { CommandModule } from 'yargs';

/** Placeholder until the command lands. */
export const planCommand: CommandModule<object, object> = {
  command: 'plan',
  describe: 'not yet available',
  handler: () => {
    throw new Error('not implemented');
  },
};
