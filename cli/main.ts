import { hideBin } from 'yargs/helpers';

import { buildCli } from './app.js';
import { reportAndExit } from './exit.js';

try {
  await buildCli(hideBin(process.argv)).parseAsync();
} catch (error) {
  reportAndExit(error);
}
