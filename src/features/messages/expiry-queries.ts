import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { releaseAttachmentRefsOf } from '../attachments/index.js';
import { eraseAnswers } from '../polls-events/index.js';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { events, groups, reactions } from '../../platform/db/schema.js';

// Disappearing messages (docs/protocol.md §8 "Pins and disappearing messages"): finding messages past their expiry and erasing them.

/** Up to `limit` messages due for erasing, oldest expiry first. */
export async function dueExpiries(db: Queryable, limit: number): Promise<{ groupId: string; seq: number }[]> {
  const rows = await db
    .select({ groupId: events.groupId, seq: events.seq })
    .from(events)
    .where(and(sql`${events.expiresAt} <= now()`, eq(events.expired, false), eq(events.kind, 'message')))
    .orderBy(asc(events.expiresAt))
    .limit(limit);
  return rows.map((r) => ({ groupId: r.groupId, seq: Number(r.seq) }));
}

/**
 * Takes the group's log lock unless someone holds it (another replica's sweeper, or a writer of
 * the group): false then, and the caller leaves the group to a later sweep. Holding it, no
 * writer edits, reacts to or pins these messages meanwhile, and no other sweeper erases them.
 */
export async function lockGroupLogIfFree(tx: Tx, groupId: string): Promise<{ pins: number[] } | undefined> {
  const [row] = await tx.select({ pins: groups.pins }).from(groups).where(eq(groups.id, groupId)).for('update', { skipLocked: true });
  return row;
}

/**
 * Erases those of the messages that are still due (caller holds the group's log lock): text,
 * mentions, poll and event payloads and files' metadata (the message's `data`), the text of its
 * edits (the search column follows the text), its reactions, votes, RSVPs, owed tallies and reminders, the emoji
 * of its reaction events (its vote, RSVP and tally events become `hidden`),
 * and its files' references (files nothing else refers to become due for the attachment sweep).
 * The rows stay, `expired`, so the log keeps its seqs. Returns the seqs erased and how many files
 * became due.
 */
export async function eraseExpired(tx: Tx, groupId: string, seqs: number[]): Promise<{ seqs: number[]; filesDue: number }> {
  const erased = await tx
    .update(events)
    .set({ text: null, data: null, expired: true })
    .where(
      and(
        eq(events.groupId, groupId),
        inArray(events.seq, seqs),
        eq(events.kind, 'message'),
        eq(events.expired, false),
        sql`${events.expiresAt} <= now()`,
      ),
    )
    .returning({ seq: events.seq });
  const done = erased.map((r) => Number(r.seq)).sort((a, b) => a - b);
  if (done.length === 0) return { seqs: [], filesDue: 0 };
  await tx
    .update(events)
    .set({ text: null, expired: true })
    .where(and(eq(events.groupId, groupId), inArray(events.target, done), eq(events.kind, 'edit')));
  await tx
    .update(events)
    .set({ data: null })
    .where(and(eq(events.groupId, groupId), inArray(events.target, done), inArray(events.kind, ['reaction', 'reactions'])));
  // Who answered a disappearing poll or event goes with it: those events keep only their seq.
  await tx
    .update(events)
    .set({ kind: 'hidden', senderId: '', data: null })
    .where(and(eq(events.groupId, groupId), inArray(events.target, done), inArray(events.kind, ['vote', 'rsvp', 'tally', 'poll_closed'])));
  await tx.delete(reactions).where(and(eq(reactions.groupId, groupId), inArray(reactions.messageSeq, done)));
  await eraseAnswers(tx, groupId, done);
  const filesDue = await releaseAttachmentRefsOf(tx, groupId, done);
  return { seqs: done, filesDue };
}

/** An event (an edit of a disappearing message) expires with its message. */
export async function setExpiry(tx: Tx, groupId: string, seq: number, expiresAt: Date): Promise<void> {
  await tx
    .update(events)
    .set({ expiresAt })
    .where(and(eq(events.groupId, groupId), eq(events.seq, seq)));
}

/** Replaces the group's pins (caller holds the group's log lock). */
export async function setPins(tx: Tx, groupId: string, pins: number[]): Promise<void> {
  await tx.update(groups).set({ pins }).where(eq(groups.id, groupId));
}
