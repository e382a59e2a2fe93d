import { and, desc, eq, sql } from 'drizzle-orm';
import type { Queryable } from '../../platform/db/connect.js';
import { webhookDeliveries, webhooks } from '../../platform/db/schema.js';
import { leaseIsFree, leaseTo } from '../../platform/jobs/lease.js';
import { rowsOf } from '../../platform/db/rows.js';

// Community webhooks (docs/protocol.md §8) and their deliveries: the queue and the log in one table.

export type WebhookRow = typeof webhooks.$inferSelect;

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
  /** `nextAt`: not before then (the endpoint's breaker is open); unset, due at once. */
  rows: { id: string; webhookId: string; event: string; payload: Record<string, unknown>; nextAt?: Date }[],
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
  communityId: string;
}

/** How much a claim may take: in all, per community and per endpoint (a webhook's URL). */
export interface DeliveryRoom {
  free: number;
  perCommunity: number;
  perEndpoint: number;
  /** Left out: communities and endpoints with no room (all their slots in flight, or a breaker open). */
  fullCommunities: string[];
  blockedEndpoints: string[];
  /** Slots already in flight per community; room below `perEndpoint` per endpoint. */
  communityUsed: Record<string, number>;
  endpointRoom: Record<string, number>;
}

/** Rows of the oldest due deliveries a claim looks at to pick a fair share from. */
const CLAIM_SCAN = 500;

/**
 * Leases due deliveries nobody holds, fairly (docs/protocol.md §8): never more per community or
 * endpoint than `room` leaves, and round-robin across communities (each community's oldest first,
 * communities with fewer in flight first), so one community's backlog never starves another's.
 */
export async function claimDeliveries(db: Queryable, token: string, leaseMs: number, room: DeliveryRoom): Promise<ClaimedDelivery[]> {
  if (room.free <= 0) return [];
  const result = await db.execute(sql`
    with due as (
      select d.id, w.community_id, w.url, d.next_at from ${webhookDeliveries} d join ${webhooks} w on w.id = d.webhook_id
      where d.status = 'pending' and d.next_at <= now() and ${leaseIsFree('d')}
        and w.community_id <> all(${sql.param(room.fullCommunities)}::text[])
        and w.url <> all(${sql.param(room.blockedEndpoints)}::text[])
      order by d.next_at limit ${CLAIM_SCAN} for update of d skip locked
    ), ranked as (
      select id, next_at,
        row_number() over (partition by community_id order by next_at)
          + coalesce((${JSON.stringify(room.communityUsed)}::jsonb ->> community_id)::int, 0) as community_rank,
        row_number() over (partition by url order by next_at) as endpoint_rank,
        coalesce((${JSON.stringify(room.endpointRoom)}::jsonb ->> url)::int, ${room.perEndpoint}) as endpoint_room
      from due
    ), picked as (
      select id from ranked where community_rank <= ${room.perCommunity} and endpoint_rank <= endpoint_room
      order by community_rank, next_at limit ${room.free}
    ), leased as (
      update ${webhookDeliveries} d set ${leaseTo(token, leaseMs)}
      from picked where d.id = picked.id
      returning d.id, d.webhook_id, d.event, d.payload, d.attempts, d.created_at
    )
    select leased.*, w.url, w.secret, w.community_id from leased join ${webhooks} w on w.id = leased.webhook_id`);
  type Row = {
    id: string;
    event: string;
    payload: Record<string, unknown> | string;
    attempts: number;
    created_at: Date | string;
    url: string;
    secret: string;
    community_id: string;
  };
  return rowsOf<Row>(result).map((r) => ({
    id: r.id,
    event: r.event,
    payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload,
    attempts: Number(r.attempts),
    createdAt: new Date(r.created_at),
    url: r.url,
    secret: r.secret,
    communityId: r.community_id,
  }));
}

/**
 * An endpoint's breaker opened: its pending deliveries wait until `until` (none is dropped), on
 * every replica, and claims stop scanning past them. Never past the end of a delivery's retry
 * window (`retryMs` after it was created), so the last attempt still happens within it.
 */
export async function deferDeliveries(db: Queryable, url: string, until: Date, retryMs: number): Promise<void> {
  await db.execute(sql`
    update ${webhookDeliveries} d
    set next_at = least(${until.toISOString()}::timestamptz, d.created_at + ${retryMs} * interval '1 millisecond')
    from ${webhooks} w
    where w.id = d.webhook_id and w.url = ${url} and d.status = 'pending'
      and d.next_at < ${until.toISOString()}::timestamptz and ${leaseIsFree('d')}`);
}

/** Pending deliveries past their retry window that no attempt settled (an endpoint kept refusing or stalling): failed. */
export async function failExpiredDeliveries(db: Queryable, retryMs: number): Promise<void> {
  await db.execute(sql`
    update ${webhookDeliveries}
    set status = 'failed', lease_until = null, lease_token = null, last_error = coalesce(last_error, 'not delivered in the retry window')
    where status = 'pending' and created_at < now() - ${retryMs} * interval '1 millisecond'
      and ${leaseIsFree()}`);
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

/** When the next delivery nobody holds falls due (ones held, by this replica or another, are not waited for). */
export async function nextDeliveryDue(db: Queryable): Promise<Date | undefined> {
  const result = await db.execute(sql`select min(next_at) as due from ${webhookDeliveries} where status = 'pending' and ${leaseIsFree()}`);
  const due = rowsOf<{ due: Date | string | null }>(result)[0]?.due;
  return due ? new Date(due) : undefined;
}

/** Forgets settled deliveries older than `keepMs` (the log keeps recent attempts, not history). */
export async function pruneDeliveries(db: Queryable, keepMs: number): Promise<void> {
  await db.execute(sql`
    delete from ${webhookDeliveries}
    where status <> 'pending' and created_at < now() - ${keepMs} * interval '1 millisecond'`);
}
