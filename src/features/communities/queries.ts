import { aliasedTable, and, asc, eq, gt, ilike, isNotNull, isNull, ne, notExists, or, sql } from 'drizzle-orm';
import { listMembers } from '../groups/index.js';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { communities, events, groups, invites, joinRequests, members, users, type CommunityRow } from '../../platform/db/schema.js';

/** The communities a user belongs to: those whose announcement group has them as a member. */
export async function insertCommunity(
  tx: Tx,
  row: Pick<CommunityRow, 'id' | 'name' | 'description' | 'announcementGroupId' | 'createdBy'>,
) {
  const [inserted] = await tx.insert(communities).values(row).returning();
  return inserted!;
}

/** A community with what its view needs of the announcement group (settings, member count). */
export async function findCommunity(db: Queryable, id: string) {
  const [row] = await db
    .select({
      id: communities.id,
      name: communities.name,
      description: communities.description,
      announcementGroupId: communities.announcementGroupId,
      settings: groups.settings,
      memberCount: groups.memberCount,
      createdAt: communities.createdAt,
    })
    .from(communities)
    .innerJoin(groups, eq(groups.id, communities.announcementGroupId))
    .where(eq(communities.id, id))
    .limit(1);
  return row;
}
export type CommunityWithAnnouncement = NonNullable<Awaited<ReturnType<typeof findCommunity>>>;

export async function updateCommunity(tx: Tx, id: string, changes: { name?: string | undefined; description?: string | undefined }) {
  const set = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  if (Object.keys(set).length > 0) await tx.update(communities).set(set).where(eq(communities.id, id));
}

export async function deleteCommunityRow(tx: Tx, id: string) {
  await tx.delete(communities).where(eq(communities.id, id));
}

/** Ordinary groups of the community (the announcement group is not counted). */
export async function countCommunityGroups(db: Queryable, communityId: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(groups)
    .where(and(eq(groups.communityId, communityId), eq(groups.kind, 'group')));
  return Number(row?.count ?? 0);
}

/**
 * One page of the community's groups that the user may see: those they are in, and those open
 * to join or to ask to join. Ordered by group id, after `cursor`.
 */
export async function listCommunityGroups(db: Queryable, communityId: string, userId: string, cursor: string | undefined, limit: number) {
  const rows = await db
    .select({
      id: groups.id,
      kind: groups.kind,
      name: groups.name,
      description: groups.description,
      communityId: groups.communityId,
      settings: groups.settings,
      memberCount: groups.memberCount,
      lastSeq: groups.lastSeq,
      role: members.role,
      readSeq: members.readSeq,
    })
    .from(groups)
    .leftJoin(members, and(eq(members.groupId, groups.id), eq(members.userId, userId)))
    .where(
      and(
        eq(groups.communityId, communityId),
        eq(groups.kind, 'group'),
        cursor ? gt(groups.id, cursor) : undefined,
        or(isNotNull(members.userId), sql`${groups.settings}->>'open' = 'true'`, sql`${groups.settings}->>'approvalRequired' = 'true'`),
      ),
    )
    .orderBy(asc(groups.id))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), nextCursor: rows.length > limit ? rows[limit - 1]!.id : null };
}

/** The ids of the community's ordinary groups the user is in (a user is in few groups). */
export async function userCommunityGroupIds(db: Queryable, communityId: string, userId: string): Promise<string[]> {
  const rows = await db
    .select({ id: groups.id })
    .from(members)
    .innerJoin(groups, eq(groups.id, members.groupId))
    .where(and(eq(members.userId, userId), eq(groups.communityId, communityId), eq(groups.kind, 'group')))
    .orderBy(asc(groups.id));
  return rows.map((r) => r.id);
}

/** Every ordinary group of the community is detached from it; returns their ids. */
export async function detachCommunityGroups(tx: Tx, communityId: string): Promise<string[]> {
  const rows = await tx
    .update(groups)
    .set({ communityId: null })
    .where(and(eq(groups.communityId, communityId), eq(groups.kind, 'group')))
    .returning({ id: groups.id });
  return rows.map((r) => r.id);
}

const other = aliasedTable(members, 'other');
const otherGroup = aliasedTable(groups, 'other_group');
const announcementRole = aliasedTable(members, 'announcement_role');

/**
 * One page (by user id) of the members of `groupId` who are plain members of the community and
 * in none of its other groups: those who leave the community when the group is unlinked.
 */
export async function membersOnlyThrough(
  db: Queryable,
  groupId: string,
  community: { id: string; announcementGroupId: string },
  cursor: string | undefined,
  limit: number,
) {
  const rows = await db
    .select({ userId: members.userId })
    .from(members)
    .innerJoin(
      announcementRole,
      and(eq(announcementRole.groupId, community.announcementGroupId), eq(announcementRole.userId, members.userId)),
    )
    .where(
      and(
        eq(members.groupId, groupId),
        cursor ? gt(members.userId, cursor) : undefined,
        eq(announcementRole.role, 'member'),
        notExists(
          db
            .select({ one: sql`1` })
            .from(other)
            .innerJoin(otherGroup, eq(otherGroup.id, other.groupId))
            .where(
              and(
                eq(other.userId, members.userId),
                ne(other.groupId, groupId),
                eq(otherGroup.communityId, community.id),
                eq(otherGroup.kind, 'group'),
              ),
            ),
        ),
      ),
    )
    .orderBy(asc(members.userId))
    .limit(limit + 1);
  return { userIds: rows.slice(0, limit).map((r) => r.userId), nextCursor: rows.length > limit ? rows[limit - 1]!.userId : null };
}

/**
 * One page of a group's members with their names (never usernames), by user id. The page is
 * read from the members index first and the names looked up for it alone: a join lets the
 * planner merge-scan users from the start up to the cursor.
 */
/**
 * One page of a group's members with names; with `nameContains` (3 characters or more, so the
 * users_name_trgm index can find the names), only those whose display name contains it, any case.
 */
export async function listMembersWithNames(
  db: Queryable,
  groupId: string,
  cursor: string | undefined,
  limit: number,
  nameContains?: string,
) {
  if (nameContains === undefined) return listMembers(db, groupId, cursor, limit);
  const rows = await db
    .select({ userId: members.userId, role: members.role, joinedAt: members.joinedAt, name: users.name })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(
      and(
        eq(members.groupId, groupId),
        ilike(users.name, `%${nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`),
        cursor ? gt(members.userId, cursor) : undefined,
      ),
    )
    .orderBy(asc(members.userId))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), nextCursor: rows.length > limit ? rows[limit - 1]!.userId : null };
}

/**
 * Every ordinary group of the community, private ones included, with the caller's role (null when
 * not in it) and the time of its last event: what the community's admins oversee.
 */
export async function listAllCommunityGroups(
  db: Queryable,
  communityId: string,
  userId: string,
  cursor: string | undefined,
  limit: number,
) {
  const rows = await db
    .select({
      id: groups.id,
      name: groups.name,
      description: groups.description,
      settings: groups.settings,
      memberCount: groups.memberCount,
      lastSeq: groups.lastSeq,
      role: members.role,
      lastActivityAt: events.ts,
    })
    .from(groups)
    .leftJoin(members, and(eq(members.groupId, groups.id), eq(members.userId, userId)))
    .leftJoin(events, and(eq(events.groupId, groups.id), eq(events.seq, groups.lastSeq)))
    .where(and(eq(groups.communityId, communityId), eq(groups.kind, 'group'), cursor ? gt(groups.id, cursor) : undefined))
    .orderBy(asc(groups.id))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), nextCursor: rows.length > limit ? rows[limit - 1]!.id : null };
}

// Invites

export async function insertInvite(
  db: Queryable,
  invite: { code: string; communityId: string; groupId: string | null; createdBy: string; expiresAt: Date | null; maxUses: number | null },
) {
  const [row] = await db.insert(invites).values(invite).returning();
  return row!;
}

export async function findInvite(db: Queryable, code: string) {
  const [row] = await db.select().from(invites).where(eq(invites.code, code)).limit(1);
  return row;
}

/**
 * Takes one use of a working code, atomically: the row lock makes concurrent joins queue, so
 * `uses` never passes `maxUses`. Undefined when the code is revoked, expired or used up, or,
 * with `limitedOnly`, has no use limit.
 */
export async function consumeInvite(tx: Queryable, code: string, options: { limitedOnly?: boolean } = {}) {
  const [row] = await tx
    .update(invites)
    .set({ uses: sql`${invites.uses} + 1` })
    .where(
      and(
        eq(invites.code, code),
        options.limitedOnly ? isNotNull(invites.maxUses) : undefined,
        isNull(invites.revokedAt),
        or(isNull(invites.expiresAt), sql`${invites.expiresAt} > now()`),
        or(isNull(invites.maxUses), sql`${invites.uses} < ${invites.maxUses}`),
      ),
    )
    .returning();
  return row;
}

/** Revokes a code of the community; false when there is no such working code. */
export async function revokeInvite(db: Queryable, communityId: string, code: string): Promise<boolean> {
  const rows = await db
    .update(invites)
    .set({ revokedAt: new Date() })
    .where(and(eq(invites.code, code), eq(invites.communityId, communityId), isNull(invites.revokedAt)))
    .returning({ code: invites.code });
  return rows.length > 0;
}

// Join requests

/** Files a pending request; false when one is already pending. */
export async function insertJoinRequest(db: Queryable, groupId: string, userId: string, inviteCode: string | null) {
  const rows = await db
    .insert(joinRequests)
    .values({ groupId, userId, inviteCode })
    .onConflictDoNothing()
    .returning({ userId: joinRequests.userId });
  return rows.length > 0;
}

export async function deleteJoinRequest(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  const rows = await db
    .delete(joinRequests)
    .where(and(eq(joinRequests.groupId, groupId), eq(joinRequests.userId, userId)))
    .returning({ userId: joinRequests.userId });
  return rows.length > 0;
}

/**
 * One page of pending requests to join the community (its announcement group) or any of its
 * groups, ordered by (group id, user id) after `cursor`.
 */
export async function listJoinRequests(
  db: Queryable,
  community: { id: string; announcementGroupId: string },
  cursor: { groupId: string; userId: string } | undefined,
  limit: number,
) {
  const rows = await db
    .select({ groupId: joinRequests.groupId, userId: joinRequests.userId, name: users.name, createdAt: joinRequests.createdAt })
    .from(joinRequests)
    .innerJoin(groups, eq(groups.id, joinRequests.groupId))
    .innerJoin(users, eq(users.id, joinRequests.userId))
    .where(
      and(
        or(eq(groups.id, community.announcementGroupId), and(eq(groups.communityId, community.id), eq(groups.kind, 'group'))),
        cursor ? sql`(${joinRequests.groupId}, ${joinRequests.userId}) > (${cursor.groupId}, ${cursor.userId})` : undefined,
      ),
    )
    .orderBy(asc(joinRequests.groupId), asc(joinRequests.userId))
    .limit(limit + 1);
  const last = rows.length > limit ? rows[limit - 1]! : undefined;
  return { rows: rows.slice(0, limit), next: last ? { groupId: last.groupId, userId: last.userId } : null };
}
