import type { Tx } from '../db/connect.js';
import {
  draft,
  eraseMessage,
  eventsInRanges,
  findMessage,
  type LogRange,
  lockGroupLog,
  messagesBefore,
  setMessageText,
  setReaction,
} from '../db/events.js';
import { advanceReadSeq, countReaders, findGroup, findMemberLastSeqs } from '../db/groups.js';
import type { EventRow } from '../db/schema.js';
import type { SendInput } from '../protocol/commands.js';
import { conflict, forbidden, notFound } from '../protocol/errors.js';
import { encodeEvent, type HistoryMessage } from '../protocol/frames.js';
import { assertMayPost, isAdmin, requireMember } from './access.js';
import type { ChatDeps } from './deps.js';
import type { MembershipCache } from './membership-cache.js';
import { commit, publishCommitted } from './outbox.js';
import { ReadBudget } from './read-budget.js';
import type { ReachStats } from './reach.js';
import { advanceReadCounting } from '../db/notifications.js';
import { SendQueue, type SendResult } from './send-queue.js';

/** Messages and the log: send, edit, delete, react, read markers, history and sync. */
export class Messages {
  private readonly queue: SendQueue;
  private readonly readBudget: ReadBudget;

  constructor(
    private readonly deps: ChatDeps,
    private readonly membership: MembershipCache,
    private readonly reach?: ReachStats,
  ) {
    this.queue = new SendQueue(deps);
    this.readBudget = new ReadBudget({ rowsPerS: deps.limits.readBudgetRowsPerS, burstRows: deps.limits.readBudgetBurstRows });
  }

  async send(userId: string, input: SendInput): Promise<SendResult> {
    assertMayPost(await this.membership.require(input.group, userId));
    return this.sendAs(userId, input);
  }

  /** Sends without the membership check, for callers that authorized otherwise (server tokens). */
  sendAs(userId: string, input: SendInput): Promise<SendResult> {
    return this.queue.enqueue(input.group, {
      senderId: userId,
      clientMsgId: input.clientMsgId,
      text: input.text,
      replyTo: input.replyTo ?? null,
      mentions: [...new Set(input.mentions ?? [])],
    });
  }

  async edit(userId: string, input: { group: string; target: number; text: string }) {
    await requireMember(this.deps.db, input.group, userId);
    return commit(this.deps, async (tx, outbox) => {
      const message = await this.liveMessage(tx, input.group, input.target);
      if (message.senderId !== userId) throw forbidden('only the sender may edit a message');
      if (Date.now() - message.ts.getTime() > this.deps.limits.editWindowS * 1000) {
        throw conflict(`messages can be edited for ${this.deps.limits.editWindowS} seconds`);
      }
      const [row] = await outbox.append(tx, input.group, [draft(userId, 'edit', { target: input.target, text: input.text })]);
      await setMessageText(tx, input.group, input.target, input.text, row!.ts);
      return ackOf(row!);
    });
  }

  async delete(userId: string, input: { group: string; target: number }) {
    const membership = await requireMember(this.deps.db, input.group, userId);
    return commit(this.deps, async (tx, outbox) => {
      const message = await this.liveMessage(tx, input.group, input.target);
      if (message.senderId !== userId && !isAdmin(membership)) {
        throw forbidden('only the sender or a group admin may delete a message');
      }
      await eraseMessage(tx, input.group, input.target);
      const [row] = await outbox.append(tx, input.group, [draft(userId, 'delete', { target: input.target })]);
      return ackOf(row!);
    });
  }

  /** Sets or removes (emoji null) the caller's one reaction; no event when nothing changes. */
  async react(userId: string, input: { group: string; target: number; emoji: string | null }) {
    await requireMember(this.deps.db, input.group, userId);
    return commit(this.deps, async (tx, outbox) => {
      await this.liveMessage(tx, input.group, input.target);
      const changed = await setReaction(tx, input.group, input.target, userId, input.emoji);
      if (!changed) return { group: input.group };
      const [row] = await outbox.append(tx, input.group, [
        draft(userId, 'reaction', { target: input.target, data: { emoji: input.emoji } }),
      ]);
      return ackOf(row!);
    });
  }

  /** Moves the read marker forward; the user's other sockets hear of it. */
  async markRead(userId: string, input: { group: string; seq: number }, connectionId?: string) {
    const membership = await requireMember(this.deps.db, input.group, userId);
    let seq: number | undefined;
    if (membership.kind === 'announcement' && this.reach) {
      // Announcements count their readers as markers pass them (reach statistics, §7).
      const moved = await this.deps.db.transaction((tx) => advanceReadCounting(tx, input.group, userId, input.seq));
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
    await requireMember(this.deps.db, input.group, userId);
    const limit = input.limit ?? 50;
    const refund = await this.readBudget.reserve(userId, limit + 1);
    const page = await messagesBefore(this.deps.db, input.group, input.before, limit);
    refund(page.messages.length + (page.hasMore ? 1 : 0));
    const reply = new ReplyBytes(this.deps.limits.maxReplyBytes);
    const messages: HistoryMessage[] = [];
    const json: string[] = [];
    for (const { row, reactions } of page.messages) {
      const message = historyMessage(row, reactions);
      const encoded = JSON.stringify(message);
      if (!reply.fits(encoded)) break;
      messages.push(message);
      json.push(encoded);
    }
    return { messages, json, hasMore: page.hasMore || messages.length < page.messages.length };
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
    const { syncLimit, maxReplyBytes } = this.deps.limits;
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
    const refund = await this.readBudget.reserve(userId, syncLimit - rowsLeft);
    const rows = await eventsInRanges(this.deps.db, ranges, maxReplyBytes);
    refund(rows.length);
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
    const out: Record<string, SyncedGroup> = {};
    for (const id of ids) {
      const group = got.get(id);
      out[id] = { events: group?.events ?? [], hasMore: lastSeq.get(id)! > (group?.last ?? groups[id]!) };
    }
    return out;
  }

  async typing(userId: string, groupId: string, connectionId: string) {
    assertMayPost(await this.membership.require(groupId, userId));
    await this.deps.publisher.typing(groupId, userId, connectionId);
  }

  async receipts(userId: string, groupId: string, seq: number) {
    await requireMember(this.deps.db, groupId, userId);
    const [readBy, group] = await Promise.all([countReaders(this.deps.db, groupId, seq), findGroup(this.deps.db, groupId)]);
    return { readBy, memberCount: group?.memberCount ?? 0 };
  }

  /** Locks the group's log first, so a concurrent edit and delete of one message serialise. */
  private async liveMessage(tx: Tx, groupId: string, seq: number) {
    await lockGroupLog(tx, groupId);
    const message = await findMessage(tx, groupId, seq);
    if (!message) throw notFound('message');
    if (message.deleted) throw conflict('message was deleted');
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
}

const ackOf = (row: EventRow) => ({ group: row.groupId, seq: row.seq, ts: row.ts });

export function historyMessage(row: EventRow, reactions: Record<string, number>): HistoryMessage {
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
  };
}
