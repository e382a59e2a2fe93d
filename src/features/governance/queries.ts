import { and, asc, desc, eq, gt, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { bans, groups, invitations, joinRequests, members, mutes, reports, users, type ReportRow } from '../../platform/db/schema.js';

// Bans, mutes, reports and the admin lists they need (docs/protocol.md §8 "Privacy and safety").

// Bans

export async function isBanned(db: Queryable, communityId: string, userId: string): Promise<boolean> {
  const rows = await db
    .select({ userId: bans.userId })
    .from(bans)
    .where(and(eq(bans.communityId, communityId), eq(bans.userId, userId)))
    .limit(1);
  return rows.length > 0;
}

/** Of these users, those banned from the community, in one query. */
export async function bannedAmong(db: Queryable, communityId: string, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .select({ userId: bans.userId })
    .from(bans)
    .where(and(eq(bans.communityId, communityId), inArray(bans.userId, userIds)));
  return new Set(rows.map((r) => r.userId));
}

/** Bans (or re-bans with a new reason). */
export async function upsertBan(tx: Tx, ban: { communityId: string; userId: string; reason: string | null; bannedBy: string }) {
  await tx
    .insert(bans)
    .values(ban)
    .onConflictDoUpdate({ target: [bans.communityId, bans.userId], set: { reason: ban.reason, bannedBy: ban.bannedBy } });
}

export async function deleteBan(db: Queryable, communityId: string, userId: string): Promise<boolean> {
  const rows = await db
    .delete(bans)
    .where(and(eq(bans.communityId, communityId), eq(bans.userId, userId)))
    .returning({ userId: bans.userId });
  return rows.length > 0;
}

/** One page of the community's bans by user id, after `cursor`; the name when the user exists. */
export async function listBans(db: Queryable, communityId: string, cursor: string | undefined, limit: number) {
  const rows = await db
    .select({ userId: bans.userId, name: users.name, reason: bans.reason, bannedBy: bans.bannedBy, createdAt: bans.createdAt })
    .from(bans)
    .leftJoin(users, eq(users.id, bans.userId))
    .where(and(eq(bans.communityId, communityId), cursor ? gt(bans.userId, cursor) : undefined))
    .orderBy(asc(bans.userId))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), nextCursor: rows.length > limit ? rows[limit - 1]!.userId : null };
}

// Mutes

export async function upsertMute(db: Queryable, mute: { groupId: string; userId: string; until: Date; mutedBy: string }) {
  await db
    .insert(mutes)
    .values(mute)
    .onConflictDoUpdate({ target: [mutes.groupId, mutes.userId], set: { until: mute.until, mutedBy: mute.mutedBy } });
}

export async function deleteMute(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  const rows = await db
    .delete(mutes)
    .where(and(eq(mutes.groupId, groupId), eq(mutes.userId, userId)))
    .returning({ userId: mutes.userId });
  return rows.length > 0;
}

// Join requests of a community

/** Drops the users' pending requests to join the community or any of its groups. */
export async function deleteCommunityJoinRequests(
  tx: Tx,
  community: { id: string; announcementGroupId: string },
  userIds: string[],
): Promise<void> {
  if (userIds.length === 0) return;
  await tx
    .delete(joinRequests)
    .where(and(inArray(joinRequests.userId, userIds), inArray(joinRequests.groupId, communityGroupIds(tx, community))));
}

/**
 * Drops the users' pending invitations to the community and every group of it: a ban or a removal
 * must not be undone by an invitation made before it (docs/protocol.md §8 "Joining"). A declined
 * one stays: that group still may not invite them again.
 */
export async function deleteCommunityInvitations(
  tx: Tx,
  community: { id: string; announcementGroupId: string },
  userIds: string[],
): Promise<void> {
  if (userIds.length === 0) return;
  await tx
    .delete(invitations)
    .where(
      and(
        inArray(invitations.userId, userIds),
        isNull(invitations.declinedAt),
        inArray(invitations.groupId, communityGroupIds(tx, community)),
      ),
    );
}

/** The community's announcement group and ordinary groups, as a subquery. */
const communityGroupIds = (tx: Tx, community: { id: string; announcementGroupId: string }) =>
  tx
    .select({ id: groups.id })
    .from(groups)
    .where(or(eq(groups.id, community.announcementGroupId), and(eq(groups.communityId, community.id), eq(groups.kind, 'group'))));

/** The owner and admins of these groups (at most `limit`): who gets live admin frames. */
export async function listAdminIds(db: Queryable, groupIds: string[], limit = 1000): Promise<string[]> {
  if (groupIds.length === 0) return [];
  const rows = await db
    .selectDistinct({ userId: members.userId })
    .from(members)
    .where(and(inArray(members.groupId, groupIds), inArray(members.role, ['owner', 'admin'])))
    .limit(limit);
  return rows.map((r) => r.userId);
}

// Reports

export type NewReport = Pick<
  ReportRow,
  'id' | 'communityId' | 'groupId' | 'seq' | 'senderId' | 'reporterId' | 'reason' | 'note' | 'snapshot'
>;

/** Files the report; undefined when this reporter already reported this message. */
export async function insertReport(db: Queryable, report: NewReport): Promise<ReportRow | undefined> {
  const [row] = await db.insert(reports).values(report).onConflictDoNothing().returning();
  return row;
}

export async function findReport(db: Queryable, id: string): Promise<ReportRow | undefined> {
  const [row] = await db.select().from(reports).where(eq(reports.id, id)).limit(1);
  return row;
}

/**
 * One page of a queue, newest first, after `cursor` (a report's `n`): the reports of a community
 * or of a group, in one status, leaving out those about `viewerId`'s own messages.
 */
export async function listReports(
  db: Queryable,
  where: { communityId: string } | { groupId: string },
  status: 'open' | 'resolved',
  viewerId: string,
  cursor: number | undefined,
  limit: number,
) {
  const rows = await db
    .select()
    .from(reports)
    .where(
      and(
        'communityId' in where ? eq(reports.communityId, where.communityId) : eq(reports.groupId, where.groupId),
        eq(reports.status, status),
        ne(reports.senderId, viewerId),
        cursor === undefined ? undefined : lt(reports.n, cursor),
      ),
    )
    .orderBy(desc(reports.n))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), nextCursor: rows.length > limit ? rows[limit - 1]!.n : null };
}

/** Resolves every open report of one message with the action taken; returns them. */
export async function resolveReports(
  db: Queryable,
  groupId: string,
  seq: number,
  resolution: { action: NonNullable<ReportRow['action']>; resolvedBy: string },
): Promise<ReportRow[]> {
  return db
    .update(reports)
    .set({ status: 'resolved', action: resolution.action, resolvedBy: resolution.resolvedBy, resolvedAt: sql`now()` })
    .where(and(eq(reports.groupId, groupId), eq(reports.seq, seq), eq(reports.status, 'open')))
    .returning();
}

/** Names of these users, in one query. */
export async function userNames(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, unique));
  return new Map(rows.map((r) => [r.id, r.name]));
}
