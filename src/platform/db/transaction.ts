import { PgTransaction } from 'drizzle-orm/pg-core';
import type { Queryable, Tx } from './connect.js';
import { isRetryableConflict } from './errors.js';
import { countConflictRetry } from '../obs/db-timing.js';

/** Runs of a transaction that lost a deadlock or a serialization check, before its error is the caller's. */
const CONFLICT_ATTEMPTS = 4;

export interface RetryOptions {
  /** Other errors that mean "nothing was stored, run it again" (a race the body detected itself). */
  alsoRetry?: (err: unknown) => boolean;
  /** Told of each retry (transaction() counts it in the database's metrics). */
  onRetry?: (err: unknown) => void;
  /** Waits between runs; tests pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Jittered backoff before run `attempt` (1, 2, …): a few ms doubling, so the two sides of a
 * deadlock do not collide again in step; PostgreSQL already waited deadlock_timeout to find it.
 */
const conflictBackoffMs = (attempt: number) => Math.random() * 5 * 2 ** attempt;

/**
 * Runs `run` again when it failed with a deadlock (40P01) or a serialization failure (40001):
 * PostgreSQL rolled the whole transaction back, so nothing of it was stored and a closure that
 * only writes through its transaction is safe to run again. At most CONFLICT_ATTEMPTS runs.
 */
export async function retryConflicts<T>(run: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const retryable = isRetryableConflict(err) || options.alsoRetry?.(err) === true;
      if (!retryable || attempt >= CONFLICT_ATTEMPTS) throw err;
      options.onRetry?.(err);
      await (options.sleep ?? pause)(conflictBackoffMs(attempt));
    }
  }
}

/**
 * Every writer's transaction: `work` in one transaction, run again on a deadlock or serialization
 * failure. Inside a transaction already (`db` is a Tx) it is a savepoint and is not retried: the
 * conflict aborted the outer transaction, whose own runner retries it whole.
 */
export function transaction<T>(db: Queryable, work: (tx: Tx) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  if (db instanceof PgTransaction) return db.transaction(work);
  return retryConflicts(() => db.transaction(work), { onRetry: () => countConflictRetry(db), ...options });
}
