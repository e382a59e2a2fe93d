import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { leaseRows } from '../../platform/jobs/lease.js';
import type { NotifyLevel } from '../../platform/policy/index.js';
import { enqueueDeliveries } from '../webhooks/index.js';
import { webhookDeliveries, webhooks } from '../../platform/db/schema.js';
import type { OutboxBacklog } from '../../platform/obs/metrics.js';
import { transaction } from '../../platform/db/transaction.js';
import {
  blocks,
  groups,
  members,
  messageStats,
  notifyOutbox,
  pushQueue,
  pushSubscriptions,
  serverKeys,
  users,
  events,
} from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

// Notifications (docs/protocol.md §8 "Notifications"): preferences, push subscriptions, the outbox of owed
// notifications, the per-user push queue and reach counters.

export type { NotifyLevel };

/** Owes the messages' notifications, inside the transaction that stores them. */
export async function oweNotifications(tx: Tx, rows: readonly { groupId: string; seq: number }[]): Promise<void> {
  if (rows.length === 0) return;
  await tx
    .insert(notifyOutbox)
    .values(rows.map((r) => ({ groupId: r.groupId, seq: r.seq })))
    .onConflictDoNothing();
}

/** Sets the member's preference; false when not a member. */
export async function setNotifyPreference(db: Queryable, groupId: string, userId: string, level: NotifyLevel, muteUntil: Date | null) {
  const rows = await db
    .update(members)
    .set({ notifyLevel: level, muteUntil })
    .where(and(eq(members.groupId, groupId), eq(members.userId, userId)))
    .returning({ userId: members.userId });
  return rows.length > 0;
}

// Push subscriptions

export async function upsertPushSubscription(
  db: Queryable,
  sub: { id: string; userId: string; endpoint: string; p256dh: string; auth: string },
  maxPerUser: number,
): Promise<string> {
  return transaction(db, async (tx) => {
    // One endpoint is one browser profile: re-subscribing (or another account signing in there) takes it over.
    const [row] = await tx
      .insert(pushSubscriptions)
      .values(sub)
      .onConflictDoUpdate({
        target: pushSubscriptions.endpoint,
        set: { userId: sub.userId, p256dh: sub.p256dh, auth: sub.auth, createdAt: sql`now()` },
      })
      .returning({ id: pushSubscriptions.id });
    // Bounded work per push: a user keeps their newest `maxPerUser` devices.
    await tx.execute(sql`
      delete from ${pushSubscriptions} where ${pushSubscriptions.userId} = ${sub.userId} and ${pushSubscriptions.id} not in (
        select ${pushSubscriptions.id} from ${pushSubscriptions} where ${pushSubscriptions.userId} = ${sub.userId}
        order by ${pushSubscriptions.createdAt} desc limit ${maxPerUser})`);
    return row!.id;
  });
}

/** Deletes one of the user's subscriptions; false when it is not theirs (or gone). */
export async function deletePushSubscription(db: Queryable, userId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(pushSubscriptions)
    .where(and(eq(pushSubscriptions.id, id), eq(pushSubscriptions.userId, userId)))
    .returning({ id: pushSubscriptions.id });
  return rows.length > 0;
}

export async function deletePushSubscriptionById(db: Queryable, id: string): Promise<void> {
  await db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, id));
}

export async function subscriptionsOf(db: Queryable, userIds: string[]) {
  if (userIds.length === 0) return [];
  return db
    .select()
    .from(pushSubscriptions)
    .where(sql`${pushSubscriptions.userId} = any(${sql.param(userIds)}::text[])`)
    .orderBy(asc(pushSubscriptions.createdAt));
}

// The outbox

/** Leases up to `limit` owed messages nobody holds (or whose holder's lease ran out). */
export async function claimOutbox(db: Queryable, token: string, leaseMs: number, limit: number) {
  const rows = await leaseRows<{ group_id: string; seq: string | number }>(db, {
    table: notifyOutbox,
    keys: ['group_id', 'seq'],
    orderBy: sql`created_at`,
    limit,
    token,
    leaseMs,
    returning: ['group_id', 'seq'],
  });
  return rows.map((r) => ({ groupId: r.group_id, seq: Number(r.seq) }));
}

/**
 * Of the claimed messages, deletes (in one statement) those that owe nothing: not an
 * announcement (no reach counters), no member with a push subscription, no webhook in the
 * group's community. Returns what is left to fan out one by one. Most messages of a chat where
 * nobody subscribed end here, at one statement per batch.
 */
export async function dropNothingOwed(
  db: Queryable,
  token: string,
  claimed: { groupId: string; seq: number }[],
): Promise<{ groupId: string; seq: number }[]> {
  if (claimed.length === 0) return [];
  const keys = JSON.stringify(claimed.map((c) => ({ g: c.groupId, s: c.seq })));
  const result = await db.execute(sql`
    delete from ${notifyOutbox} o using ${groups} g, jsonb_to_recordset(${keys}::jsonb) as k(g text, s bigint)
    where o.group_id = k.g and o.seq = k.s and o.lease_token = ${token} and g.id = o.group_id
      and g.kind <> 'announcement'
      and not exists (select 1 from ${members} m join ${pushSubscriptions} s on s.user_id = m.user_id where m.group_id = o.group_id)
      and (g.community_id is null or not exists (select 1 from ${webhooks} w where w.community_id = g.community_id))
    returning o.group_id, o.seq`);
  const dropped = new Set(rowsOf<{ group_id: string; seq: string | number }>(result).map((r) => `${r.group_id}\u0000${Number(r.seq)}`));
  return claimed.filter((c) => !dropped.has(`${c.groupId}\u0000${c.seq}`));
}

/** What a notification of one message needs to know of it, its group and its sender. */
export async function notificationSource(db: Queryable, groupId: string, seq: number) {
  const [row] = await db
    .select({
      kind: events.kind,
      senderId: events.senderId,
      senderName: users.name,
      text: events.text,
      deleted: events.deleted,
      data: events.data,
      ts: events.ts,
      groupKind: groups.kind,
      groupName: groups.name,
      communityId: groups.communityId,
      memberCount: groups.memberCount,
    })
    .from(events)
    .innerJoin(groups, eq(groups.id, events.groupId))
    .leftJoin(users, eq(users.id, events.senderId))
    .where(and(eq(events.groupId, groupId), eq(events.seq, seq)))
    .limit(1);
  return row;
}

/**
 * Members whose preference lets this message notify them and who have a push subscription:
 * level `all`, or `mentions` and mentioned; not muted; never the sender, nor a member who blocked
 * the sender (a block hides them: docs/protocol.md §8 "Notifications"). The default level is
 * `all` for announcement and direct groups and groups up to `allMaxMembers`, `mentions` above.
 */
export async function pushCandidates(
  db: Queryable,
  input: { groupId: string; senderId: string; mentions: string[]; defaultLevel: NotifyLevel },
): Promise<string[]> {
  const result = await db.execute(sql`
    select m.user_id from ${members} m
    where m.group_id = ${input.groupId} and m.user_id <> ${input.senderId}
      and (m.mute_until is null or m.mute_until <= now())
      and (coalesce(m.notify_level, ${input.defaultLevel}) = 'all'
           or (coalesce(m.notify_level, ${input.defaultLevel}) = 'mentions' and m.user_id = any(${sql.param(input.mentions)}::text[])))
      and exists (select 1 from ${pushSubscriptions} s where s.user_id = m.user_id)
      and not exists (select 1 from ${blocks} b where b.blocker_id = m.user_id and b.blocked_id = ${input.senderId})`);
  return rowsOf<{ user_id: string }>(result).map((r) => r.user_id);
}

/**
 * Fans one message out to the users' push queue and deletes its outbox row, in one transaction,
 * only while this worker still holds the row's lease (else another replica took it over, and
 * this attempt changes nothing). A user with a push pending in the group gets its count raised
 * (coalescing); one pushed within `coalesceMs` waits for the window's end.
 */
export async function fanOutPushes(
  db: Queryable,
  input: {
    groupId: string;
    seq: number;
    token: string;
    /** Recipients in groups of the same payload and urgency (a mention differs from the rest). */
    batches: { userIds: string[]; urgent: boolean; payload: Record<string, unknown> }[];
    coalesceMs: number;
    /** For announcements: the reach counters' row, with the member count and the connected members now. */
    stats?: { members: number; delivered: number };
    /** Webhook deliveries this message owes. */
    deliveries?: Parameters<typeof enqueueDeliveries>[1];
  },
): Promise<boolean> {
  return transaction(db, async (tx) => {
    const owned = await tx
      .delete(notifyOutbox)
      .where(and(eq(notifyOutbox.groupId, input.groupId), eq(notifyOutbox.seq, input.seq), eq(notifyOutbox.leaseToken, input.token)))
      .returning({ seq: notifyOutbox.seq });
    if (owned.length === 0) return false;
    await enqueueDeliveries(tx, input.deliveries ?? []);
    if (input.stats) {
      const { members: memberCount, delivered } = input.stats;
      await tx
        .insert(messageStats)
        .values({ groupId: input.groupId, seq: input.seq, members: memberCount, delivered })
        .onConflictDoUpdate({ target: [messageStats.groupId, messageStats.seq], set: { members: memberCount, delivered } });
    }
    for (const batch of input.batches) {
      if (batch.userIds.length === 0) continue;
      await tx.execute(sql`
        insert into ${pushQueue} as q (user_id, group_id, count, last_seq, urgent, payload, due_at)
        select u, ${input.groupId}, 1, ${input.seq}, ${batch.urgent}, ${JSON.stringify(batch.payload)}::jsonb, now()
        from unnest(${sql.param(batch.userIds)}::text[]) as u
        on conflict (user_id, group_id) do update set
          count = q.count + 1,
          last_seq = greatest(q.last_seq, excluded.last_seq),
          urgent = (q.count > 0 and q.urgent) or excluded.urgent,
          payload = case when excluded.last_seq >= q.last_seq then excluded.payload else q.payload end,
          retry_subscriptions = null,
          due_at = case when q.count > 0 then q.due_at
                        else greatest(now(), coalesce(q.sent_at, now()) + ${input.coalesceMs} * interval '1 millisecond') end`);
    }
    return true;
  });
}

// The push queue

export interface ClaimedPush {
  userId: string;
  groupId: string;
  count: number;
  lastSeq: number;
  urgent: boolean;
  payload: Record<string, unknown>;
  attempts: number;
  retrySubscriptions: string[] | null;
}

/** Leases up to `limit` due pushes nobody holds. */
export async function claimPushes(db: Queryable, token: string, leaseMs: number, limit: number): Promise<ClaimedPush[]> {
  type Row = {
    user_id: string;
    group_id: string;
    count: number;
    last_seq: string | number;
    urgent: boolean;
    payload: Record<string, unknown> | string;
    attempts: number;
    retry_subscriptions: string[] | string | null;
  };
  const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
  const rows = await leaseRows<Row>(db, {
    table: pushQueue,
    keys: ['user_id', 'group_id'],
    due: sql`count > 0 and due_at <= now()`,
    orderBy: sql`due_at`,
    limit,
    token,
    leaseMs,
    returning: ['user_id', 'group_id', 'count', 'last_seq', 'urgent', 'payload', 'attempts', 'retry_subscriptions'],
  });
  return rows.map((r) => ({
    userId: r.user_id,
    groupId: r.group_id,
    count: Number(r.count),
    lastSeq: Number(r.last_seq),
    urgent: r.urgent,
    payload: json(r.payload),
    attempts: Number(r.attempts),
    retrySubscriptions: r.retry_subscriptions === null ? null : json(r.retry_subscriptions),
  }));
}

/**
 * Settles pushes this worker holds: `sent` ones lose the count they carried (messages that came
 * meanwhile stay owed, due after the coalescing window), and announcements' `notified` counters
 * go up once per user; `retry` ones wait until `dueAt` for the subscriptions still owed;
 * `dropped` ones (no subscription left, or out of attempts) are forgotten.
 */
export async function settlePushes(
  db: Queryable,
  token: string,
  coalesceMs: number,
  outcomes: {
    sent: { push: ClaimedPush; countsAsNotified: boolean }[];
    retry: { push: ClaimedPush; subscriptions: string[] | null; dueAt: Date }[];
    dropped: ClaimedPush[];
  },
  /** Pushes retried for some devices after reaching others: they count as notified now. */
  partlyNotified: ClaimedPush[] = [],
): Promise<{ g: string; s: number }[]> {
  if (outcomes.sent.length > 0) {
    const sent = JSON.stringify(outcomes.sent.map((s) => ({ u: s.push.userId, g: s.push.groupId, c: s.push.count })));
    await db.execute(sql`
      update ${pushQueue} q set count = greatest(q.count - s.c, 0), sent_at = now(), lease_until = null, lease_token = null,
        attempts = 0, retry_subscriptions = null, due_at = now() + ${coalesceMs} * interval '1 millisecond'
      from jsonb_to_recordset(${sent}::jsonb) as s(u text, g text, c int)
      where q.user_id = s.u and q.group_id = s.g and q.lease_token = ${token}`);
  }
  const notified = new Map<string, { g: string; s: number; n: number }>();
  for (const push of [...outcomes.sent.filter((s) => s.countsAsNotified).map((s) => s.push), ...partlyNotified]) {
    // Only announcements have a reach row (created at fan-out); counts for others change nothing.
    if (push.payload.kind !== 'announcement') continue;
    const key = `${push.groupId}\u0000${push.lastSeq}`;
    const entry = notified.get(key) ?? { g: push.groupId, s: push.lastSeq, n: 0 };
    entry.n++;
    notified.set(key, entry);
  }
  if (notified.size > 0) await addStats(db, 'notified', [...notified.values()]);
  for (const r of outcomes.retry) {
    await db
      .update(pushQueue)
      .set({
        leaseUntil: null,
        leaseToken: null,
        attempts: sql`${pushQueue.attempts} + 1`,
        retrySubscriptions: r.subscriptions,
        dueAt: r.dueAt,
      })
      .where(and(eq(pushQueue.userId, r.push.userId), eq(pushQueue.groupId, r.push.groupId), eq(pushQueue.leaseToken, token)));
  }
  if (outcomes.dropped.length > 0) {
    const dropped = JSON.stringify(outcomes.dropped.map((p) => ({ u: p.userId, g: p.groupId })));
    await db.execute(sql`
      delete from ${pushQueue} q using jsonb_to_recordset(${dropped}::jsonb) as s(u text, g text)
      where q.user_id = s.u and q.group_id = s.g and q.lease_token = ${token}`);
  }
  return [...notified.values()];
}

/** Forgets pushes sent longer ago than the coalescing window with nothing owed since. */
export async function prunePushQueue(db: Queryable, coalesceMs: number): Promise<void> {
  await db.execute(sql`
    delete from ${pushQueue} where count = 0 and due_at < now() - ${coalesceMs} * interval '1 millisecond'`);
}

/** When the next push falls due (for the worker's sleep), or undefined when none is owed. */
export async function nextPushDue(db: Queryable): Promise<Date | undefined> {
  const result = await db.execute(sql`select min(due_at) as due from ${pushQueue} where count > 0`);
  const due = rowsOf<{ due: Date | string | null }>(result)[0]?.due;
  return due ? new Date(due) : undefined;
}

// Reach counters

export type StatsCounter = 'delivered' | 'notified' | 'read';

/** Adds to one counter of several announcements' rows (created on first count). */
async function addStats(db: Queryable, counter: StatsCounter, adds: { g: string; s: number; n: number }[]): Promise<void> {
  if (adds.length === 0) return;
  const column = sql.identifier(counter);
  await db.execute(sql`
    insert into ${messageStats} as m (group_id, seq, ${column})
    select a.g, a.s, a.n from jsonb_to_recordset(${JSON.stringify(adds)}::jsonb) as a(g text, s bigint, n int)
    on conflict (group_id, seq) do update set ${column} = m.${column} + excluded.${column}`);
}

/**
 * A read marker moved from `from` to `to` in an announcement group: every message in between
 * (but the reader's own) was read once more. Rows are created when missing: a reader may be faster than the fan-out
 * that creates a message's row.
 */
async function addReads(db: Queryable, groupId: string, reader: string, from: number, to: number): Promise<{ seq: number }[]> {
  if (to <= from) return [];
  const result = await db.execute(sql`
    insert into ${messageStats} as m (group_id, seq, read)
    select group_id, seq, 1 from ${events}
    where group_id = ${groupId} and seq > ${from} and seq <= ${to} and kind = 'message' and sender_id <> ${reader}
    on conflict (group_id, seq) do update set read = m.read + 1
    returning seq`);
  return rowsOf<{ seq: string | number }>(result).map((r) => ({ seq: Number(r.seq) }));
}

export async function findStats(db: Queryable, groupId: string, seq: number) {
  const [row] = await statsOf(db, groupId, [seq]);
  return row;
}

/** The reach counters of these messages of one group; messages without counters are left out. */
export function statsOf(db: Queryable, groupId: string, seqs: number[]) {
  return db
    .select()
    .from(messageStats)
    .where(and(eq(messageStats.groupId, groupId), inArray(messageStats.seq, seqs)));
}

// Server keys

/** Stores `value` under `name` unless one is there, and returns the one stored (replicas agree). */
export async function ensureServerKey(db: Queryable, name: string, value: Record<string, string>): Promise<Record<string, string>> {
  await db.insert(serverKeys).values({ name, value }).onConflictDoNothing();
  const [row] = await db.select().from(serverKeys).where(eq(serverKeys.name, name)).limit(1);
  return row!.value;
}

/** The group's owners and admins (few), who see its reach. */
export async function groupAdmins(db: Queryable, groupId: string): Promise<string[]> {
  const rows = await db
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.groupId, groupId), sql`${members.role} in ('owner', 'admin')`));
  return rows.map((r) => r.userId);
}

/** Every member of the group but one (for who received an announcement). */
export async function memberIdsExcept(db: Queryable, groupId: string, except: string): Promise<string[]> {
  const rows = await db
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.groupId, groupId), sql`${members.userId} <> ${except}`));
  return rows.map((r) => r.userId);
}

/**
 * Moves a member's read marker in an announcement group and counts, in the same transaction
 * (the member row locked, so concurrent reads of one user count once), every counted
 * announcement it passed as read once more.
 */
export async function advanceReadCounting(tx: Tx, groupId: string, userId: string, seq: number) {
  const [old] = await tx
    .select({ readSeq: members.readSeq })
    .from(members)
    .where(and(eq(members.groupId, groupId), eq(members.userId, userId)))
    .for('update');
  if (!old) return undefined;
  const [row] = await tx
    .update(members)
    .set({
      readSeq: sql`greatest(${members.readSeq}, least(${seq}, (select ${groups.lastSeq} from ${groups} where ${groups.id} = ${groupId})))`,
    })
    .where(and(eq(members.groupId, groupId), eq(members.userId, userId)))
    .returning({ readSeq: members.readSeq });
  const now = Number(row!.readSeq);
  const counted = await addReads(tx, groupId, userId, Number(old.readSeq), now);
  return { seq: now, counted: counted.map((c) => Number(c.seq)) };
}

/** What is owed and not yet done, for the outbox backlog metric (read at each scrape). */
export async function outboxBacklog(db: Queryable): Promise<OutboxBacklog> {
  const [row] = rowsOf<OutboxBacklog>(
    await db.execute(sql`
      select (select count(*) from ${notifyOutbox})::int as notifications,
        (select count(*) from ${pushQueue} where ${pushQueue.count} > 0)::int as pushes,
        (select count(*) from ${webhookDeliveries} where ${webhookDeliveries.status} = 'pending')::int as webhooks`),
  );
  return row ?? { notifications: 0, pushes: 0, webhooks: 0 };
}
