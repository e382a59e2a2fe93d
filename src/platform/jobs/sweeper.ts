import type { Logger } from '../obs/logger.js';
import type { Job } from './job.js';

/** How often each replica looks for attachments to delete (claims make concurrent sweeps safe). */
export const SWEEP_INTERVAL_MS = 60_000;

/**
 * A periodic job that removes what is due (attachments, expired messages) and logs how many when
 * it removed any. Sweeps claim what they remove, so every replica may run one at once.
 */
export function sweepJob(options: {
  name: string;
  everyMs: number;
  jitterMs?: number;
  /** For the log: what it removes. */
  what: string;
  sweep: () => Promise<number>;
  logger: Logger;
}): Job {
  return {
    name: options.name,
    kind: 'periodic',
    everyMs: options.everyMs,
    ...(options.jitterMs ? { jitterMs: options.jitterMs } : {}),
    run: async () => {
      const removed = await options.sweep();
      if (removed > 0) options.logger.info(`${options.what} swept`, { removed });
    },
  };
}
