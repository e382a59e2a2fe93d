import type { Queryable, Tx } from '../../platform/db/connect.js';
import { answersOf, pollCountsOf, rsvpCountsOf, scheduleReminder } from '../polls-events/index.js';
import { claimOwnAttachments, insertAttachmentRefs } from '../attachments/index.js';
import {
  draft,
  type EventDraft,
  eraseMessage,
  eventsInRanges,
  findMessage,
  findMessagesByClientIds,
  messageDraft,
  type LogRange,
  lockGroupLog,
  messagesBefore,
  reactionsOf,
  setMessageText,
  setReaction,
} from './queries.js';
import {
  advanceReadSeq,
  countReaders,
  findAuthority,
  findGroup,
  findMemberLastSeqs,
  findMembership,
  memberIdsOf,
} from '../groups/index.js';
import { directGroupBlocked } from '../privacy/index.js';
import { markTallyOwed } from './tally-queries.js';
import { oweNotifications } from '../notifications/index.js';
import type { EventRow } from '../../platform/db/schema.js';
import type { SendInput } from '../../protocol/commands.js';
import { badRequest, conflict, forbidden, notFound } from '../../protocol/errors.js';
import {
  attachmentsOf,
  encodeEvent,
  eventOf,
  type HistoryMessage,
  isExpired,
  pollOf,
  type StoredEvent,
  type StoredPoll,
} from '../../protocol/frames.js';
import {
  assertAuthorOrGovernor,
  assertMayMention,
  assertMayPost,
  assertNotBlockedIn,
  assertNotMuted,
  type GroupKind,
  requireMemberOrGovernor,
  requireMembership,
} from '../../platform/policy/index.js';
import { attachmentMeta } from '../attachments/index.js';
import { type ChatDeps, nowOf } from '../../platform/deps.js';
import type { MembershipCache } from '../groups/index.js';
import { commit, publishCommitted } from '../../platform/db/outbox.js';
import { transaction } from '../../platform/db/transaction.js';
import { ReadBudget } from './read-budget.js';
import type { ReachStats } from './reach.js';
import { advanceReadCounting } from '../notifications/index.js';
import { setExpiry } from './expiry-queries.js';
import { SendQueue, type SendResult, sameContent, storedContent } from './send-queue.js';
import { ReactionTallies } from './tallies.js';
import { unpinGoneIn } from '../pins/index.js';
import { NewestPages, type GroupLogView, type NewestPage } from './newest-pages.js';

type HistoryAnswer = { result: { json: string[]; hasMore: boolean }; cost: { rows: number; bytes: number } };

/** Messages and the log: send, edit, delete, react, read markers, history and sync. */
export class Messages {
  private readonly queue: SendQueue;
  private readonly readBudget: ReadBudget;
  private pages: NewestPages | undefined;

  readonly tallies: ReactionTallies;

  constructor(
    private readonly deps: ChatDeps,
    private readonly membership: MembershipCache,
    private readonly reach?: ReachStats,
  ) {
    this.tallies = new ReactionTallies(deps);
    this.queue = new SendQueue(deps);
    deps.publisher.onCommitted((groupId) => this.committed(groupId));
    this.readBudget = new ReadBudget(deps.config.messages.readBudget);
  }

  async send(userId: string, input: SendInput): Promise<SendResult> {
    const membership = requireMembership(await this.membership.find(input.group, userId));
    assertMayPost(membership);
    assertNotMuted(membership, nowOf(this.deps));
    await this.assertNotBlocked(membership, input.group, userId);
    assertMayMention(membership, input.mentions);
    if (input.attachments?.length || input.poll || input.event) {
      await this.assertReferences(input);
      return this.sendRich(userId, input);
    }
    return this.sendAs(userId, input);
  }

  /**
   * A message with files, a poll or an event, in one transaction of its own (not the group
   * commit): the caller's own uploads are locked, so no sweeper deletes them meanwhile, and their
   * references are stored with the message, as is an event's reminder. Any id that is not the
   * caller's live upload makes it `not_found`, naming none.
   */
  private async sendRich(userId: string, input: SendInput): Promise<SendResult> {
    const ids = [...new Set(input.attachments ?? [])];
    return commit(this.deps, async (tx, outbox) => {
      if ((await lockGroupLog(tx, input.group)) === undefined) throw notFound('group');
      const [repeated] = (await findMessagesByClientIds(tx, input.group, [input.clientMsgId])).filter((e) => e.senderId === userId);
      if (repeated) {
        // The send queue's rule, and the same files.
        const stored = storedContent(repeated);
        const files = ((repeated.data?.attachments as { id: string }[] | undefined) ?? []).map((a) => a.id);
        const same =
          sameContent(stored, { text: input.text, replyTo: input.replyTo ?? null, mentions: [...new Set(input.mentions ?? [])] }) &&
          (stored.edited || (files.join('\u0000') === ids.join('\u0000') && samePollAndEvent(repeated, messageDraft(userId, input))));
        if (!same) throw conflict('this clientMsgId was used for a different message');
        // Published again, as the group commit's careful path does: the first publish may have been lost.
        outbox.events.push(repeated);
        return ackOf(repeated);
      }
      const rows = await claimOwnAttachments(tx, ids, userId);
      if (rows.length !== ids.length) throw notFound('attachment');
      const byId = new Map(rows.map((r) => [r.id, r]));
      const message = messageDraft(userId, { ...input, mentions: [...new Set(input.mentions ?? [])] });
      message.data = { ...message.data, attachments: ids.map((id) => attachmentMeta(byId.get(id)!)) };
      const [row] = await outbox.append(tx, input.group, [message]);
      await insertAttachmentRefs(tx, input.group, row!.seq, ids);
      await oweNotifications(tx, [row!]);
      if (input.event) {
        // No reminder when its time has already come: nobody has answered yet.
        const remindAt = Date.parse(input.event.startsAt) - this.deps.config.events.reminderS * 1000;
        if (remindAt > nowOf(this.deps)) await scheduleReminder(tx, input.group, row!.seq, new Date(remindAt));
      }
      return ackOf(row!);
    });
  }

  /** Sends without the membership check, for callers that authorized otherwise (server tokens). */
  async sendAs(userId: string, input: SendInput): Promise<SendResult> {
    await this.assertReferences(input);
    return this.queue.enqueue(input.group, {
      senderId: userId,
      clientMsgId: input.clientMsgId,
      text: input.text,
      replyTo: input.replyTo ?? null,
      mentions: [...new Set(input.mentions ?? [])],
    });
  }

  async edit(userId: string, input: { group: string; target: number; text: string }) {
    const membership = requireMembership(await findMembership(this.deps.db, input.group, userId));
    assertNotMuted(membership, nowOf(this.deps));
    await this.assertNotBlocked(membership, input.group, userId);
    return commit(this.deps, async (tx, outbox) => {
      const message = await this.liveMessage(tx, input.group, input.target);
      if (message.senderId !== userId) throw forbidden('only the sender may edit a message');
      if (nowOf(this.deps) - message.ts.getTime() > this.deps.config.messages.editWindowS * 1000) {
        throw conflict(`messages can be edited for ${this.deps.config.messages.editWindowS} seconds`);
      }
      const [row] = await outbox.append(tx, input.group, [draft(userId, 'edit', { target: input.target, text: input.text })]);
      await setMessageText(tx, input.group, input.target, input.text, row!.ts);
      // An edit of a disappearing message disappears with it (its text is the message's).
      if (message.expiresAt) {
        await setExpiry(tx, input.group, row!.seq, message.expiresAt);
        row!.expiresAt = message.expiresAt;
      }
      return ackOf(row!);
    });
  }

  /** The sender, or a governor of the group (its admins, its community's admins even when not in it). */
  async delete(userId: string, input: { group: string; target: number }) {
    const authority = requireMemberOrGovernor(await findAuthority(this.deps.db, input.group, userId));
    return commit(this.deps, async (tx, outbox) => {
      const message = await this.liveMessage(tx, input.group, input.target);
      assertAuthorOrGovernor(authority, message.senderId, userId, 'only the sender or a group admin may delete a message');
      await eraseMessage(tx, input.group, input.target);
      const [row] = await outbox.append(tx, input.group, [draft(userId, 'delete', { target: input.target })]);
      // A deleted message leaves the pins: a `group` event after the `delete`.
      await unpinGoneIn(tx, outbox, input.group, (await findGroup(tx, input.group))!.pins, [input.target], userId);
      return ackOf(row!);
    });
  }

  /**
   * Sets or removes (emoji null) the caller's one reaction; no event when nothing changes. In an
   * announcement group no event either: the message's tally is owed (one `reactions` event per
   * interval, ReactionTallies), so a reaction neither floods every member nor names the reactor.
   */
  async react(userId: string, input: { group: string; target: number; emoji: string | null }) {
    const membership = requireMembership(await this.membership.find(input.group, userId));
    assertNotMuted(membership, nowOf(this.deps));
    await this.assertNotBlocked(membership, input.group, userId);
    const tallied = membership.kind === 'announcement';
    const result = await commit(this.deps, async (tx, outbox) => {
      await this.liveMessage(tx, input.group, input.target);
      const changed = await setReaction(tx, input.group, input.target, userId, input.emoji);
      if (!changed) return { group: input.group };
      if (tallied) {
        await markTallyOwed(tx, input.group, input.target, this.deps.config.messages.tallyIntervalMs);
        return { group: input.group };
      }
      const [row] = await outbox.append(tx, input.group, [
        draft(userId, 'reaction', { target: input.target, data: { emoji: input.emoji } }),
      ]);
      return ackOf(row!);
    });
    if (tallied) this.tallies.owed();
    return result;
  }

  /** Moves the read marker forward; the user's other sockets hear of it. */
  async markRead(userId: string, input: { group: string; seq: number }, connectionId?: string) {
    const membership = requireMembership(await findMembership(this.deps.db, input.group, userId));
    let seq: number | undefined;
    if (membership.kind === 'announcement' && this.reach) {
      // Announcements count their readers as markers pass them (reach statistics, docs/protocol.md §8 "Notifications").
      const moved = await transaction(this.deps.db, (tx) => advanceReadCounting(tx, input.group, userId, input.seq));
      seq = moved?.seq;
      for (const counted of moved?.counted ?? []) this.reach.changed(input.group, counted);
    } else {
      seq = await advanceReadSeq(this.deps.db, input.group, userId, input.seq);
    }
    if (seq === undefined) throw notFound('group');
    const message = { kind: 'read', group: input.group, seq, ...(connectionId ? { except: connectionId } : {}) } as const;
    await publishCommitted(this.deps, { controls: [{ userId, message }] });
    return { group: input.group, seq };
  }

  /**
   * Messages newest first before `before`, as many as fit `maxReplyBytes` (at least one), each
   * with its JSON as the reply carries it; `hasMore` when older messages are left.
   */
  async history(userId: string, input: { group: string; before?: number | undefined; limit?: number | undefined }) {
    const membership = requireMembership(await this.membership.find(input.group, userId));
    const limit = input.limit ?? 50;
    return this.readBudget.spend(userId, limit + 1, async () => {
      const page =
        input.before !== undefined || !this.pages
          ? await messagesBefore(this.deps.db, input.group, input.before, limit)
          : await this.newestPage(input.group, limit, membership.kind === 'announcement');
      const rows = page.messages.map((m) => m.row);
      // Per viewer and per moment, never from memory: poll and RSVP answers (the caller's own
      // among them) and expiry (historyMessage reads the clock).
      return this.historyAnswer(page, await answersNow(this.deps.db, input.group, rows, userId));
    });
  }

  /**
   * The newest page's rows and reaction counts from memory (NewestPages); an announcement group's
   * reactions change without an event until their tally, so they are counted now.
   */
  private async newestPage(groupId: string, limit: number, tallied: boolean): Promise<NewestPage> {
    const { page } = await this.pages!.get(groupId, limit, () => messagesBefore(this.deps.db, groupId, undefined, limit));
    if (!tallied) return page;
    const reactions = await reactionsOf(
      this.deps.db,
      groupId,
      page.messages.map((m) => m.row),
    );
    return { messages: page.messages.map(({ row }) => ({ row, reactions: reactions.get(row.seq) ?? {} })), hasMore: page.hasMore };
  }

  /** Serves the newest history pages from memory once the gateway lets it see where delivery stands. */
  attachLogView(view: GroupLogView): void {
    this.pages = new NewestPages(view);
  }

  /** Events of the group were committed here (Publisher.onCommitted). */
  committed(groupId: string): void {
    this.pages?.committed(groupId);
  }

  /** Stops serving pages from memory and lets go of their feeds. */
  detachLogView(): void {
    this.pages?.close();
    this.pages = undefined;
  }

  /** A page as the reply carries it: each message's JSON, cut to maxReplyBytes, and what it cost. */
  private historyAnswer(page: NewestPage, answers: Map<number, AnswersNow>): HistoryAnswer {
    const reply = new ReplyBytes(this.deps.config.messages.maxReplyBytes);
    const json: string[] = [];
    for (const { row, reactions } of page.messages) {
      const encoded = JSON.stringify(historyMessage(row, reactions, answers.get(row.seq)));
      if (!reply.fits(encoded)) break;
      json.push(encoded);
    }
    const result = { json, hasMore: page.hasMore || json.length < page.messages.length };
    return { result, cost: { rows: page.messages.length + (page.hasMore ? 1 : 0), bytes: reply.bytes } };
  }

  /**
   * Events after each given seq, each as its event frame's JSON: one membership query for every
   * listed group (one the caller is not in makes it all not_found, before any event is read), then
   * one read of at most `syncLimit` events per group and per frame, cut to `maxReplyBytes` (at
   * least one event). A group cut short or not reached has `hasMore`: the client syncs it again
   * from the last seq it got.
   */
  async sync(userId: string, groups: Record<string, number>): Promise<Record<string, SyncedGroup>> {
    const ids = Object.keys(groups);
    const logs = await findMemberLastSeqs(this.deps.db, userId, ids);
    if (logs.length < ids.length) throw notFound('group');
    const lastSeq = new Map(logs.map((l) => [l.id, Number(l.lastSeq)]));
    const { syncLimit, maxReplyBytes } = this.deps.config.messages;
    // Logs are gapless, so where each ends says how many events it has to give without reading them.
    const ranges: LogRange[] = [];
    let rowsLeft = syncLimit;
    for (const id of [...ids].sort()) {
      const after = groups[id]!;
      const take = Math.min(lastSeq.get(id)! - after, syncLimit, rowsLeft);
      if (take <= 0) continue;
      ranges.push({ groupId: id, after, upTo: after + take });
      rowsLeft -= take;
    }
    const got = await this.readBudget.spend(userId, syncLimit - rowsLeft, async () => {
      const rows = await eventsInRanges(this.deps.db, ranges, maxReplyBytes);
      const reply = new ReplyBytes(maxReplyBytes);
      const got = new Map<string, { events: string[]; last: number }>();
      for (const row of rows) {
        const encoded = encodeEvent(row);
        if (!reply.fits(encoded)) break;
        const group = got.get(row.groupId) ?? { events: [], last: 0 };
        group.events.push(encoded);
        group.last = row.seq;
        got.set(row.groupId, group);
      }
      return { result: got, cost: { rows: rows.length, bytes: reply.bytes } };
    });
    const out: Record<string, SyncedGroup> = {};
    for (const id of ids) {
      const group = got.get(id);
      out[id] = { events: group?.events ?? [], hasMore: lastSeq.get(id)! > (group?.last ?? groups[id]!) };
    }
    return out;
  }

  async typing(userId: string, groupId: string, connectionId: string) {
    const membership = requireMembership(await this.membership.find(groupId, userId));
    assertMayPost(membership);
    assertNotMuted(membership, nowOf(this.deps));
    await this.assertNotBlocked(membership, groupId, userId);
    await this.deps.publisher.typing(groupId, userId, connectionId);
  }

  async receipts(userId: string, groupId: string, seq: number) {
    requireMembership(await findMembership(this.deps.db, groupId, userId));
    const [readBy, group] = await Promise.all([countReaders(this.deps.db, groupId, seq), findGroup(this.deps.db, groupId)]);
    return { readBy, memberCount: group?.memberCount ?? 0 };
  }

  /**
   * In a direct group of two users one of whom blocked the other, neither may write: `forbidden`
   * without a reason (the other's choice is not told).
   */
  private async assertNotBlocked(m: { kind: GroupKind }, groupId: string, userId: string) {
    if (m.kind === 'direct') assertNotBlockedIn(m.kind, await directGroupBlocked(this.deps.db, groupId, userId));
  }

  /** `replyTo` must name a message of the group, `mentions` its members (docs/protocol.md §4 (`send`)). */
  private async assertReferences(input: SendInput) {
    const [reply, mentioned] = await Promise.all([
      input.replyTo == null ? undefined : findMessage(this.deps.db, input.group, input.replyTo),
      input.mentions?.length ? memberIdsOf(this.deps.db, input.group, [...new Set(input.mentions)]) : undefined,
    ]);
    const issues: { path: string; message: string }[] = [];
    if (input.replyTo != null && !reply) issues.push({ path: 'replyTo', message: 'must name a message of this group' });
    if (mentioned && input.mentions!.some((id) => !mentioned.has(id)))
      issues.push({ path: 'mentions', message: 'must name members of this group' });
    if (issues.length > 0) throw badRequest(`invalid ${issues.map((i) => i.path).join(' and ')}`, { issues });
  }

  /** Locks the group's log first, so a concurrent edit and delete of one message serialise. */
  private async liveMessage(tx: Tx, groupId: string, seq: number) {
    await lockGroupLog(tx, groupId);
    const message = await findMessage(tx, groupId, seq);
    if (!message) throw notFound('message');
    if (message.deleted) throw conflict('message was deleted');
    if (isExpired(message)) throw conflict('message has expired');
    return message;
  }
}

/** One group of a `sync` answer: its events, each as its event frame's JSON. */
export interface SyncedGroup {
  events: string[];
  hasMore: boolean;
}

/** Counts a reply's bytes part by part (with the commas between); the first part always fits, so a client always progresses. */
class ReplyBytes {
  private used = 0;
  private parts = 0;

  constructor(private readonly max: number) {}

  fits(json: string): boolean {
    const bytes = Buffer.byteLength(json) + (this.parts > 0 ? 1 : 0);
    if (this.parts > 0 && this.used + bytes > this.max) return false;
    this.used += bytes;
    this.parts++;
    return true;
  }

  get bytes(): number {
    return this.used;
  }
}

const ackOf = (row: EventRow) => ({ group: row.groupId, seq: row.seq, ts: row.ts });

/** A poll or event of a message with its answers now: the counts and the caller's own. */
type AnswersNow = Pick<HistoryMessage, 'poll' | 'event'>;

/** The current answers of the polls and events among these messages (two or three queries, none without any). */
async function answersNow(db: Queryable, groupId: string, rows: EventRow[], userId: string): Promise<Map<number, AnswersNow>> {
  const out = new Map<number, AnswersNow>();
  const live = rows.filter((r) => !r.deleted);
  const polls = live.flatMap((r) => {
    const poll = pollOf(r);
    return poll ? [{ seq: r.seq, poll }] : [];
  });
  const eventSeqs = live.filter((r) => eventOf(r)).map((r) => r.seq);
  if (polls.length === 0 && eventSeqs.length === 0) return out;
  const [pollCounts, rsvpCounts, mine] = await Promise.all([
    pollCountsOf(
      db,
      groupId,
      polls.map((p) => ({ seq: p.seq, optionCount: p.poll.options.length })),
    ),
    rsvpCountsOf(db, groupId, eventSeqs),
    answersOf(db, groupId, [...polls.map((p) => p.seq), ...eventSeqs], userId),
  ]);
  for (const { seq, poll } of polls) {
    out.set(seq, { poll: { ...poll, closed: poll.closed ?? false, counts: pollCounts.get(seq)!, mine: mine.votes.get(seq) ?? [] } });
  }
  for (const row of live) {
    const event = eventOf(row);
    if (event) out.set(row.seq, { event: { ...event, counts: rsvpCounts.get(row.seq)!, mine: mine.rsvps.get(row.seq) ?? null } });
  }
  return out;
}

/** Whether a repeated send carries the poll and event the stored message does. */
const samePollAndEvent = (stored: EventRow, repeat: EventDraft) => {
  // Field by field: jsonb keeps its own key order, and a poll closed since is still the same poll.
  const [a, b] = [pollOf(stored), repeat.data?.poll as StoredPoll | undefined];
  const [c, d] = [eventOf(stored), repeat.data?.event as StoredEvent | undefined];
  const samePoll =
    !a || !b ? a === b : a.question === b.question && a.multiple === b.multiple && a.options.join('\u0000') === b.options.join('\u0000');
  const sameEvent =
    !c || !d ? c === d : c.title === d.title && c.startsAt === d.startsAt && c.endsAt === d.endsAt && c.location === d.location;
  return samePoll && sameEvent;
};

export function historyMessage(row: EventRow, reactions: Record<string, number>, answers: AnswersNow = {}): HistoryMessage {
  if (isExpired(row)) {
    return {
      seq: row.seq,
      ts: row.ts.toISOString(),
      sender: row.senderId,
      text: null,
      replyTo: null,
      mentions: [],
      clientMsgId: row.clientMsgId,
      editedAt: null,
      deleted: row.deleted,
      reactions: {},
      expiresAt: row.expiresAt?.toISOString(),
      expired: true,
    };
  }
  return {
    seq: row.seq,
    ts: row.ts.toISOString(),
    sender: row.senderId,
    text: row.deleted ? null : row.text,
    replyTo: row.replyTo,
    mentions: (row.data?.mentions as string[] | undefined) ?? [],
    clientMsgId: row.clientMsgId,
    editedAt: row.editedAt ? row.editedAt.toISOString() : null,
    deleted: row.deleted,
    reactions,
    ...(attachmentsOf(row).length > 0 ? { attachments: attachmentsOf(row) } : {}),
    ...(row.expiresAt ? { expiresAt: row.expiresAt.toISOString() } : {}),
    ...(row.deleted ? {} : answers),
  };
}
