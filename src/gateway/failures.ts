import { randomUUID } from 'node:crypto';
import { isStorageUnavailable } from '../db/errors.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';
import { AppError } from '../protocol/errors.js';

/** The one place that turns any thrown value into a protocol error (DESIGN.md "Errors"). */
export class FailureReporter {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  toAppError(err: unknown): AppError {
    const error = this.classify(err);
    this.metrics.errors.inc({ code: error.code });
    return error;
  }

  private classify(err: unknown): AppError {
    if (err instanceof AppError) return err;
    if (isStorageUnavailable(err)) {
      this.logger.warn('storage unavailable', { err });
      return new AppError('unavailable', 'storage is unavailable; nothing was stored; retry');
    }
    const correlationId = randomUUID();
    this.logger.error('internal error', { correlationId, err });
    return new AppError('internal', `internal error (correlation id ${correlationId})`, { correlationId });
  }
}
