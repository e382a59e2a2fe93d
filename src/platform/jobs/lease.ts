import { type SQL, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Db, Queryable } from '../db/connect.js';
import type { JobLease } from './job.js';
import { rowsOf } from '../db/rows.js';

// Two kinds of lease. A row lease: work rows (notify_outbox, push_queue, event_reminders,
// webhook_deliveries) carry `lease_until` and `lease_token`; a worker of any replica claims rows
// nobody holds (or whose holder's lease ran out: it died) and only the holder settles them, so
// every row is worked at least once and, short of a death mid-work, once. A job lease: one
// replica at a time runs the job (a PostgreSQL advisory lock held for the run).

/** The row's lease is free: nobody holds it, or its holder's ran out. `alias`: the table's alias in the statement. */
export function leaseIsFree(alias?: string): SQL {
  const column = alias ? sql.raw(`${alias}.lease_until`) : sql.raw('lease_until');
  return sql`(${column} is null or ${column} < now())`;
}

/** The `set` list that gives the row's lease to `token` for `leaseMs`. */
export function leaseTo(token: string, leaseMs: number): SQL {
  return sql`lease_until = now() + ${leaseMs} * interval '1 millisecond', lease_token = ${token}`;
}

export interface RowLeaseClaim {
  table: PgTable;
  /** The primary key's columns. */
  keys: readonly string[];
  /** Which rows are due, besides a free lease (omitted: every row). */
  due?: SQL;
  /** Which due rows first. */
  orderBy: SQL;
  limit: number;
  token: string;
  leaseMs: number;
  /** The claimed rows' columns to answer. */
  returning: readonly string[];
}

/**
 * Leases up to `limit` due rows nobody holds to `token` and answers them (FOR UPDATE SKIP LOCKED:
 * claims of several loops or replicas at once take different rows and never wait for each other).
 */
export async function leaseRows<Row>(db: Queryable, claim: RowLeaseClaim): Promise<Row[]> {
  const keys = sql.raw(claim.keys.join(', '));
  const joined = sql.raw(claim.keys.map((k) => `t.${k} = c.${k}`).join(' and '));
  const returning = sql.raw(claim.returning.map((column) => `t.${column}`).join(', '));
  const due = claim.due ? sql`${claim.due} and ` : sql``;
  const result = await db.execute(sql`
    update ${claim.table} t set ${leaseTo(claim.token, claim.leaseMs)}
    from (
      select ${keys} from ${claim.table}
      where ${due}${leaseIsFree()}
      order by ${claim.orderBy} limit ${claim.limit} for update skip locked
    ) c
    where ${joined}
    returning ${returning}`);
  return rowsOf<Row>(result);
}

/**
 * A job lease over PostgreSQL: a transaction-scoped advisory lock on the job's name, held for the
 * run (one pooled connection, idle meanwhile). Another replica's run at that moment is skipped.
 * Embedded storage has one replica only: use processLease there (its one connection must not sit
 * in a transaction while the run queries).
 */
export function advisoryLease(db: Db): JobLease {
  return {
    hold: (name, run) =>
      db.transaction(async (tx) => {
        const taken = await tx.execute(sql`select pg_try_advisory_xact_lock(hashtext(${`banyan.job.${name}`})) as held`);
        if (!rowsOf<{ held: boolean }>(taken)[0]?.held) return { held: false as const };
        return { held: true as const, value: await run() };
      }),
  };
}
