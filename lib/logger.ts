import { pino, type Logger } from 'pino';

/**
 * The structured log: pino JSON lines on stderr, fixed phrases plus fields
 * (sweepId, trialId, epoch, durationMs). Human output goes to stdout elsewhere.
 *
 * Level comes from `SWEEP_LOG_LEVEL` (default `info`; `silent` turns it off).
 */
export const logger: Logger = pino(
  {
    name: 'attention-sweep',
    level: process.env.SWEEP_LOG_LEVEL ?? 'info',
    redact: {
      paths: [
        'password',
        'token',
        'apiKey',
        '*.password',
        '*.token',
        '*.apiKey',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  },
  pino.destination({ fd: 2, sync: true }),
);

export type { Logger };
