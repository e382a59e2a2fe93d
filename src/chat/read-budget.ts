import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../protocol/errors.js';

/**
 * Each user's budget of rows read by `sync` and `history` (WebSocket and HTTP alike), per
 * replica. A window of burst/rate seconds holding `burst` points gives the token bucket's
 * average rate and burst; rate-limiter-flexible keeps it, so this file only reserves and refunds.
 */
export class ReadBudget {
  private readonly limiter: RateLimiterMemory;

  constructor(settings: { rowsPerS: number; burstRows: number }) {
    this.limiter = new RateLimiterMemory({ points: settings.burstRows, duration: settings.burstRows / settings.rowsPerS });
  }

  /**
   * Reserves up to `rows` rows for one read (never more than the burst, so a read always fits an
   * unused budget) and returns how to give back what the read did not use; `rate_limited` with
   * `retryAfterMs` when the budget is spent.
   */
  async reserve(userId: string, rows: number): Promise<(used: number) => void> {
    const reserved = Math.min(rows, this.limiter.points);
    if (reserved <= 0) return () => {};
    try {
      await this.limiter.consume(userId, reserved);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      throw new AppError('rate_limited', 'too many rows read: slow down', { retryAfterMs: Math.max(1, Math.ceil(err.msBeforeNext)) });
    }
    return (used) => {
      if (used < reserved) void this.limiter.reward(userId, reserved - used);
    };
  }
}
