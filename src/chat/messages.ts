import type { Tx } from '../db/connect.js';
import { draft, eraseMessage, eventsAfter, findMessage, lockGroupLog, messagesBefore, setMessageText, setReaction } from '../db/events.js';
import { advanceReadSeq, countReaders, findGroup } from '../db/groups.js';
import type { EventRow } from '../db/schema.js';
import type { SendInput } from '../protocol/commands.js';
import { conflict, forbidden, notFound } from '../protocol/errors.js';
import type { HistoryMessage } from '../protocol/frames.js';
import { assertMayPost, isAdmin, requireMember } from './access.js';
import type { ChatDeps } from './deps.js';
import type { MembershipCache } from './membership-cache.js';
import { commit, publishCommitted } from './outbox.js';
import { SendQueue, type SendResult } from './send-queue.js';

/** Messages and the log: send, edit, delete, react, read markers, history and sync. */
export class Messages {
  private readonly queue: SendQueue;

  constructor(
    private readonly deps: ChatDeps,
    private readonly membership: MembershipCache,
  ) {
    this.queue = new SendQueue(deps);
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
    await requireMember(this.deps.db, input.group, userId);
    const seq = await advanceReadSeq(this.deps.db, input.group, userId, input.seq);
    if (seq === undefined) throw notFound('group');
    const message = { kind: 'read', group: input.group, seq, ...(connectionId ? { except: connectionId } : {}) } as const;
    await publishCommitted(this.deps, { controls: [{ userId, message }] });
    return { group: input.group, seq };
  }

  async history(userId: string, input: { group: string; before?: number | undefined; limit?: number | undefined }) {
    await requireMember(this.deps.db, input.group, userId);
    const page = await messagesBefore(this.deps.db, input.group, input.before, input.limit ?? 50);
    return { messages: page.messages.map(({ row, reactions }) => historyMessage(row, reactions)), hasMore: page.hasMore };
  }

  /** Events after each given seq, at most syncLimit per group; groups the caller is not in are not_found. */
  async sync(userId: string, groups: Record<string, number>) {
    const entries = Object.entries(groups);
    await Promise.all(entries.map(([groupId]) => requireMember(this.deps.db, groupId, userId)));
    const limit = this.deps.limits.syncLimit;
    const out: Record<string, { events: EventRow[]; hasMore: boolean }> = {};
    for (const [groupId, after] of entries) {
      const rows = await eventsAfter(this.deps.db, groupId, after, limit + 1);
      out[groupId] = { events: rows.slice(0, limit), hasMore: rows.length > limit };
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
