import { and, asc, eq, gt, gte, inArray, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { groups, joinRequests, members, mutes, users, type GroupRow, type Role } from '../../platform/db/schema.js';

export type NewGroup = Pick<GroupRow, 'id' | 'kind' | 'name' | 'description' | 'communityId' | 'settings' | 'createdBy'> & {
  directKey?: string | null;
};

export async function insertGroup(tx: Tx, group: NewGroup): Promise<GroupRow> {
  const [row] = await tx.insert(groups).values(group).returning();
  return row!;
}

export async function findGroup(db: Queryable, id: string): Promise<GroupRow | undefined> {
  const [row] = await db.select().from(groups).where(eq(groups.id, id)).limit(1);
  return row;
}

export async function findDirectGroup(db: Queryable, directKey: string): Promise<GroupRow | undefined> {
  const [row] = await db.select().from(groups).where(eq(groups.directKey, directKey)).limit(1);
  return row;
}

export async function updateGroup(
  tx: Tx,
  id: string,
  changes: Partial<Pick<GroupRow, 'name' | 'description' | 'settings' | 'communityId'>>,
): Promise<GroupRow | undefined> {
  const [row] = await tx.update(groups).set(changes).where(eq(groups.id, id)).returning();
  return row;
}

/** What authorization needs of a membership and its group (here and in hot-reads.ts's prepared twin). */
export const membershipColumns = {
  role: members.role,
  readSeq: members.readSeq,
  kind: groups.kind,
  communityId: groups.communityId,
  settings: groups.settings,
  lastSeq: groups.lastSeq,
  /** Until when the member may not send, react or type (a past time or null: not muted). */
  mutedUntil: mutes.until,
};

/** The caller's membership with what authorization needs of the group, or undefined. */
export async function findMembership(db: Queryable, groupId: string, userId: string) {
  const [row] = await db
    .select(membershipColumns)
    .from(members)
    .innerJoin(groups, eq(groups.id, members.groupId))
    .leftJoin(mutes, and(eq(mutes.groupId, members.groupId), eq(mutes.userId, members.userId)))
    .where(and(eq(members.groupId, groupId), eq(members.userId, userId)))
    .limit(1);
  return row;
}
export type Membership = NonNullable<Awaited<ReturnType<typeof findMembership>>>;

/** Of these groups, those the user is in, with where each log ends: one query for a whole `sync`. */
export async function findMemberLastSeqs(db: Queryable, userId: string, groupIds: string[]): Promise<{ id: string; lastSeq: number }[]> {
  if (groupIds.length === 0) return [];
  return (
    db
      .select({ id: groups.id, lastSeq: groups.lastSeq })
      .from(members)
      .innerJoin(groups, eq(groups.id, members.groupId))
      // One array parameter, not one per id: 1000 ids bind and plan several times faster.
      .where(and(eq(members.userId, userId), sql`${members.groupId} = any(${sql.param(groupIds)}::text[])`))
  );
}

export const summaryColumns = {
  id: groups.id,
  kind: groups.kind,
  name: groups.name,
  communityId: groups.communityId,
  role: members.role,
  lastSeq: groups.lastSeq,
  readSeq: members.readSeq,
  memberCount: groups.memberCount,
  notifyLevel: members.notifyLevel,
  muteUntil: members.muteUntil,
  pins: groups.pins,
};

export async function groupSummary(db: Queryable, groupId: string, userId: string) {
  const [row] = await db
    .select(summaryColumns)
    .from(members)
    .innerJoin(groups, eq(groups.id, members.groupId))
    .where(and(eq(members.groupId, groupId), eq(members.userId, userId)))
    .limit(1);
  return row;
}

/** Adds a member (no-op when present); true when added. Keeps groups.member_count exact. */
export async function insertMember(tx: Tx, groupId: string, userId: string, role: Role): Promise<boolean> {
  const added = await tx.insert(members).values({ groupId, userId, role }).onConflictDoNothing().returning({ userId: members.userId });
  if (added.length === 0) return false;
  await tx
    .update(groups)
    .set({ memberCount: sql`${groups.memberCount} + 1` })
    .where(eq(groups.id, groupId));
  return true;
}

export async function setMemberRole(tx: Tx, groupId: string, userId: string, role: Role): Promise<boolean> {
  const rows = await tx
    .update(members)
    .set({ role })
    .where(and(eq(members.groupId, groupId), eq(members.userId, userId)))
    .returning({ userId: members.userId });
  return rows.length > 0;
}

/** Moves the read marker forward only, never past the log's end; returns the marker. */
export async function advanceReadSeq(db: Queryable, groupId: string, userId: string, seq: number) {
  const [row] = await db
    .update(members)
    .set({
      readSeq: sql`greatest(${members.readSeq}, least(${seq}, (select ${groups.lastSeq} from ${groups} where ${groups.id} = ${groupId})))`,
    })
    .where(and(eq(members.groupId, groupId), eq(members.userId, userId)))
    .returning({ readSeq: members.readSeq });
  return row ? Number(row.readSeq) : undefined;
}

export async function countReaders(db: Queryable, groupId: string, seq: number) {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(members)
    .where(and(eq(members.groupId, groupId), gte(members.readSeq, seq)));
  return Number(row?.count ?? 0);
}

/** One page of a group's members ordered by user id, after `cursor` (a user id). */
export async function listMembers(db: Queryable, groupId: string, cursor: string | undefined, limit: number) {
  const rows = await db
    .select({ userId: members.userId, role: members.role, joinedAt: members.joinedAt, name: users.name })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(and(eq(members.groupId, groupId), cursor ? gt(members.userId, cursor) : undefined))
    .orderBy(asc(members.userId))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), nextCursor: rows.length > limit ? rows[limit - 1]!.userId : null };
}

/** Adds the users who are not yet members, in one statement; returns who was added, in the order given. */
export async function insertMembers(tx: Tx, groupId: string, userIds: string[], role: Role): Promise<string[]> {
  if (userIds.length === 0) return [];
  const added = await tx
    .insert(members)
    .values(userIds.map((userId) => ({ groupId, userId, role })))
    .onConflictDoNothing()
    .returning({ userId: members.userId });
  if (added.length > 0) {
    await tx
      .update(groups)
      .set({ memberCount: sql`${groups.memberCount} + ${added.length}` })
      .where(eq(groups.id, groupId));
  }
  const addedIds = new Set(added.map((r) => r.userId));
  return userIds.filter((id) => addedIds.delete(id));
}

/** Removes those of the users who are members, in one statement; returns who was removed, with roles. */
export async function deleteMembers(tx: Tx, groupId: string, userIds: string[]) {
  if (userIds.length === 0) return [];
  const removed = await tx
    .delete(members)
    .where(and(eq(members.groupId, groupId), inArray(members.userId, userIds)))
    .returning({ userId: members.userId, role: members.role });
  if (removed.length > 0) {
    await tx
      .update(groups)
      .set({ memberCount: sql`${groups.memberCount} - ${removed.length}` })
      .where(eq(groups.id, groupId));
  }
  return removed;
}

/** Closes a group to everyone at once (a deleted community's announcement group); its log stays. */
export async function closeGroup(tx: Tx, groupId: string) {
  await tx.delete(members).where(eq(members.groupId, groupId));
  await tx.delete(joinRequests).where(eq(joinRequests.groupId, groupId));
  await tx.update(groups).set({ memberCount: 0 }).where(eq(groups.id, groupId));
}

/** A group's owner and admins (at most `limit`): who hears of a private roster's changes. */
export async function listAdminIds(db: Queryable, groupId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.groupId, groupId), sql`${members.role} <> 'member'`))
    .limit(limit);
  return rows.map((r) => r.userId);
}

/** The names of these users, by id (a missing user is named by its id). */
export async function userNames(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, ids));
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** Of these users, those who are members of the group. */
export async function memberIdsOf(db: Queryable, groupId: string, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.groupId, groupId), inArray(members.userId, userIds)));
  return new Set(rows.map((r) => r.userId));
}

/** Of these groups, those whose roster is private (announcement groups: no log event says who leaves). */
export async function privateRosterGroupIds(db: Queryable, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: groups.id })
    .from(groups)
    .where(and(inArray(groups.id, ids), eq(groups.kind, 'announcement')));
  return new Set(rows.map((row) => row.id));
}
