import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { type AttachmentRow, attachmentRefs, attachments, blocks, events, members, users } from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

export type NewAttachment = Omit<AttachmentRow, 'createdAt' | 'sweepAfter' | 'deleting'>;

/** How long an upload no message refers to is kept. */
const UNATTACHED_TTL_S = 24 * 3600;
/** A sweeper's claim older than this was lost (its process died): another may take it. */
const CLAIM_TTL_S = 600;

/**
 * Stores an upload's row unless it would take the uploader past `quotaBytes`; false then. The
 * uploader's user row is locked, so two uploads of one user cannot both slip under the quota.
 */
export async function insertAttachmentWithinQuota(tx: Tx, row: NewAttachment, quotaBytes: number): Promise<boolean> {
  await tx.select({ id: users.id }).from(users).where(eq(users.id, row.uploaderId)).for('update');
  const [used] = await tx
    .select({ bytes: sql<string>`coalesce(sum(${attachments.size}), 0)` })
    .from(attachments)
    .where(eq(attachments.uploaderId, row.uploaderId));
  if (Number(used?.bytes ?? 0) + row.size > quotaBytes) return false;
  await tx.insert(attachments).values({ ...row, sweepAfter: sql`now() + make_interval(secs => ${UNATTACHED_TTL_S})` });
  return true;
}

/** Bytes the user's uploads take now (what counts against UPLOAD_QUOTA_BYTES). */
export async function usedBytes(db: Queryable, userId: string): Promise<number> {
  const [used] = await db
    .select({ bytes: sql<string>`coalesce(sum(${attachments.size}), 0)` })
    .from(attachments)
    .where(eq(attachments.uploaderId, userId));
  return Number(used?.bytes ?? 0);
}

/**
 * The attachment if `userId` may read it at `now`: its uploader (unless every message that
 * carried it has expired), a member of a group where a live message refers to it, or anyone who
 * may see the profile whose avatar it is (a shared group where each sees the other's membership,
 * and the owner has not blocked them, as `GET /v1/users/:id`). A message past its `expiresAt` counts as gone before the sweeper erases
 * it (docs/protocol.md §8). One query, so "exists but not yours" and "does not exist" look the same.
 */
export async function findReadableAttachment(db: Queryable, id: string, userId: string, now: Date): Promise<AttachmentRow | undefined> {
  const liveMessage = sql`e.group_id = r.group_id and e.seq = r.seq and not e.deleted and not e.expired
    and (e.expires_at is null or e.expires_at > ${now.toISOString()}::timestamptz)`;
  const [row] = await db
    .select()
    .from(attachments)
    .where(
      and(
        eq(attachments.id, id),
        eq(attachments.deleting, false),
        sql`((${attachments.uploaderId} = ${userId} and (
            not exists (select 1 from ${attachmentRefs} r where r.attachment_id = ${attachments.id})
            or exists (select 1 from ${attachmentRefs} r join ${events} e on ${liveMessage} where r.attachment_id = ${attachments.id})))
        or exists (
          select 1 from ${attachmentRefs} r join ${members} m on m.group_id = r.group_id and m.user_id = ${userId}
          join ${events} e on ${liveMessage}
          where r.attachment_id = ${attachments.id})
        or exists (
          select 1 from ${users} u
          join ${members} o on o.user_id = u.id
          join ${members} m on m.group_id = o.group_id and m.user_id = ${userId}
          join groups g on g.id = o.group_id
          where u.avatar = ${attachments.id}
            and (g.kind <> 'announcement' or m.role in ('owner', 'admin') or o.role in ('owner', 'admin'))
            and not exists (select 1 from ${blocks} b where b.blocker_id = u.id and b.blocked_id = ${userId})))`,
      ),
    )
    .limit(1);
  return row;
}

/**
 * Locks the caller's own attachments among `ids` for attaching them to a message (a sweeper
 * skips locked rows) and keeps them from expiring; returns those found, in no order.
 */
export async function claimOwnAttachments(tx: Tx, ids: string[], userId: string): Promise<AttachmentRow[]> {
  if (ids.length === 0) return [];
  const rows = await tx
    .select()
    .from(attachments)
    .where(and(inArray(attachments.id, ids), eq(attachments.uploaderId, userId), eq(attachments.deleting, false)))
    .for('update');
  if (rows.length > 0) {
    await tx
      .update(attachments)
      .set({ sweepAfter: null })
      .where(
        inArray(
          attachments.id,
          rows.map((r) => r.id),
        ),
      );
  }
  return rows;
}

export async function insertAttachmentRefs(tx: Tx, groupId: string, seq: number, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx
    .insert(attachmentRefs)
    .values(ids.map((attachmentId) => ({ attachmentId, groupId, seq })))
    .onConflictDoNothing();
}

/** A message is gone: its references go, and attachments nothing refers to any more may be swept now. */
export async function releaseAttachmentRefs(tx: Tx, groupId: string, seq: number): Promise<void> {
  await releaseAttachmentRefsOf(tx, groupId, [seq]);
}

/** As releaseAttachmentRefs, for several messages of one group at once; how many files are now due for deletion. */
export async function releaseAttachmentRefsOf(tx: Tx, groupId: string, seqs: number[]): Promise<number> {
  if (seqs.length === 0) return 0;
  const released = await tx
    .delete(attachmentRefs)
    .where(and(eq(attachmentRefs.groupId, groupId), inArray(attachmentRefs.seq, seqs)))
    .returning({ id: attachmentRefs.attachmentId });
  if (released.length === 0) return 0;
  const due = await tx
    .update(attachments)
    .set({ sweepAfter: sql`now()` })
    .where(
      and(
        inArray(attachments.id, [...new Set(released.map((r) => r.id))]),
        sql`not exists (select 1 from ${attachmentRefs} r where r.attachment_id = ${attachments.id})`,
      ),
    )
    .returning({ id: attachments.id });
  return due.length;
}

/**
 * Claims up to `limit` attachments due for deletion (unattached past 24 h, or no longer referred
 * to; never an avatar) and marks them `deleting`, so they are not served and no other replica takes them: rows
 * locked by another sweeper or by a send attaching them are skipped. A claim is retried by any
 * sweeper after CLAIM_TTL_S if its blobs were never removed.
 */
export async function claimSweepable(db: Queryable, limit: number): Promise<Pick<AttachmentRow, 'id' | 'thumbnailSize'>[]> {
  const result: unknown = await db.execute(sql`
    update ${attachments} set deleting = true, sweep_after = now() + make_interval(secs => ${CLAIM_TTL_S})
    where id in (
      select id from ${attachments} a
      where a.sweep_after <= now()
        and not exists (select 1 from ${attachmentRefs} r where r.attachment_id = a.id)
        and not exists (select 1 from ${users} u where u.avatar = a.id)
      order by a.sweep_after
      limit ${limit}
      for update skip locked
    )
    returning id, thumbnail_size`);
  type Row = { id: string; thumbnail_size: number | null };
  const rows = rowsOf<Row>(result);
  return rows.map((r) => ({ id: r.id, thumbnailSize: r.thumbnail_size }));
}

/** Forgets swept attachments whose blobs are gone. */
export async function deleteAttachments(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.delete(attachments).where(and(inArray(attachments.id, ids), eq(attachments.deleting, true)));
}
