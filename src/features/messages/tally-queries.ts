import { and, asc, eq, lte, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { reactionTallies, reactions } from '../../platform/db/schema.js';

// Tallies of announcement groups (docs/protocol.md §8 "Privacy and safety", docs/protocol.md §8): a reaction, a vote or an RSVP marks its
// message's tally of that subject owed; a flush writes one `reactions` (or `tally`) event no
// earlier than one interval after the previous one of that message and subject.

/** What a tally counts: reactions, or the answers to a poll or event (votes, RSVPs). */
export type TallySubject = 'reactions' | 'answers';

/**
 * Marks the message's tally owed. A tally already owed keeps its time; otherwise it is due now,
 * or one interval after the last flush, whichever is later. Caller holds the group's log lock.
 */
export async function markTallyOwed(
  tx: Tx,
  groupId: string,
  messageSeq: number,
  intervalMs: number,
  subject: TallySubject = 'reactions',
): Promise<void> {
  await tx
    .insert(reactionTallies)
    .values({ groupId, messageSeq, subject, pending: true, dueAt: sql`now()` })
    .onConflictDoUpdate({
      target: [reactionTallies.groupId, reactionTallies.messageSeq, reactionTallies.subject],
      set: {
        pending: sql`true`,
        dueAt: sql`case when ${reactionTallies.pending} then ${reactionTallies.dueAt}
          else greatest(now(), coalesce(${reactionTallies.flushedAt}, now()) + make_interval(secs => ${intervalMs}::float8 / 1000)) end`,
      },
    });
}

/** Owed tallies that are due, oldest first. */
export async function dueTallies(db: Queryable, limit: number) {
  return db
    .select({ groupId: reactionTallies.groupId, messageSeq: reactionTallies.messageSeq, subject: reactionTallies.subject })
    .from(reactionTallies)
    .where(and(eq(reactionTallies.pending, true), lte(reactionTallies.dueAt, sql`now()`)))
    .orderBy(asc(reactionTallies.dueAt))
    .limit(limit);
}

/** When the next owed tally is due, if any. */
export async function nextTallyDue(db: Queryable): Promise<Date | undefined> {
  const [row] = await db
    .select({ dueAt: reactionTallies.dueAt })
    .from(reactionTallies)
    .where(eq(reactionTallies.pending, true))
    .orderBy(asc(reactionTallies.dueAt))
    .limit(1);
  return row?.dueAt;
}

/**
 * Claims a due tally for flushing in the caller's transaction (which holds the group's log lock,
 * so a reaction cannot slip in between): true for exactly one claimer, whatever the replicas.
 */
export async function claimTally(tx: Tx, groupId: string, messageSeq: number, subject: TallySubject): Promise<boolean> {
  const rows = await tx
    .update(reactionTallies)
    .set({ pending: false, flushedAt: sql`now()` })
    .where(
      and(
        eq(reactionTallies.groupId, groupId),
        eq(reactionTallies.messageSeq, messageSeq),
        eq(reactionTallies.subject, subject),
        eq(reactionTallies.pending, true),
        lte(reactionTallies.dueAt, sql`now()`),
      ),
    )
    .returning({ groupId: reactionTallies.groupId });
  return rows.length > 0;
}

/** The message's reaction counts by emoji, as they stand. */
export async function reactionCounts(db: Queryable, groupId: string, messageSeq: number): Promise<Record<string, number>> {
  const rows = await db
    .select({ emoji: reactions.emoji, count: sql<number>`count(*)::int` })
    .from(reactions)
    .where(and(eq(reactions.groupId, groupId), eq(reactions.messageSeq, messageSeq)))
    .groupBy(reactions.emoji);
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.emoji] = Number(r.count);
  return counts;
}
