import { and, desc, eq, sql } from 'drizzle-orm';
import type { Queryable } from './connect.js';
import { webhookDeliveries, webhooks } from './schema.js';

// Community webhooks (PROTOCOL.md §7) and their deliveries: the queue and the log in one table.

export type WebhookRow = typeof webhooks.$inferSelect;

function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

export async function insertWebhook(db: Queryable, row: Omit<WebhookRow, 'createdAt'>): Promise<WebhookRow> {
  const [inserted] = await db.insert(webhooks).values(row).returning();
  return inserted!;
}

export async function countWebhooks(db: Queryable, communityId: string): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(webhooks).where(eq(webhooks.communityId, communityId));
  return Number(row?.n ?? 0);
}

export async function findWebhook(db: Queryable, communityId: string, id: string): Promise<WebhookRow | undefined> {
  const [row] = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.communityId, communityId)))
    .limit(1);
  return row;
}

export async function listWebhooks(db: Queryable, communityId: string): Promise<WebhookRow[]> {
  return db.select().from(webhooks).where(eq(webhooks.communityId, communityId)).orderBy(webhooks.createdAt);
}

export async function deleteWebhook(db: Queryable, communityId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.communityId, communityId)))
    .returning({ id: webhooks.id });
  return rows.length > 0;
}

/** The newest deliveries of one webhook. */
export async function recentDeliveries(db: Queryable, webhookId: string, limit: number) {
  return db
    .select({
      id: webhookDeliveries.id,
      event: webhookDeliveries.event,
      status: webhookDeliveries.status,
      attempts: webhookDeliveries.attempts,
      lastStatus: webhookDeliveries.lastStatus,
      lastError: webhookDeliveries.lastError,
      createdAt: webhookDeliveries.createdAt,
      deliveredAt: webhookDeliveries.deliveredAt,
      nextAt: webhookDeliveries.nextAt,
    })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, webhookId))
    .orderBy(desc(webhookDeliveries.createdAt))
    .limit(limit);
}

/** A community's webhooks subscribed to any of these event types. */
export async function webhooksFor(db: Queryable, communityId: string, types: string[]): Promise<WebhookRow[]> {
  if (types.length === 0) return [];
  return db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.communityId, communityId), sql`${webhooks.events} ?| ${sql.param(types)}::text[]`));
}

export async function enqueueDeliveries(
  db: Queryable,
  rows: { id: string; webhookId: string; event: string; payload: Record<string, unknown> }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(webhookDeliveries).values(rows);
}

export interface ClaimedDelivery {
  id: string;
  event: string;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: Date;
  url: string;
  secret: string;
}

/** Leases up to `limit` due deliveries nobody holds. */
export async function claimDeliveries(db: Queryable, token: string, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
  const result = await db.execute(sql`
    with c as (
      select id from ${webhookDeliveries}
      where status = 'pending' and next_at <= now() and (lease_until is null or lease_until < now())
      order by next_at limit ${limit} for update skip locked
    ), leased as (
      update ${webhookDeliveries} d set lease_until = now() + ${leaseMs} * interval '1 millisecond', lease_token = ${token}
      from c where d.id = c.id
      returning d.id, d.webhook_id, d.event, d.payload, d.attempts, d.created_at
    )
    select leased.*, w.url, w.secret from leased join ${webhooks} w on w.id = leased.webhook_id`);
  type Row = {
    id: string;
    event: string;
    payload: Record<string, unknown> | string;
    attempts: number;
    created_at: Date | string;
    url: string;
    secret: string;
  };
  return rowsOf<Row>(result).map((r) => ({
    id: r.id,
    event: r.event,
    payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload,
    attempts: Number(r.attempts),
    createdAt: new Date(r.created_at),
    url: r.url,
    secret: r.secret,
  }));
}

/** Records one attempt: delivered, failed for good, or pending again until `nextAt`. */
export async function settleDelivery(
  db: Queryable,
  token: string,
  id: string,
  outcome: { status: 'delivered' | 'failed' | 'pending'; httpStatus: number | null; error: string | null; nextAt?: Date },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      status: outcome.status,
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      lastStatus: outcome.httpStatus,
      lastError: outcome.error,
      leaseUntil: null,
      leaseToken: null,
      ...(outcome.status === 'delivered' ? { deliveredAt: sql`now()` } : {}),
      ...(outcome.nextAt ? { nextAt: outcome.nextAt } : {}),
    })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.leaseToken, token)));
}

export async function nextDeliveryDue(db: Queryable): Promise<Date | undefined> {
  const result = await db.execute(sql`select min(next_at) as due from ${webhookDeliveries} where status = 'pending'`);
  const due = rowsOf<{ due: Date | string | null }>(result)[0]?.due;
  return due ? new Date(due) : undefined;
}

/** Forgets settled deliveries older than `keepMs` (the log keeps recent attempts, not history). */
export async function pruneDeliveries(db: Queryable, keepMs: number): Promise<void> {
  await db.execute(sql`
    delete from ${webhookDeliveries}
    where status <> 'pending' and created_at < now() - ${keepMs} * interval '1 millisecond'`);
}
