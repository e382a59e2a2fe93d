import { randomUUID } from 'node:crypto';
import { isStorageUnavailable } from '../platform/db/errors.js';
import type { Logger } from '../platform/obs/logger.js';
import type { Metrics } from '../platform/obs/metrics.js';
import { AppError } from '../protocol/errors.js';

/** The one place that turns any thrown value into a protocol error (docs/architecture.md "Errors"). */
export class FailureReporter {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /**
   * `logger` makes the caller's child (a request's, a socket's), so a logged line carries its ids;
   * it is called only when something is logged, so an ordinary AppError builds no logger.
   */
  toAppError(err: unknown, logger: () => Logger = () => this.logger): AppError {
    const error = this.classify(err, logger);
    this.metrics.errors.inc({ code: error.code });
    return error;
  }

  private classify(err: unknown, logger: () => Logger): AppError {
    if (err instanceof AppError) return err;
    if (isStorageUnavailable(err)) {
      logger().warn('storage unavailable', { err });
      return new AppError('unavailable', 'storage is unavailable; nothing was stored; retry');
    }
    const correlationId = randomUUID();
    logger().error('internal error', { correlationId, err });
    return new AppError('internal', `internal error (correlation id ${correlationId})`, { correlationId });
  }
}
