import { and, asc, eq, getTableColumns, gt, inArray, lt, lte, or, sql } from 'drizzle-orm';
import type { OutgoingMessage, SendInput } from '../../protocol/commands.js';
import { releaseAttachmentRefs } from '../attachments/index.js';
import { executePrepared, type Db, type Queryable, type Tx } from '../../platform/db/connect.js';
import { messageRows, reactionCounts } from '../sessions/index.js';
import { MissingGroup } from '../../platform/db/errors.js';
import { eraseAnswers } from '../polls-events/index.js';
import { events, groups, notifyOutbox, reactions, type EventRow } from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

/** An event before the log gives it a seq and a time. */
export type EventDraft = Omit<EventRow, 'groupId' | 'seq' | 'ts' | 'editedAt' | 'deleted' | 'expiresAt' | 'expired'>;

/** A group's messageTtlS as SQL reads it from its settings (null: messages do not disappear). */
const messageTtlS = sql`(${groups.settings}->>'messageTtlS')::int`;

export const messageDraft = (senderId: string, m: Omit<SendInput, 'group'>): EventDraft => ({
  senderId,
  kind: 'message',
  clientMsgId: m.clientMsgId,
  text: m.text,
  target: null,
  replyTo: m.replyTo ?? null,
  data: {
    mentions: m.mentions ?? [],
    ...(m.poll ? { poll: { question: m.poll.question, options: m.poll.options, multiple: m.poll.multiple ?? false } } : {}),
    ...(m.event ? { event: m.event } : {}),
  },
});

export const draft = (
  senderId: string,
  kind: Exclude<EventDraft['kind'], 'message'>,
  fields: { text?: string; target?: number; data?: Record<string, unknown> },
): EventDraft => ({
  senderId,
  kind,
  clientMsgId: null,
  text: fields.text ?? null,
  target: fields.target ?? null,
  replyTo: null,
  data: fields.data ?? null,
});

/**
 * Appends events to a group's log inside the caller's transaction. Takes the next seqs with a
 * row lock on the group, so concurrent writers of one group queue here and seqs stay gapless:
 * a rolled-back transaction gives its seqs back. Caller holds the transaction until commit.
 */
export async function appendEvents(
  tx: Tx,
  groupId: string,
  drafts: EventDraft[],
  options: { skipDuplicates?: boolean } = {},
): Promise<EventRow[]> {
  if (drafts.length === 0) return [];
  const [bumped] = await tx
    .update(groups)
    .set({ lastSeq: sql`${groups.lastSeq} + ${drafts.length}` })
    .where(eq(groups.id, groupId))
    .returning({ lastSeq: groups.lastSeq, ttlS: sql<number | null>`${messageTtlS}` });
  if (!bumped) throw new MissingGroup(groupId);
  const first = Number(bumped.lastSeq) - drafts.length + 1;
  // Messages sent while disappearing messages are on carry their expiry (the setting as of this lock).
  const expiresAt = bumped.ttlS ? sql`now() + make_interval(secs => ${bumped.ttlS})` : null;
  const insert = tx
    .insert(events)
    .values(drafts.map((d, i) => ({ ...d, groupId, seq: first + i, expiresAt: d.kind === 'message' ? expiresAt : null })));
  // With skipDuplicates a repeated clientMsgId yields fewer rows than drafts: the caller must
  // then roll back, since the seqs it took would leave a gap.
  return (options.skipDuplicates ? insert.onConflictDoNothing() : insert).returning();
}

/** A message for appendMessages: `ord` is its 1-based place among the batch's messages to its group. */
export type MessageInsert = Omit<OutgoingMessage, 'group'> & { groupId: string; ord: number; senderId: string };

/**
 * Group commit across groups in ONE statement (one round trip, atomic on its own): locks the
 * groups in id order (so concurrent batches of several replicas cannot deadlock each other),
 * bumps each group's lastSeq by its count and inserts every message with its seq. A repeated
 * clientMsgId fails the whole statement with a unique violation (nothing stored, no seq taken);
 * the caller then takes the per-group path. Messages to a group that does not exist are not
 * stored and not returned. Each stored message also owes its notifications (notify_outbox).
 */
export async function appendMessages(
  db: Queryable,
  batch: MessageInsert[],
): Promise<{ groupId: string; seq: number; senderId: string; clientMsgId: string; ts: Date; expiresAt: Date | null }[]> {
  if (batch.length === 0) return [];
  const json = JSON.stringify(
    batch.map((m) => ({ g: m.groupId, o: m.ord, s: m.senderId, c: m.clientMsgId, t: m.text, r: m.replyTo, m: { mentions: m.mentions } })),
  );
  type Row = {
    group_id: string;
    seq: string | number;
    sender_id: string;
    client_msg_id: string;
    ts: Date | string;
    expires_at: Date | string | null;
  };
  // Prepared: every send's commit is this statement, on the path to its delivery.
  const result = await executePrepared(
    db,
    'append_messages',
    sql`
    -- = any(array(...)) keeps both lookups of groups on its primary key whatever the estimates.
    with v as (
      select * from jsonb_to_recordset(${json}::jsonb) as x(g text, o int, s text, c text, t text, r bigint, m jsonb)
    ), n as (
      select g, count(*)::int as n from v group by g
    ), locked as (
      select id from ${groups} where id = any(array(select g from n)) order by id for update
    ), bumped as (
      update ${groups} set last_seq = ${groups}.last_seq + n.n
      from n
      where ${groups}.id = n.g and ${groups}.id = any(array(select id from locked))
      returning ${groups}.id, ${groups}.last_seq - n.n as first, ${messageTtlS} as ttl
    ), stored as (
      -- Messages sent while disappearing messages are on carry their expiry.
      insert into ${events} (group_id, seq, sender_id, kind, client_msg_id, text, reply_to, data, expires_at)
      select v.g, b.first + v.o, v.s, 'message', v.c, v.t, v.r, v.m, now() + make_interval(secs => b.ttl)
      from v join bumped b on b.id = v.g
      returning group_id, seq, sender_id, client_msg_id, ts, expires_at
    ), owed as (
      -- The notifications these messages owe, durable with them (docs/protocol.md §8 "Notifications").
      insert into ${notifyOutbox} (group_id, seq) select group_id, seq from stored
    )
    select * from stored`,
  );
  // postgres.js answers an array of rows, PGlite an object with `rows`.
  const rows = rowsOf<Row>(result);
  return rows.map((r) => ({
    groupId: r.group_id,
    seq: Number(r.seq),
    senderId: r.sender_id,
    clientMsgId: r.client_msg_id,
    ts: new Date(r.ts),
    expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
  }));
}

/** Locks the group's log (as appendEvents does) without appending; returns its last seq. */
export async function lockGroupLog(tx: Tx, groupId: string): Promise<number | undefined> {
  const [row] = await tx
    .update(groups)
    .set({ lastSeq: sql`${groups.lastSeq}` })
    .where(eq(groups.id, groupId))
    .returning({ lastSeq: groups.lastSeq });
  return row ? Number(row.lastSeq) : undefined;
}

/** Existing messages of these senders' clientMsgIds in a group: the idempotency lookup. */
export async function findMessagesByClientIds(db: Queryable, groupId: string, clientMsgIds: string[]): Promise<EventRow[]> {
  if (clientMsgIds.length === 0) return [];
  return db
    .select()
    .from(events)
    .where(and(eq(events.groupId, groupId), inArray(events.clientMsgId, clientMsgIds)));
}

export async function eventsAfter(db: Queryable, groupId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
  return db
    .select()
    .from(events)
    .where(and(eq(events.groupId, groupId), gt(events.seq, afterSeq)))
    .orderBy(asc(events.seq))
    .limit(limit);
}

/** A slice of one group's log: the events with after < seq <= upTo. */
export interface LogRange {
  groupId: string;
  after: number;
  upTo: number;
}

/**
 * The events of several log slices in one query, ordered by group and seq, leaving out every row
 * whose predecessors' text already passes `maxTextBytes`: a reply over that budget could not hold
 * it (an event's JSON is never shorter than its text's UTF-8), so it is not even read.
 */
export async function eventsInRanges(db: Queryable, ranges: LogRange[], maxTextBytes: number): Promise<EventRow[]> {
  if (ranges.length === 0) return [];
  // "C": the same order as a plain string comparison, whatever the database's collation.
  const order = sql`${events.groupId} collate "C", ${events.seq}`;
  const slices = db
    .select({
      ...getTableColumns(events),
      textBefore:
        sql<number>`coalesce(sum(octet_length(${events.text})) over (order by ${order} rows between unbounded preceding and 1 preceding), 0)`.as(
          'text_before',
        ),
    })
    .from(events)
    .where(or(...ranges.map((r) => and(eq(events.groupId, r.groupId), gt(events.seq, r.after), lte(events.seq, r.upTo)))))
    .as('slices');
  const rows = await db
    .select()
    .from(slices)
    .where(lt(slices.textBefore, maxTextBytes))
    .orderBy(sql`${slices.groupId} collate "C"`, slices.seq);
  return rows.map(({ textBefore: _, ...row }) => row);
}

export async function findMessage(db: Queryable, groupId: string, seq: number): Promise<EventRow | undefined> {
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.groupId, groupId), eq(events.seq, seq), eq(events.kind, 'message')))
    .limit(1);
  return row;
}

/** Messages newest first, before `before` (exclusive), with reaction counts: two prepared statements. */
export async function messagesBefore(db: Db, groupId: string, before: number | undefined, limit: number) {
  const rows = await messageRows(db, groupId, before, limit + 1);
  const page = rows.slice(0, limit);
  const bySeq = await reactionsOf(db, groupId, page);
  return { messages: page.map((row) => ({ row, reactions: bySeq.get(row.seq) ?? {} })), hasMore: rows.length > limit };
}

/** Reaction counts of these messages of one group, by seq then emoji. */
export async function reactionsOf(db: Db, groupId: string, rows: readonly EventRow[]): Promise<Map<number, Record<string, number>>> {
  const bySeq = new Map<number, Record<string, number>>();
  if (rows.length === 0) return bySeq;
  for (const c of await reactionCounts(
    db,
    groupId,
    rows.map((r) => r.seq),
  )) {
    const seq = Number(c.seq);
    const entry = bySeq.get(seq) ?? {};
    entry[c.emoji] = Number(c.count);
    bySeq.set(seq, entry);
  }
  return bySeq;
}

export async function setMessageText(tx: Tx, groupId: string, seq: number, text: string, editedAt: Date) {
  await tx
    .update(events)
    .set({ text, editedAt })
    .where(and(eq(events.groupId, groupId), eq(events.seq, seq)));
}

/**
 * Erases a message's text everywhere it is stored (the message and its edits), its files'
 * metadata, and its poll or event with their answers; its files go once no other message refers to them.
 */
export async function eraseMessage(tx: Tx, groupId: string, seq: number) {
  await tx
    .update(events)
    .set({ text: null, deleted: true, data: sql`${events.data} - 'attachments' - 'poll' - 'event'` })
    .where(and(eq(events.groupId, groupId), eq(events.seq, seq)));
  await releaseAttachmentRefs(tx, groupId, seq);
  await eraseAnswers(tx, groupId, [seq]);
  await tx
    .update(events)
    .set({ text: null })
    .where(and(eq(events.groupId, groupId), eq(events.target, seq), eq(events.kind, 'edit')));
}

/** Sets or clears one user's reaction; true when the stored state changed. */
export async function setReaction(tx: Tx, groupId: string, messageSeq: number, userId: string, emoji: string | null) {
  const key = and(eq(reactions.groupId, groupId), eq(reactions.messageSeq, messageSeq), eq(reactions.userId, userId));
  if (emoji === null) {
    const removed = await tx.delete(reactions).where(key).returning({ emoji: reactions.emoji });
    return removed.length > 0;
  }
  const changed = await tx
    .insert(reactions)
    .values({ groupId, messageSeq, userId, emoji })
    .onConflictDoUpdate({
      target: [reactions.groupId, reactions.messageSeq, reactions.userId],
      set: { emoji },
      setWhere: sql`${reactions.emoji} <> excluded.emoji`,
    })
    .returning({ emoji: reactions.emoji });
  return changed.length > 0;
}
