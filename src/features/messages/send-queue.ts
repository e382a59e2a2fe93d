import type { Tx } from '../../platform/db/connect.js';
import { isUniqueViolation, MissingGroup } from '../../platform/db/errors.js';
import { retryConflicts, transaction } from '../../platform/db/transaction.js';
import { appendEvents, appendMessages, findMessagesByClientIds, messageDraft, type MessageInsert } from './queries.js';
import { oweNotifications } from '../notifications/index.js';
import type { EventRow } from '../../platform/db/schema.js';
import type { LogEvent } from '../../protocol/frames.js';
import { AppError, conflict, notFound } from '../../protocol/errors.js';
import type { ChatDeps } from '../../platform/deps.js';
import { publishCommitted } from '../../platform/db/outbox.js';
import type { TraceContext } from '../../platform/obs/tracing.js';

/** One send of one sender, its group aside. */
export type NewMessage = Omit<MessageInsert, 'groupId' | 'ord'>;

export interface SendResult {
  group: string;
  seq: number;
  ts: Date;
}

interface Pending {
  groupId: string;
  message: NewMessage;
  resolve: (r: SendResult) => void;
  reject: (err: unknown) => void;
  /** With tracing on: the send's trace, which its statement and its publish belong to. */
  trace?: TraceContext;
}

const keyOf = (senderId: string, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`;

class DuplicateRace extends Error {}

/**
 * Whether a repeated send (same sender and clientMsgId) carries what the stored one did. A message
 * edited or deleted since cannot be compared and counts as the same: its sender is retrying.
 */
export function sameContent(stored: StoredContent, m: Pick<NewMessage, 'text' | 'replyTo' | 'mentions'>): boolean {
  if (stored.edited) return true;
  const mentions = Array.isArray(stored.mentions) ? (stored.mentions as string[]) : [];
  return (
    stored.text === m.text && (stored.replyTo ?? null) === (m.replyTo ?? null) && mentions.join('\u0000') === m.mentions.join('\u0000')
  );
}

type StoredContent = { text: string | null; replyTo: number | null; mentions: unknown; edited?: boolean };

/** What a stored message's repeat is compared with. */
export const storedContent = (row: EventRow): StoredContent => ({
  text: row.text,
  replyTo: row.replyTo,
  mentions: row.data?.mentions,
  // Changed since (an expired message too): a retry gets the first ack, whatever it carries.
  edited: row.editedAt !== null || row.deleted || row.expired,
});

const reused = () => conflict('this clientMsgId was used for a different message');

/** How a batch went: stored (events to publish, by send key), or already settled by the careful path. */
type Outcome = { stored: Map<string, LogEvent> } | { settled: true } | { failed: unknown };

const sendKey = (groupId: string, senderId: string, clientMsgId: string) => `${groupId}\u0000${keyOf(senderId, clientMsgId)}`;

/** Each stored event's trace: that of the send that stored it. */
function tracesOf(batch: Pending[], stored: Map<string, LogEvent>): Map<LogEvent, TraceContext> {
  const traces = new Map<LogEvent, TraceContext>();
  for (const p of batch) {
    const e = stored.get(sendKey(p.groupId, p.message.senderId, p.message.clientMsgId));
    if (e && p.trace && !traces.has(e)) traces.set(e, p.trace);
  }
  return traces;
}

/**
 * Group commit: sends that arrive while earlier batches are being stored wait and go together,
 * whatever their groups, in one statement (one round trip, one WAL flush). A lone send goes at
 * once. Up to `maxInFlight` batches may be stored at the same time.
 * Batches are published and answered in the order they started, and a group is in one batch at
 * a time, so each group's events leave this replica in seq order.
 * A repeated clientMsgId makes the fast statement fail as a whole; that batch then takes the
 * per-group path, which looks the stored ones up and answers them with their first ack.
 */
export class SendQueue {
  private pending: Pending[] = [];
  private inFlight = 0;
  /** Groups with sends in a batch being stored now. */
  private readonly busyGroups = new Set<string>();
  /** Sends of a batch that repeat an earlier send's clientMsgId with other content: answered 409. */
  private readonly reusedIds = new Set<Pending>();
  /** Resolves when the last started batch has been published and answered. */
  private lastSettled: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: ChatDeps,
    private readonly maxBatch = 2000,
    // 1 measured best on 2 shared cores with a slow WAL flush (p99 116 ms vs 406 ms with 4 at
    // 1,000 sends/s, BENCHMARKS.md); more may pay where PostgreSQL has cores of its own.
    private readonly maxInFlight = 1,
  ) {}

  enqueue(groupId: string, message: NewMessage): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      const { tracing } = this.deps;
      this.pending.push(
        tracing?.on ? { groupId, message, resolve, reject, trace: tracing.active() } : { groupId, message, resolve, reject },
      );
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const batch = this.nextBatch();
      if (batch.length === 0) return;
      const groups = new Set(batch.map((p) => p.groupId));
      for (const g of groups) this.busyGroups.add(g);
      this.inFlight++;
      // Traced, the batch's statement belongs to its first send's trace (one statement, one span).
      const { tracing } = this.deps;
      const outcome = tracing?.on ? tracing.within(batch[0]!.trace, () => this.store(batch)) : this.store(batch);
      const previous = this.lastSettled;
      this.lastSettled = outcome.then(async (o) => {
        await previous;
        this.settle(batch, o);
      });
      void outcome.finally(() => {
        for (const g of groups) this.busyGroups.delete(g);
        this.inFlight--;
        this.pump();
      });
    }
  }

  /**
   * Takes pending sends in arrival order, leaving those of groups a batch in flight is storing:
   * two statements on two connections may reach PostgreSQL in either order, so a group is in
   * one batch at a time, and its sends get their seqs in the order they arrived.
   */
  private nextBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of this.pending) {
      if (batch.length < this.maxBatch && !this.busyGroups.has(p.groupId)) batch.push(p);
      else rest.push(p);
    }
    this.pending = rest;
    return batch;
  }

  /** Stores a batch; never rejects. */
  private async store(batch: Pending[]): Promise<Outcome> {
    // One insert per (group, sender, clientMsgId); repeats within the batch share its result.
    const unique = new Map<string, MessageInsert>();
    const ords = new Map<string, number>();
    for (const p of batch) {
      const key = sendKey(p.groupId, p.message.senderId, p.message.clientMsgId);
      const first = unique.get(key);
      if (first) {
        if (!sameContent({ text: first.text, replyTo: first.replyTo, mentions: first.mentions }, p.message)) this.reusedIds.add(p);
        continue;
      }
      const ord = (ords.get(p.groupId) ?? 0) + 1;
      ords.set(p.groupId, ord);
      unique.set(key, { groupId: p.groupId, ord, ...p.message });
    }
    let rows: Awaited<ReturnType<typeof appendMessages>>;
    try {
      rows = await retryConflicts(() => appendMessages(this.deps.db, [...unique.values()]), {
        onRetry: () => this.deps.metrics.dbConflictRetries.inc(),
      });
    } catch (err) {
      if (!isUniqueViolation(err)) return { failed: err };
      await this.storePerGroup(batch);
      return { settled: true };
    }
    this.deps.metrics.appendBatch.observe(unique.size);
    this.deps.metrics.eventsStored.inc({ kind: 'message' }, rows.length);
    const stored = new Map<string, LogEvent>();
    for (const row of rows) {
      const key = sendKey(row.groupId, row.senderId, row.clientMsgId);
      const m = unique.get(key)!;
      stored.set(key, {
        groupId: row.groupId,
        seq: row.seq,
        ts: row.ts,
        senderId: m.senderId,
        kind: 'message',
        clientMsgId: m.clientMsgId,
        text: m.text,
        target: null,
        replyTo: m.replyTo,
        data: { mentions: m.mentions },
        editedAt: null,
        deleted: false,
        expiresAt: row.expiresAt,
        expired: false,
      });
    }
    return { stored };
  }

  /** Publishes a stored batch (in seq order per group), then answers each of its sends. */
  private settle(batch: Pending[], outcome: Outcome): void {
    if ('settled' in outcome) return;
    if ('failed' in outcome) {
      for (const p of batch) {
        this.reusedIds.delete(p);
        p.reject(outcome.failed);
      }
      return;
    }
    // Committed: handed to the bus now, in batch order (publishCommitted issues before its first
    // await); the acks do not wait for the bus, and its failure is not the sender's.
    const events = [...outcome.stored.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : a.seq - b.seq));
    void publishCommitted(this.deps, this.deps.tracing?.on ? { events, traces: tracesOf(batch, outcome.stored) } : { events });
    for (const p of batch) {
      const e = outcome.stored.get(sendKey(p.groupId, p.message.senderId, p.message.clientMsgId));
      if (this.reusedIds.delete(p)) p.reject(reused());
      else if (e) p.resolve({ group: e.groupId, seq: e.seq, ts: e.ts });
      else p.reject(notFound('group')); // the group is gone
    }
  }

  /** The careful path, one transaction per group, after a repeated clientMsgId. */
  private async storePerGroup(batch: Pending[]): Promise<void> {
    const groups = new Map<string, Pending[]>();
    for (const p of batch) {
      const list = groups.get(p.groupId);
      if (list) list.push(p);
      else groups.set(p.groupId, [p]);
    }
    for (const [groupId, list] of groups) {
      try {
        const results = await this.storeGroup(
          groupId,
          list.map((p) => p.message),
        );
        for (const [i, p] of list.entries()) {
          const r = results[i]!;
          this.reusedIds.delete(p);
          if (r instanceof AppError) p.reject(r);
          else p.resolve(r);
        }
      } catch (err) {
        for (const p of list) {
          this.reusedIds.delete(p);
          p.reject(err);
        }
      }
    }
  }

  /** Stores one group's messages and publishes what is new; returns one result (or 409) per message, in order. */
  private async storeGroup(groupId: string, batch: NewMessage[]): Promise<(SendResult | AppError)[]> {
    const { db, metrics } = this.deps;
    let stored: Awaited<ReturnType<SendQueue['insertGroup']>>;
    try {
      // A DuplicateRace (another replica stored one of these meanwhile) is run again like a deadlock.
      stored = await transaction(db, (tx) => this.insertGroup(tx, groupId, batch), { alsoRetry: (err) => err instanceof DuplicateRace });
    } catch (err) {
      // Deleted while the send waited: to the sender it is gone, as on the fast path.
      if (err instanceof MissingGroup) throw notFound('group');
      throw err;
    }
    const { results, rows, repeated } = stored;
    metrics.appendBatch.observe(batch.length);
    metrics.eventsStored.inc({ kind: 'message' }, rows.length);
    // A repeated send is published again: the replica that stored it first may have died
    // between commit and publish, and feeds drop what they already delivered.
    await publishCommitted(this.deps, { events: [...repeated, ...rows].sort((a, b) => a.seq - b.seq) });
    return batch.map((m) => {
      const r = results.get(keyOf(m.senderId, m.clientMsgId));
      if (!r) throw notFound('group');
      return sameContent(r.content, m) ? r.result : reused();
    });
  }

  /** Looks the stored clientMsgIds up first, then inserts the others with one seq bump. */
  private async insertGroup(tx: Tx, groupId: string, batch: NewMessage[]) {
    const results = new Map<string, { result: SendResult; content: Parameters<typeof sameContent>[0] }>();
    const repeated: EventRow[] = [];
    const wanted = new Set(batch.map((m) => keyOf(m.senderId, m.clientMsgId)));
    for (const e of await findMessagesByClientIds(tx, groupId, [...new Set(batch.map((m) => m.clientMsgId))])) {
      const key = keyOf(e.senderId, e.clientMsgId!);
      if (!wanted.has(key)) continue; // another sender's message with the same clientMsgId
      const content = storedContent(e);
      results.set(key, { result: { group: groupId, seq: e.seq, ts: e.ts }, content });
      repeated.push(e);
    }
    const fresh = new Map<string, NewMessage>();
    for (const m of batch) {
      const key = keyOf(m.senderId, m.clientMsgId);
      if (!results.has(key) && !fresh.has(key)) fresh.set(key, m);
    }
    if (fresh.size === 0) return { results, rows: [] as EventRow[], repeated };

    const drafts = [...fresh.values()].map((m) => messageDraft(m.senderId, m));
    const rows = await appendEvents(tx, groupId, drafts, { skipDuplicates: true });
    if (rows.length !== drafts.length) throw new DuplicateRace();
    await oweNotifications(tx, rows);
    for (const row of rows) {
      const content = { text: row.text, replyTo: row.replyTo, mentions: row.data?.mentions };
      results.set(keyOf(row.senderId, row.clientMsgId!), { result: { group: groupId, seq: row.seq, ts: row.ts }, content });
    }
    return { results, rows, repeated };
  }
}
