import type { Logger as DrizzleLogger } from 'drizzle-orm/logger';
import { PglitePreparedQuery, PgliteSession } from 'drizzle-orm/pglite/session';
import { PostgresJsPreparedQuery, PostgresJsSession } from 'drizzle-orm/postgres-js/session';
import type { Db, Queryable } from '../db/connect.js';
import type { Metrics } from './metrics.js';
import { type Tracing, tracingOff } from './tracing.js';

// Statement and transaction time for every query, whatever module issues it. drizzle has no
// timing hook (its logger is told before a query runs), so the drivers' `execute` and
// `transaction` are wrapped once, and each database handle carries, as its drizzle logger, the
// timer of its app's registry: drizzle hands that logger to every transaction's session and
// every prepared query, so the wrapper finds it on `this`.

/** A drizzle logger that logs nothing and records durations in one app's metrics (and, traced, spans). */
class DbTimer implements DrizzleLogger {
  constructor(
    readonly metrics: DbMetrics,
    readonly tracing: Tracing,
  ) {}
  logQuery(): void {}
}

type DbMetrics = Pick<Metrics, 'dbStatementDuration' | 'dbTransactionDuration' | 'dbConflictRetries'>;

type Method = (this: { logger?: unknown }, ...args: unknown[]) => Promise<unknown>;

function timeMethod(proto: object, name: string, spanName: string, record: (timer: DbTimer, seconds: number) => void): void {
  const target = proto as Record<string, Method>;
  const original = target[name]!;
  const timed = function timed(this: { logger?: unknown }, ...args: unknown[]) {
    const timer = this.logger;
    if (!(timer instanceof DbTimer)) return original.apply(this, args);
    // Traced, a statement or transaction inside a trace (a send, a request) is a span of it.
    if (timer.tracing.on) return timer.tracing.span(spanName, { onlyInTrace: true }, () => measure(this, args));
    return measure(this, args);
  };
  async function measure(self: { logger?: unknown }, args: unknown[]) {
    const timer = self.logger as DbTimer;
    const started = performance.now();
    try {
      return await original.apply(self, args);
    } finally {
      record(timer, (performance.now() - started) / 1000);
    }
  }
  target[name] = timed;
}

let wrapped = false;
function wrapDrivers(): void {
  if (wrapped) return;
  wrapped = true;
  for (const query of [PostgresJsPreparedQuery.prototype, PglitePreparedQuery.prototype]) {
    timeMethod(query, 'execute', 'db statement', (timer, s) => timer.metrics.dbStatementDuration.observe(s));
  }
  for (const session of [PostgresJsSession.prototype, PgliteSession.prototype]) {
    timeMethod(session, 'transaction', 'db transaction', (timer, s) => timer.metrics.dbTransactionDuration.observe(s));
  }
}

/** From now on, `db`'s statements and transactions (top-level: savepoints are inside theirs) are timed into `metrics`. */
export function timeDatabase(db: Db, metrics: DbMetrics, tracing: Tracing = tracingOff): void {
  wrapDrivers();
  const session = db._.session as unknown as { logger: unknown; options?: { logger?: unknown } };
  const timer = new DbTimer(metrics, tracing);
  session.logger = timer;
  // Transactions build their sessions from these options: their statements are timed too.
  session.options = { ...session.options, logger: timer };
}

/** A transaction of `db` runs again after a conflict (db/transaction.ts): counted when `db` is timed. */
export function countConflictRetry(db: Queryable): void {
  const timer = (db._.session as unknown as { logger?: unknown }).logger;
  if (timer instanceof DbTimer) timer.metrics.dbConflictRetries.inc();
}
