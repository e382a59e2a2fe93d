import type { Logger } from '../obs/logger.js';

/** How often each replica looks for attachments to delete (claims make concurrent sweeps safe). */
export const SWEEP_INTERVAL_MS = 60_000;

/**
 * Runs a sweep now and then, one at a time, until stopped; a failed sweep is logged and retried
 * next time. `what` names what it removes, for the log (attachments, expired messages).
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly sweep: () => Promise<number>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly what = 'attachments',
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => (this.stopped ? undefined : this.run()));
    }, this.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    try {
      const removed = await this.sweep();
      if (removed > 0) this.logger.info(`${this.what} swept`, { removed });
    } catch (err) {
      this.logger.warn(`${this.what} sweep failed; retried next time`, { err });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
