import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { transaction } from '../../platform/db/transaction.js';
import { leaseRows } from '../../platform/jobs/lease.js';
import {
  eventReminders,
  eventRsvps,
  events,
  members,
  pollVotes,
  pushQueue,
  pushSubscriptions,
  reactionTallies,
} from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

// Polls and events (docs/protocol.md §8 "Polls and events"): their definitions live in the message's `data`; the answers
// (one row per member), the reminders owed, and the counts read from them live here.

export type RsvpAnswer = 'going' | 'maybe' | 'no';
export type RsvpCounts = Record<RsvpAnswer, number>;

/** Sets (or with no options retracts) a member's vote; true when the stored vote changed. */
export async function setVote(tx: Tx, groupId: string, messageSeq: number, userId: string, options: number[]): Promise<boolean> {
  const key = and(eq(pollVotes.groupId, groupId), eq(pollVotes.messageSeq, messageSeq), eq(pollVotes.userId, userId));
  if (options.length === 0) return (await tx.delete(pollVotes).where(key).returning({ userId: pollVotes.userId })).length > 0;
  const sorted = [...options].sort((a, b) => a - b);
  const changed = await tx
    .insert(pollVotes)
    .values({ groupId, messageSeq, userId, options: sorted })
    .onConflictDoUpdate({
      target: [pollVotes.groupId, pollVotes.messageSeq, pollVotes.userId],
      set: { options: sql`excluded.options` },
      setWhere: sql`${pollVotes.options} <> excluded.options`,
    })
    .returning({ userId: pollVotes.userId });
  return changed.length > 0;
}

/** Sets a member's answer to an event; true when it changed. */
export async function setRsvp(tx: Tx, groupId: string, messageSeq: number, userId: string, answer: RsvpAnswer): Promise<boolean> {
  const changed = await tx
    .insert(eventRsvps)
    .values({ groupId, messageSeq, userId, answer })
    .onConflictDoUpdate({
      target: [eventRsvps.groupId, eventRsvps.messageSeq, eventRsvps.userId],
      set: { answer },
      setWhere: sql`${eventRsvps.answer} <> excluded.answer`,
    })
    .returning({ userId: eventRsvps.userId });
  return changed.length > 0;
}

/** Votes per option of several polls of a group (by seq), each `optionCounts` long. */
export async function pollCountsOf(db: Queryable, groupId: string, polls: { seq: number; optionCount: number }[]) {
  const counts = new Map(polls.map((p) => [p.seq, new Array<number>(p.optionCount).fill(0)]));
  if (polls.length === 0) return counts;
  const result = await db.execute(sql`
    select v.message_seq as seq, o.option, count(*)::int as n
    from ${pollVotes} v cross join unnest(v.options) as o(option)
    where v.group_id = ${groupId} and v.message_seq = any(${sql.param(polls.map((p) => p.seq))}::bigint[])
    group by v.message_seq, o.option`);
  for (const r of rowsOf<{ seq: string | number; option: number; n: number }>(result)) {
    const list = counts.get(Number(r.seq));
    if (list && r.option < list.length) list[r.option] = Number(r.n);
  }
  return counts;
}

export async function pollCounts(db: Queryable, groupId: string, seq: number, optionCount: number): Promise<number[]> {
  return (await pollCountsOf(db, groupId, [{ seq, optionCount }])).get(seq)!;
}

/** Answers per kind of several events of a group (by seq). */
export async function rsvpCountsOf(db: Queryable, groupId: string, seqs: number[]): Promise<Map<number, RsvpCounts>> {
  const counts = new Map(seqs.map((s) => [s, { going: 0, maybe: 0, no: 0 } as RsvpCounts]));
  if (seqs.length === 0) return counts;
  const rows = await db
    .select({ seq: eventRsvps.messageSeq, answer: eventRsvps.answer, n: sql<number>`count(*)::int` })
    .from(eventRsvps)
    .where(and(eq(eventRsvps.groupId, groupId), sql`${eventRsvps.messageSeq} = any(${sql.param(seqs)}::bigint[])`))
    .groupBy(eventRsvps.messageSeq, eventRsvps.answer);
  for (const r of rows) counts.get(Number(r.seq))![r.answer] = Number(r.n);
  return counts;
}

export async function rsvpCounts(db: Queryable, groupId: string, seq: number): Promise<RsvpCounts> {
  return (await rsvpCountsOf(db, groupId, [seq])).get(seq)!;
}

/** One member's votes and answers among these messages. */
export async function answersOf(db: Queryable, groupId: string, seqs: number[], userId: string) {
  const votes = new Map<number, number[]>();
  const rsvps = new Map<number, RsvpAnswer>();
  if (seqs.length === 0) return { votes, rsvps };
  const inSeqs = (column: typeof pollVotes.messageSeq | typeof eventRsvps.messageSeq) => sql`${column} = any(${sql.param(seqs)}::bigint[])`;
  const [v, r] = await Promise.all([
    db
      .select({ seq: pollVotes.messageSeq, options: pollVotes.options })
      .from(pollVotes)
      .where(and(eq(pollVotes.groupId, groupId), eq(pollVotes.userId, userId), inSeqs(pollVotes.messageSeq))),
    db
      .select({ seq: eventRsvps.messageSeq, answer: eventRsvps.answer })
      .from(eventRsvps)
      .where(and(eq(eventRsvps.groupId, groupId), eq(eventRsvps.userId, userId), inSeqs(eventRsvps.messageSeq))),
  ]);
  for (const row of v) votes.set(Number(row.seq), row.options.map(Number));
  for (const row of r) rsvps.set(Number(row.seq), row.answer);
  return { votes, rsvps };
}

/** One page of who answered: users after `after` (a user id, the previous page's last), by id. */
export interface AnswerPage {
  limit: number;
  after: string | undefined;
}

/** The page's rows, and the cursor of the next page (its last user) when there are more. */
function cut<T extends { userId: string }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: page[page.length - 1]!.userId };
}

/** Who voted for each option, one page of voters (ordinary and direct groups only: the caller checks). */
export async function votersByOption(
  db: Queryable,
  groupId: string,
  seq: number,
  optionCount: number,
  page: AnswerPage,
): Promise<{ voters: string[][]; nextCursor: string | null }> {
  const voters = Array.from({ length: optionCount }, () => [] as string[]);
  const found = await db
    .select({ userId: pollVotes.userId, options: pollVotes.options })
    .from(pollVotes)
    .where(
      and(
        eq(pollVotes.groupId, groupId),
        eq(pollVotes.messageSeq, seq),
        page.after === undefined ? undefined : gt(pollVotes.userId, page.after),
      ),
    )
    .orderBy(pollVotes.userId)
    .limit(page.limit + 1);
  const { rows, nextCursor } = cut(found, page.limit);
  for (const r of rows) for (const o of r.options) voters[Number(o)]?.push(r.userId);
  return { voters, nextCursor };
}

/** Who gave each answer, one page of users (ordinary and direct groups only: the caller checks). */
export async function usersByAnswer(
  db: Queryable,
  groupId: string,
  seq: number,
  page: AnswerPage,
): Promise<{ users: Record<RsvpAnswer, string[]>; nextCursor: string | null }> {
  const users: Record<RsvpAnswer, string[]> = { going: [], maybe: [], no: [] };
  const found = await db
    .select({ userId: eventRsvps.userId, answer: eventRsvps.answer })
    .from(eventRsvps)
    .where(
      and(
        eq(eventRsvps.groupId, groupId),
        eq(eventRsvps.messageSeq, seq),
        page.after === undefined ? undefined : gt(eventRsvps.userId, page.after),
      ),
    )
    .orderBy(eventRsvps.userId)
    .limit(page.limit + 1);
  const { rows, nextCursor } = cut(found, page.limit);
  for (const r of rows) users[r.answer].push(r.userId);
  return { users, nextCursor };
}

/**
 * Marks the poll of a message closed (in the message as it now stands) and forgets a tally still
 * owed: the `poll_closed` event carries the final counts. Caller holds the group's log lock.
 */
export async function closePoll(tx: Tx, groupId: string, seq: number): Promise<void> {
  await tx
    .update(events)
    .set({ data: sql`jsonb_set(${events.data}, '{poll,closed}', 'true'::jsonb)` })
    .where(and(eq(events.groupId, groupId), eq(events.seq, seq)));
  await tx
    .delete(reactionTallies)
    .where(and(eq(reactionTallies.groupId, groupId), eq(reactionTallies.messageSeq, seq), eq(reactionTallies.subject, 'answers')));
}

/** Deleted or expired messages' answers, owed tallies (of answers and reactions) and reminders go with them. */
export async function eraseAnswers(tx: Tx, groupId: string, seqs: number[]): Promise<void> {
  if (seqs.length === 0) return;
  await tx.delete(pollVotes).where(and(eq(pollVotes.groupId, groupId), inArray(pollVotes.messageSeq, seqs)));
  await tx.delete(eventRsvps).where(and(eq(eventRsvps.groupId, groupId), inArray(eventRsvps.messageSeq, seqs)));
  await tx.delete(eventReminders).where(and(eq(eventReminders.groupId, groupId), inArray(eventReminders.messageSeq, seqs)));
  await tx.delete(reactionTallies).where(and(eq(reactionTallies.groupId, groupId), inArray(reactionTallies.messageSeq, seqs)));
}

// Reminders

export async function scheduleReminder(tx: Tx, groupId: string, seq: number, dueAt: Date): Promise<void> {
  await tx.insert(eventReminders).values({ groupId, messageSeq: seq, dueAt }).onConflictDoNothing();
}

/** When the next reminder may be claimed (due, and its lease, if any, run out), or undefined when none is owed. */
export async function nextReminderDue(db: Queryable): Promise<Date | undefined> {
  const result = await db.execute(sql`select min(greatest(due_at, coalesce(lease_until, due_at))) as due from ${eventReminders}`);
  const due = rowsOf<{ due: Date | string | null }>(result)[0]?.due;
  return due ? new Date(due) : undefined;
}

/** Leases up to `limit` due reminders nobody holds (or whose holder's lease ran out). */
export async function claimReminders(db: Queryable, token: string, leaseMs: number, limit: number) {
  const rows = await leaseRows<{ group_id: string; message_seq: string | number }>(db, {
    table: eventReminders,
    keys: ['group_id', 'message_seq'],
    due: sql`due_at <= now()`,
    orderBy: sql`due_at`,
    limit,
    token,
    leaseMs,
    returning: ['group_id', 'message_seq'],
  });
  return rows.map((r) => ({
    groupId: r.group_id,
    seq: Number(r.message_seq),
  }));
}

/**
 * Fires one claimed reminder, in one transaction and only while this worker still holds its lease
 * (else another replica took it over and this changes nothing): deletes it and owes a push to
 * every member now in the group who answered going or maybe, has a device, and has not silenced
 * the group (level `none`, or muted). A reminder outranks a pending message push of the group: it
 * takes that push's place, counted with it. Returns the users owed, or undefined when not ours.
 */
export async function fireReminder(
  db: Queryable,
  input: { groupId: string; seq: number; token: string; payload: Record<string, unknown>; coalesceMs: number },
): Promise<string[] | undefined> {
  return transaction(db, async (tx) => {
    const owned = await tx
      .delete(eventReminders)
      .where(
        and(
          eq(eventReminders.groupId, input.groupId),
          eq(eventReminders.messageSeq, input.seq),
          eq(eventReminders.leaseToken, input.token),
        ),
      )
      .returning({ seq: eventReminders.messageSeq });
    if (owned.length === 0) return undefined;
    const result = await tx.execute(sql`
      insert into ${pushQueue} as q (user_id, group_id, count, last_seq, urgent, payload, due_at)
      select r.user_id, r.group_id, 1, r.message_seq, true, ${JSON.stringify(input.payload)}::jsonb, now()
      from ${eventRsvps} r
      join ${members} m on m.group_id = r.group_id and m.user_id = r.user_id
      where r.group_id = ${input.groupId} and r.message_seq = ${input.seq} and r.answer in ('going', 'maybe')
        and coalesce(m.notify_level, 'all') <> 'none'
        and (m.mute_until is null or m.mute_until <= now())
        and exists (select 1 from ${pushSubscriptions} s where s.user_id = r.user_id)
        -- Nothing of a user you blocked pushes to your devices (docs/protocol.md §8 "Privacy and safety").
        and not exists (
          select 1 from events e join blocks b on b.blocked_id = e.sender_id
          where e.group_id = r.group_id and e.seq = r.message_seq and b.blocker_id = r.user_id)
      on conflict (user_id, group_id) do update set
        count = q.count + 1,
        payload = excluded.payload,
        urgent = true,
        retry_subscriptions = null,
        due_at = case when q.count > 0 then q.due_at
                      else greatest(now(), coalesce(q.sent_at, now()) + ${input.coalesceMs} * interval '1 millisecond') end
      returning q.user_id`);
    return rowsOf<{ user_id: string }>(result).map((r) => r.user_id);
  });
}

/** One member's answer to a poll (options; none retracts) or to an event. */
export type TalliedAnswer = { userId: string; options: number[] } | { userId: string; answer: RsvpAnswer };

/**
 * Answers of several members to one message of an announcement group, in ONE statement (no
 * transaction, no log lock: no event is appended): the message's row is share-locked while it is
 * still a live, open poll (or a live event), so a close waits for answers in flight and none lands
 * after it; the answers are stored (one per member: the caller keeps the last of each); when any
 * changed, the message's `answers` tally is owed (as markTallyOwed does). Answers queue on the
 * tally row, so they are batched rather than sent one statement each.
 * `live`: false when the message was not (any more) an open poll or live event: nothing stored.
 */
export async function storeTalliedAnswers(
  db: Queryable,
  input: { groupId: string; seq: number; intervalMs: number; kind: 'poll' | 'event'; answers: TalliedAnswer[] },
): Promise<{ live: boolean; changed: boolean }> {
  const { groupId, seq } = input;
  const open =
    input.kind === 'poll' ? sql`data ? 'poll' and coalesce((data->'poll'->>'closed')::boolean, false) = false` : sql`data ? 'event'`;
  const rows = JSON.stringify(
    input.answers.map((a) => ('options' in a ? { u: a.userId, o: [...a.options].sort((x, y) => x - y) } : { u: a.userId, a: a.answer })),
  );
  const store =
    input.kind === 'poll'
      ? sql`retracted as (
            delete from ${pollVotes} p using given, live
            where p.group_id = ${groupId} and p.message_seq = ${seq} and p.user_id = given.u and cardinality(given.o) = 0
            returning 1
          ), stored as (
            insert into ${pollVotes} as p (group_id, message_seq, user_id, options)
            select ${groupId}, ${seq}, given.u, given.o from given, live where cardinality(given.o) > 0
            on conflict (group_id, message_seq, user_id) do update set options = excluded.options where p.options <> excluded.options
            returning 1
          ), changed as (select 1 from retracted union all select 1 from stored)`
      : sql`changed as (
            insert into ${eventRsvps} as r (group_id, message_seq, user_id, answer)
            select ${groupId}, ${seq}, given.u, given.a from given, live
            on conflict (group_id, message_seq, user_id) do update set answer = excluded.answer where r.answer <> excluded.answer
            returning 1
          )`;
  const result = await db.execute(sql`
    with live as (
      select 1 from ${events}
      where group_id = ${groupId} and seq = ${seq} and kind = 'message' and not deleted and ${open}
      for share
    ), given as (
      select * from jsonb_to_recordset(${rows}::jsonb) as x(u text, o int[], a text)
    ), ${store}, owed as (
      insert into ${reactionTallies} as t (group_id, message_seq, subject, pending, due_at)
      select ${groupId}, ${seq}, 'answers', true, now() where exists (select 1 from changed)
      on conflict (group_id, message_seq, subject) do update set
        pending = true,
        due_at = case when t.pending then t.due_at
          else greatest(now(), coalesce(t.flushed_at, now()) + make_interval(secs => ${input.intervalMs}::float8 / 1000)) end
      returning 1
    )
    select (select count(*) from live)::int as live, (select count(*) from owed)::int as changed`);
  const [row] = rowsOf<{ live: number; changed: number }>(result);
  return { live: Number(row?.live) > 0, changed: Number(row?.changed) > 0 };
}
