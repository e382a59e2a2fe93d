import { and, eq, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { maySeePresence } from '../../platform/policy/index.js';
import { attachmentRefs, attachments, users, type UserRow } from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

// Profiles and who sees them (docs/protocol.md §8 "Profiles and presence", "Presence"). Every lookup a request makes
// here is one round trip, so "not visible" and "does not exist" cost and look the same. (Ids
// are joined with NUL in keys: PostgreSQL text cannot hold one.)

export type Profile = Pick<UserRow, 'id' | 'name' | 'avatar'>;

/**
 * The user's profile if `viewerId` may see it: the user themself, or someone who shares a group
 * where each can see the other's membership (any ordinary or direct group; an announcement group
 * when one of the two is its admin) and whom the user has not blocked (a blocked user sees what a
 * stranger sees, docs/protocol.md §8 "Privacy and safety"). Undefined otherwise, exactly as for an
 * unknown id.
 */
export async function findVisibleProfile(db: Queryable, viewerId: string, userId: string): Promise<Profile | undefined> {
  const result: unknown = await db.execute(sql`
    select u.id, u.name, u.avatar from ${users} u
    where u.id = ${userId} and (u.id = ${viewerId} or (exists (
      select 1 from members m
      join members o on o.group_id = m.group_id and o.user_id = u.id
      join groups g on g.id = m.group_id
      where m.user_id = ${viewerId}
        and (g.kind <> 'announcement' or m.role in ('owner', 'admin') or o.role in ('owner', 'admin')))
      and not exists (select 1 from blocks b where b.blocker_id = u.id and b.blocked_id = ${viewerId})))`);
  return rowsOf<Profile>(result)[0];
}

/**
 * Who hears of a change to the user's profile: everyone the user's profile is visible to (as
 * findVisibleProfile), but the users they blocked.
 */
export async function profileAudience(db: Queryable, userId: string): Promise<string[]> {
  const result: unknown = await db.execute(sql`
    select distinct o.user_id as id from members m
    join groups g on g.id = m.group_id
    join members o on o.group_id = m.group_id and o.user_id <> m.user_id
    where m.user_id = ${userId}
      and (g.kind <> 'announcement' or m.role in ('owner', 'admin') or o.role in ('owner', 'admin'))
      and not exists (select 1 from blocks b where b.blocker_id = ${userId} and b.blocked_id = o.user_id)`);
  return rowsOf<{ id: string }>(result).map((r) => r.id);
}

/**
 * For each of `subjects` whose `lastSeen` setting is not `nobody`, the users who may see their
 * presence: members of an ordinary or direct group of at most `maxMembers` members they are both
 * in, neither having blocked the other. Never through announcement groups. `evenIfHidden` counts
 * `nobody` users too (to tell their viewers, once, that they are hidden now).
 */
export async function presenceAudience(
  db: Queryable,
  subjects: string[],
  maxMembers: number,
  options: { evenIfHidden?: boolean } = {},
): Promise<{ subject: string; viewer: string }[]> {
  if (subjects.length === 0) return [];
  // Three index-driven reads joined here rather than one statement: for one join of subjects,
  // groups and co-members PostgreSQL chose to scan every membership (a hash join, 50–400 ms under
  // load), and most subjects (members of announcement groups only) stop at the first read.
  const shown = options.evenIfHidden ? sql`` : sql`join users u on u.id = m.user_id and u.last_seen is distinct from 'nobody'`;
  const placed = rowsOf<{ subject: string; groupId: string }>(
    await db.execute(sql`
      select m.user_id as subject, m.group_id as "groupId" from members m
      ${shown}
      join groups g on g.id = m.group_id and g.kind <> 'announcement' and g.member_count <= ${maxMembers}
      where m.user_id = any(${sql.param(subjects)}::text[])`),
  );
  if (placed.length === 0) return [];
  const groupIds = [...new Set(placed.map((p) => p.groupId))];
  const placedSubjects = [...new Set(placed.map((p) => p.subject))];
  const members = rowsOf<{ groupId: string; userId: string }>(
    await db.execute(sql`
      select group_id as "groupId", user_id as "userId" from members where group_id = any(${sql.param(groupIds)}::text[])`),
  );
  const blocks = rowsOf<{ blocker: string; blocked: string }>(
    await db.execute(sql`
      select blocker_id as blocker, blocked_id as blocked from blocks
      where blocker_id = any(${sql.param(placedSubjects)}::text[]) or blocked_id = any(${sql.param(placedSubjects)}::text[])`),
  );
  const blocked = new Set(blocks.flatMap((b) => [`${b.blocker}\u0000${b.blocked}`, `${b.blocked}\u0000${b.blocker}`]));
  const byGroup = new Map<string, string[]>();
  for (const m of members) {
    const list = byGroup.get(m.groupId);
    if (list) list.push(m.userId);
    else byGroup.set(m.groupId, [m.userId]);
  }
  const pairs = new Map<string, { subject: string; viewer: string }>();
  for (const { subject, groupId } of placed) {
    for (const viewer of byGroup.get(groupId) ?? []) {
      const key = `${subject}\u0000${viewer}`;
      // Their lastSeen setting was the first read's to filter (or not, evenIfHidden).
      if (maySeePresence({ self: viewer === subject, blockedEitherWay: blocked.has(key) }) && !pairs.has(key))
        pairs.set(key, { subject, viewer });
    }
  }
  return [...pairs.values()];
}

/** The other members of a group whose presence `viewerId` may see there (the group's kind and size are the caller's to check). */
export async function presenceOfGroupMembers(db: Queryable, groupId: string, viewerId: string): Promise<string[]> {
  const result: unknown = await db.execute(sql`
    select m.user_id as id from members m
    join users u on u.id = m.user_id and u.last_seen is distinct from 'nobody'
    where m.group_id = ${groupId} and m.user_id <> ${viewerId}
      and not exists (select 1 from blocks b where (b.blocker_id = m.user_id and b.blocked_id = ${viewerId})
                                              or (b.blocker_id = ${viewerId} and b.blocked_id = m.user_id))`);
  return rowsOf<{ id: string }>(result).map((r) => r.id);
}

/**
 * Makes an image the caller uploaded their avatar (null: none): it is kept from the sweeper while
 * it is one; the avatar it replaces may be swept once no message refers to it. False when the id
 * names no image of theirs (or one being deleted).
 */
export async function setAvatar(tx: Tx, userId: string, attachmentId: string | null): Promise<boolean> {
  if (attachmentId !== null) {
    const [image] = await tx
      .select({ id: attachments.id })
      .from(attachments)
      .where(
        and(
          eq(attachments.id, attachmentId),
          eq(attachments.uploaderId, userId),
          eq(attachments.deleting, false),
          sql`${attachments.contentType} like 'image/%'`,
        ),
      )
      .for('update');
    if (!image) return false;
    await tx.update(attachments).set({ sweepAfter: null }).where(eq(attachments.id, attachmentId));
  }
  const [before] = await tx.select({ avatar: users.avatar }).from(users).where(eq(users.id, userId)).for('update');
  const previous = before?.avatar ?? null;
  await tx.update(users).set({ avatar: attachmentId }).where(eq(users.id, userId));
  if (previous !== null && previous !== attachmentId) {
    await tx
      .update(attachments)
      .set({ sweepAfter: sql`now()` })
      .where(
        and(eq(attachments.id, previous), sql`not exists (select 1 from ${attachmentRefs} r where r.attachment_id = ${attachments.id})`),
      );
  }
  return true;
}

/**
 * The user's current name at a session's start, creating the user on first sight. With an
 * external identity service (no local account), a `name` claim other than the last one taken
 * renames the user; `renamed` tells. A local account's name changes only through `PATCH /v1/me`.
 */
export async function startProfile(
  db: Queryable,
  user: { id: string; name: string; nameClaim?: string | undefined },
  /** The user as stored (`sessionStartsOf`, read by a batch), or undefined when unknown. */
  row: { name: string; claimedName: string | null; account: string | null } | undefined,
): Promise<{ name: string; renamed: boolean }> {
  if (!row) {
    await db
      .insert(users)
      .values({ id: user.id, name: user.name, claimedName: user.nameClaim ?? null })
      .onConflictDoNothing();
    const [created] = await db.select({ name: users.name }).from(users).where(eq(users.id, user.id)).limit(1);
    return { name: created?.name ?? user.name, renamed: false };
  }
  if (user.nameClaim === undefined || row.account !== null || row.claimedName === user.nameClaim) return { name: row.name, renamed: false };
  // Conditional on the claim still being the old one: two sessions starting together rename once.
  const renamed = await db
    .update(users)
    .set({ name: user.nameClaim, claimedName: user.nameClaim })
    .where(and(eq(users.id, user.id), sql`${users.claimedName} is not distinct from ${row.claimedName}`))
    .returning({ name: users.name });
  return renamed.length > 0 ? { name: user.nameClaim, renamed: user.nameClaim !== row.name } : { name: row.name, renamed: false };
}
