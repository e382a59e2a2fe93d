import { aliasedTable, and, desc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { blocks, groups, invitations, members, pushQueue, users, type UserRow } from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

// Who may reach whom (docs/protocol.md §8 "Privacy and safety"): privacy settings, blocks, visible sharing, invitations.

export type Audience = NonNullable<UserRow['groupAdd']>;

/** postgres.js answers an array of rows, PGlite an object with `rows`. */
export async function updateUser(
  db: Queryable,
  id: string,
  changes: Partial<Pick<UserRow, 'name' | 'avatar' | 'groupAdd' | 'lastSeen'>>,
): Promise<UserRow | undefined> {
  if (Object.keys(changes).length === 0) {
    const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
    return row;
  }
  const [row] = await db.update(users).set(changes).where(eq(users.id, id)).returning();
  return row;
}

/** The `groupAdd` setting of each of these users that exists (null: the server default). */
export async function findGroupAddSettings(db: Queryable, ids: string[]): Promise<Map<string, UserRow['groupAdd']>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select({ id: users.id, groupAdd: users.groupAdd }).from(users).where(inArray(users.id, ids));
  return new Map(rows.map((r) => [r.id, r.groupAdd]));
}

const other = aliasedTable(members, 'other');

/**
 * Of `others`, those who share with `userId` a group where each can see the other's membership:
 * any ordinary or direct group, or an announcement group when one of the two is its admin
 * (announcement rosters are private). One query for the whole list.
 */
export async function visiblySharing(db: Queryable, userId: string, others: string[]): Promise<Set<string>> {
  if (others.length === 0) return new Set();
  const admin = sql`('owner', 'admin')`;
  const rows = await db
    .selectDistinct({ id: other.userId })
    .from(members)
    .innerJoin(other, and(eq(other.groupId, members.groupId), sql`${other.userId} = any(${sql.param(others)}::text[])`))
    .innerJoin(groups, eq(groups.id, members.groupId))
    .where(
      and(
        eq(members.userId, userId),
        or(sql`${groups.kind} <> 'announcement'`, sql`${members.role} in ${admin}`, sql`${other.role} in ${admin}`),
      ),
    );
  return new Set(rows.map((r) => r.id));
}

// Blocks

export async function insertBlock(db: Queryable, blockerId: string, blockedId: string): Promise<void> {
  await db.insert(blocks).values({ blockerId, blockedId }).onConflictDoNothing();
}

export async function countBlocks(db: Queryable, blockerId: string): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(blocks).where(eq(blocks.blockerId, blockerId));
  return Number(row?.n ?? 0);
}

export async function deleteBlock(db: Queryable, blockerId: string, blockedId: string): Promise<void> {
  await db.delete(blocks).where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId)));
}

export async function listBlocks(db: Queryable, blockerId: string, limit: number) {
  return db
    .select({ userId: blocks.blockedId, createdAt: blocks.createdAt })
    .from(blocks)
    .where(eq(blocks.blockerId, blockerId))
    .orderBy(desc(blocks.createdAt))
    .limit(limit);
}

/** Of `others`, those who blocked `userId`. */
export async function blockersOf(db: Queryable, userId: string, others: string[]): Promise<Set<string>> {
  if (others.length === 0) return new Set();
  const rows = await db
    .select({ id: blocks.blockerId })
    .from(blocks)
    .where(and(eq(blocks.blockedId, userId), inArray(blocks.blockerId, others)));
  return new Set(rows.map((r) => r.id));
}

/** Whether either of the two blocked the other. */
export async function eitherBlocks(db: Queryable, a: string, b: string): Promise<boolean> {
  const rows = await db
    .select({ one: sql`1` })
    .from(blocks)
    .where(or(and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)), and(eq(blocks.blockerId, b), eq(blocks.blockedId, a))))
    .limit(1);
  return rows.length > 0;
}

/** Whether the other member of a direct group and `userId` block each other (either way). */
export async function directGroupBlocked(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  const rows = await db
    .select({ one: sql`1` })
    .from(members)
    .innerJoin(
      blocks,
      or(
        and(eq(blocks.blockerId, userId), eq(blocks.blockedId, members.userId)),
        and(eq(blocks.blockerId, members.userId), eq(blocks.blockedId, userId)),
      ),
    )
    .where(and(eq(members.groupId, groupId), sql`${members.userId} <> ${userId}`))
    .limit(1);
  return rows.length > 0;
}

// Invitations

/**
 * Invitations `inviterId` made to each of `userIds`, and to anyone, since `since` (declined ones
 * count). Two statements whatever `userIds` holds, none of them too: see inviteIn.
 */
export async function countRecentInvitations(db: Queryable, inviterId: string, userIds: string[], since: Date) {
  const perUser = await db
    .select({ userId: invitations.userId, n: sql<number>`count(*)::int` })
    .from(invitations)
    .where(
      and(
        eq(invitations.invitedBy, inviterId),
        sql`${invitations.userId} = any(${sql.param(userIds)}::text[])`,
        gt(invitations.createdAt, since),
      ),
    )
    .groupBy(invitations.userId);
  const [total] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(invitations)
    .where(and(eq(invitations.invitedBy, inviterId), gt(invitations.createdAt, since)));
  return { perUser: new Map(perUser.map((r) => [r.userId, Number(r.n)])), total: Number(total?.n ?? 0) };
}

/**
 * Inserts invitations to a group; returns who was newly invited (an existing or declined one
 * stays). One statement, for no users too (see inviteIn).
 */
export async function insertInvitations(tx: Tx, groupId: string, invitedBy: string, userIds: string[]): Promise<string[]> {
  const result = await tx.execute(sql`
    insert into ${invitations} (group_id, user_id, invited_by)
    select ${groupId}, u, ${invitedBy} from unnest(${sql.param(userIds)}::text[]) as u
    on conflict do nothing
    returning user_id`);
  return rowsOf<{ user_id: string }>(result).map((r) => r.user_id);
}

/** Takes a pending invitation (for accepting): who made it, or undefined when there is none. */
export async function takeInvitation(tx: Tx, groupId: string, userId: string): Promise<{ invitedBy: string } | undefined> {
  const [row] = await tx
    .delete(invitations)
    .where(and(eq(invitations.groupId, groupId), eq(invitations.userId, userId), isNull(invitations.declinedAt)))
    .returning({ invitedBy: invitations.invitedBy });
  return row;
}

/** Declines a pending invitation; false when there is none. */
export async function declineInvitation(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  const rows = await db
    .update(invitations)
    .set({ declinedAt: new Date() })
    .where(and(eq(invitations.groupId, groupId), eq(invitations.userId, userId), isNull(invitations.declinedAt)))
    .returning({ userId: invitations.userId });
  return rows.length > 0;
}

/** Drops the pending invitations `inviterId` made to `userId` (one of them blocked the other). */
export async function dropInvitationsFrom(db: Queryable, userId: string, inviterId: string): Promise<void> {
  await db
    .delete(invitations)
    .where(and(eq(invitations.userId, userId), eq(invitations.invitedBy, inviterId), isNull(invitations.declinedAt)));
}

/**
 * Forgets the user's pushes not yet sent whose newest message is `senderId`'s (the user blocked
 * them): a push waiting out its coalescing window would otherwise still show their text. One held
 * by a sender right now (a live lease) is left to it.
 */
export async function dropPendingPushesFrom(db: Queryable, userId: string, senderId: string): Promise<void> {
  await db.execute(sql`
    delete from ${pushQueue} where ${pushQueue.userId} = ${userId} and ${pushQueue.count} > 0
      and ${pushQueue.payload}->'sender'->>'id' = ${senderId}
      and (${pushQueue.leaseUntil} is null or ${pushQueue.leaseUntil} < now())`);
}

const inviter = aliasedTable(users, 'inviter');

/** A user's pending invitations, newest first, with the group and who invited. */
export async function listInvitations(db: Queryable, userId: string, limit: number) {
  return db
    .select({
      group: {
        id: groups.id,
        kind: groups.kind,
        name: groups.name,
        description: groups.description,
        communityId: groups.communityId,
        memberCount: groups.memberCount,
      },
      by: { id: invitations.invitedBy, name: sql<string>`coalesce(${inviter.name}, ${invitations.invitedBy})` },
      createdAt: invitations.createdAt,
    })
    .from(invitations)
    .innerJoin(groups, eq(groups.id, invitations.groupId))
    .leftJoin(inviter, eq(inviter.id, invitations.invitedBy))
    .where(and(eq(invitations.userId, userId), isNull(invitations.declinedAt)))
    .orderBy(desc(invitations.createdAt))
    .limit(limit);
}
