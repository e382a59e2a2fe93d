import type { Tx } from '../db/connect.js';
import { appendEvents, findMessagesByClientIds, messageDraft } from '../db/events.js';
import type { EventRow } from '../db/schema.js';
import type { ChatDeps } from './deps.js';

export interface NewMessage {
  senderId: string;
  clientMsgId: string;
  text: string;
  replyTo: number | null;
  mentions: string[];
}

export interface SendResult {
  group: string;
  seq: number;
  ts: Date;
}

interface Pending {
  message: NewMessage;
  resolve: (r: SendResult) => void;
  reject: (err: unknown) => void;
}

const keyOf = (senderId: string, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`;

class DuplicateRace extends Error {}

/**
 * Group commit: sends to one group that arrive while its previous batch is being stored wait and
 * go together in the next transaction (one seq bump, one multi-row insert). Batches of a group run
 * one after another, so events are published in seq order.
 */
export class SendQueue {
  private readonly queues = new Map<string, Pending[]>();

  constructor(
    private readonly deps: ChatDeps,
    private readonly maxBatch = 512,
  ) {}

  enqueue(groupId: string, message: NewMessage): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(groupId);
      if (queue) {
        queue.push({ message, resolve, reject });
        return;
      }
      this.queues.set(groupId, [{ message, resolve, reject }]);
      void this.drain(groupId);
    });
  }

  private async drain(groupId: string): Promise<void> {
    const queue = this.queues.get(groupId)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      try {
        const results = await this.store(groupId, batch.map((p) => p.message));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.queues.delete(groupId);
  }

  /** Stores a batch and publishes what is new; returns one result per message, in order. */
  private async store(groupId: string, batch: NewMessage[]): Promise<SendResult[]> {
    const { db, publisher, metrics } = this.deps;
    for (let attempt = 0; ; attempt++) {
      try {
        const { results, rows, repeated } = await db.transaction((tx) => this.insertBatch(tx, groupId, batch, attempt > 0));
        metrics.appendBatch.observe(batch.length);
        metrics.eventsStored.inc({ kind: 'message' }, rows.length);
        // A repeated send is published again: the replica that stored it first may have died
        // between commit and publish, and feeds drop what they already delivered.
        const publish = [...repeated, ...rows].sort((a, b) => a.seq - b.seq);
        if (publish.length > 0) {
          // Committed: a bus failure must not turn a stored message into an error for its sender.
          await publisher.events(publish).catch((err: unknown) => this.deps.logger.error('publish failed', { groupId, err }));
        }
        return batch.map((m) => results.get(keyOf(m.senderId, m.clientMsgId))!);
      } catch (err) {
        if (!(err instanceof DuplicateRace) || attempt >= 3) throw err;
      }
    }
  }

  /**
   * Fast path: one seq bump and one insert. The idempotency index catches a repeated
   * clientMsgId; then the transaction is retried with a lookup of the stored ones first.
   */
  private async insertBatch(tx: Tx, groupId: string, batch: NewMessage[], lookUpFirst: boolean) {
    const results = new Map<string, SendResult>();
    const repeated: EventRow[] = [];
    if (lookUpFirst) {
      const wanted = new Set(batch.map((m) => keyOf(m.senderId, m.clientMsgId)));
      const existing = await findMessagesByClientIds(tx, groupId, [...new Set(batch.map((m) => m.clientMsgId))]);
      for (const e of existing) {
        const key = keyOf(e.senderId, e.clientMsgId!);
        if (!wanted.has(key)) continue;
        results.set(key, { group: groupId, seq: e.seq, ts: e.ts });
        repeated.push(e);
      }
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
    for (const row of rows) results.set(keyOf(row.senderId, row.clientMsgId!), { group: groupId, seq: row.seq, ts: row.ts });
    return { results, rows, repeated };
  }
}
