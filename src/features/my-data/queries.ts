import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '../../platform/db/connect.js';
import { leaseRows } from '../../platform/jobs/lease.js';
import { dataExports, erasures } from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

// A member's own data (docs/protocol.md §2 "Your data: export and erasure"): the export rows, the
// erasures owed, and the paged reads of everything the member wrote or that is about them.

export type ExportRow = typeof dataExports.$inferSelect;

export async function findExport(db: Queryable, id: string, userId: string): Promise<ExportRow | undefined> {
  const [row] = await db
    .select()
    .from(dataExports)
    .where(and(eq(dataExports.id, id), eq(dataExports.userId, userId)));
  return row;
}

/** The member's exports asked for since `since`, and whether one is still pending. */
export async function recentExports(db: Queryable, userId: string, since: Date): Promise<{ count: number; oldest: Date | undefined }> {
  const result = await db.execute(sql`
    select count(*)::int as n, min(created_at) as oldest from ${dataExports}
    where user_id = ${userId} and created_at > ${since.toISOString()}`);
  const row = rowsOf<{ n: number; oldest: Date | string | null }>(result)[0];
  return { count: Number(row?.n ?? 0), oldest: row?.oldest ? new Date(row.oldest) : undefined };
}

/** A new pending export; undefined when the member already has one pending (the partial unique index). */
export async function insertExport(db: Queryable, id: string, userId: string): Promise<ExportRow | undefined> {
  const [row] = await db.insert(dataExports).values({ id, userId }).onConflictDoNothing().returning();
  return row;
}

/** Leases up to `limit` pending exports nobody is making (or whose maker died). */
export async function claimPendingExports(db: Queryable, token: string, leaseMs: number, limit: number) {
  const rows = await leaseRows<{ id: string; user_id: string }>(db, {
    table: dataExports,
    keys: ['id'],
    due: sql`status = 'pending'`,
    orderBy: sql`created_at`,
    limit,
    token,
    leaseMs,
    returning: ['id', 'user_id'],
  });
  return rows.map((r) => ({ id: r.id, userId: r.user_id }));
}

/** The export is ready, if this maker still holds it. */
export async function markExportReady(db: Queryable, id: string, token: string, size: number, ttlS: number): Promise<boolean> {
  const result = await db.execute(sql`
    update ${dataExports} set status = 'ready', size = ${size}, ready_at = now(),
      expires_at = now() + ${ttlS} * interval '1 second', lease_until = null, lease_token = null
    where id = ${id} and lease_token = ${token} and status = 'pending'
    returning id`);
  return rowsOf(result).length > 0;
}

/** Takes the one download: true when the export was ready (and is now `downloaded`). */
export async function takeDownload(db: Queryable, id: string, userId: string): Promise<boolean> {
  const result = await db.execute(sql`
    update ${dataExports} set status = 'downloaded', downloaded_at = now()
    where id = ${id} and user_id = ${userId} and status = 'ready' and expires_at > now()
    returning id`);
  return rowsOf(result).length > 0;
}

/** Exports whose archive is due for deleting (expired, ready or downloaded): claimed for `leaseMs`. */
export async function claimDueArchives(db: Queryable, token: string, leaseMs: number, limit: number) {
  const rows = await leaseRows<{ id: string }>(db, {
    table: dataExports,
    keys: ['id'],
    due: sql`status in ('ready', 'downloaded') and expires_at <= now()`,
    orderBy: sql`expires_at`,
    limit,
    token,
    leaseMs,
    returning: ['id'],
  });
  return rows.map((r) => r.id);
}

export async function markExpired(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.update(dataExports).set({ status: 'expired', leaseUntil: null, leaseToken: null }).where(inArray(dataExports.id, ids));
}

export async function exportsOf(db: Queryable, userId: string): Promise<string[]> {
  const rows = await db.select({ id: dataExports.id }).from(dataExports).where(eq(dataExports.userId, userId));
  return rows.map((r) => r.id);
}

export async function deleteExportsOf(db: Queryable, userId: string): Promise<void> {
  await db.delete(dataExports).where(eq(dataExports.userId, userId));
}

/** An erasure owed; inserting twice is one. */
export async function insertErasure(db: Queryable, userId: string): Promise<void> {
  await db.insert(erasures).values({ userId }).onConflictDoNothing();
}

export async function claimErasures(db: Queryable, token: string, leaseMs: number, limit: number): Promise<string[]> {
  const rows = await leaseRows<{ user_id: string }>(db, {
    table: erasures,
    keys: ['user_id'],
    orderBy: sql`created_at`,
    limit,
    token,
    leaseMs,
    returning: ['user_id'],
  });
  return rows.map((r) => r.user_id);
}

export async function finishErasure(db: Queryable, userId: string, token: string): Promise<void> {
  await db.delete(erasures).where(and(eq(erasures.userId, userId), eq(erasures.leaseToken, token)));
}

export async function erasureFailed(db: Queryable, userId: string): Promise<void> {
  // Retried once the lease runs out; attempts are counted for the log and the operator.
  await db.execute(sql`update ${erasures} set attempts = attempts + 1 where user_id = ${userId}`);
}

/**
 * One section of the export: a query of the member's rows, read a page at a time in the order
 * of its keys (aliased `k0`, `k1`… in `select`, which ends with its `where` clause).
 */
export interface ExportSection {
  /** Its key in data.json. */
  name: string;
  keys: string[];
  select: (userId: string) => SQL;
}

/** One page of a section: rows after `after` (the last row's keys), at most `limit`. */
export async function sectionPage(
  db: Queryable,
  section: ExportSection,
  userId: string,
  after: unknown[] | undefined,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const keys = sql.raw(section.keys.join(', '));
  const from = after
    ? sql` and (${keys}) > (${sql.join(
        after.map((v) => sql`${v}`),
        sql`, `,
      )})`
    : sql``;
  const result = await db.execute(sql`${section.select(userId)}${from} order by ${keys} limit ${limit}`);
  return rowsOf<Record<string, unknown>>(result);
}

/**
 * What an export holds, in order. Credentials are never in it: `account` says how the member signs
 * in (a password or not), never a hash; push subscriptions give their endpoint only.
 */
export const exportSections: ExportSection[] = [
  {
    name: 'profile',
    keys: ['id'],
    select: (u) => sql`select id, id as k0, name, avatar, group_add as "groupAdd", last_seen as "lastSeen", created_at as "createdAt"
      from users where id = ${u}`,
  },
  {
    name: 'account',
    keys: ['username'],
    select: (u) => sql`select username, username as k0, (password_hash is not null) as "hasPassword", created_at as "createdAt"
      from accounts where user_id = ${u}`,
  },
  {
    name: 'memberships',
    keys: ['m.group_id'],
    select: (u) => sql`select m.group_id as "groupId", m.group_id as k0, g.name as "groupName", g.kind, g.community_id as "communityId",
      c.name as "communityName", m.role, m.joined_at as "joinedAt", m.notify_level as "notifyLevel", m.mute_until as "muteUntil"
      from members m join groups g on g.id = m.group_id left join communities c on c.id = g.community_id
      where m.user_id = ${u}`,
  },
  {
    name: 'messages',
    keys: ['e.group_id', 'e.seq'],
    select: (u) => sql`select e.group_id as "groupId", e.group_id as k0, e.seq as k1, g.name as "groupName", e.seq, e.ts as "time",
      e.kind, e.text, e.target as "editOf", e.reply_to as "replyTo", e.edited_at as "editedAt", e.deleted, e.expired,
      e.data->'attachments' as attachments, e.data->'poll' as poll, e.data->'event' as event
      from events e join groups g on g.id = e.group_id
      where e.sender_id = ${u} and e.kind in ('message', 'edit')`,
  },
  {
    name: 'reactions',
    keys: ['r.group_id', 'r.message_seq'],
    select: (u) => sql`select r.group_id as "groupId", r.group_id as k0, r.message_seq as k1, g.name as "groupName",
      r.message_seq as "messageSeq", r.emoji
      from reactions r join groups g on g.id = r.group_id where r.user_id = ${u}`,
  },
  {
    name: 'pollVotes',
    keys: ['v.group_id', 'v.message_seq'],
    select: (u) => sql`select v.group_id as "groupId", v.group_id as k0, v.message_seq as k1, g.name as "groupName",
      v.message_seq as "messageSeq", v.options
      from poll_votes v join groups g on g.id = v.group_id where v.user_id = ${u}`,
  },
  {
    name: 'eventRsvps',
    keys: ['r.group_id', 'r.message_seq'],
    select: (u) => sql`select r.group_id as "groupId", r.group_id as k0, r.message_seq as k1, g.name as "groupName",
      r.message_seq as "messageSeq", r.answer
      from event_rsvps r join groups g on g.id = r.group_id where r.user_id = ${u}`,
  },
  {
    name: 'attachments',
    keys: ['id'],
    select: (u) => sql`select id, id as k0, name, content_type as "contentType", size, created_at as "createdAt"
      from attachments where uploader_id = ${u} and not deleting`,
  },
  {
    name: 'sessions',
    keys: ['id'],
    select: (u) => sql`select id, id as k0, method, device_name as "deviceName", created_at as "createdAt",
      last_seen_at as "lastSeenAt", expires_at as "expiresAt", revoked_at as "revokedAt"
      from sessions where user_id = ${u}`,
  },
  {
    name: 'passkeys',
    keys: ['id'],
    // The public key and counter are credentials of a kind: the name and dates say which device.
    select: (u) => sql`select id, id as k0, name, created_at as "createdAt", last_used_at as "lastUsedAt"
      from passkeys where user_id = ${u}`,
  },
  {
    name: 'phone',
    keys: ['user_id'],
    select: (u) => sql`select user_id as k0, phone, verified_at as "verifiedAt" from phones where user_id = ${u}`,
  },
  {
    name: 'blocks',
    keys: ['blocked_id'],
    select: (u) =>
      sql`select blocked_id as "blockedUserId", blocked_id as k0, created_at as "createdAt" from blocks where blocker_id = ${u}`,
  },
  {
    name: 'reports',
    keys: ['id'],
    select: (u) => sql`select id, id as k0, group_id as "groupId", seq, reason, note, status, created_at as "createdAt"
      from reports where reporter_id = ${u}`,
  },
  {
    name: 'pushSubscriptions',
    keys: ['id'],
    select: (u) => sql`select id, id as k0, endpoint, created_at as "createdAt" from push_subscriptions where user_id = ${u}`,
  },
];
