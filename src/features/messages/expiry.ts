import { dueExpiries, eraseExpired, lockGroupLogIfFree } from './expiry-queries.js';
import type { ChatDeps } from '../../platform/deps.js';
import { commit } from '../../platform/db/outbox.js';
import { unpinGoneIn } from '../pins/index.js';

/** What one sweep did. */
export interface ExpirySweep {
  /** Messages erased. */
  erased: number;
  /** Files that no message refers to any more (the attachment sweep deletes them). */
  filesDue: number;
}

/**
 * Erases expired messages, at most `batch` per call (docs/protocol.md §8 "Pins and disappearing messages").
 * Any number of replicas may run it at once: each group is erased under its log lock, taken with
 * SKIP LOCKED, and a message already erased is not erased again, so no work is done twice. Per
 * group one transaction: the messages erased, a `group` event when pins lose some of them, then
 * (after the commit) one `expired` frame to the group's sockets.
 */
export class Expiry {
  constructor(private readonly deps: ChatDeps) {}

  async sweep(batch: number): Promise<ExpirySweep> {
    const due = await dueExpiries(this.deps.db, batch);
    const byGroup = new Map<string, number[]>();
    for (const { groupId, seq } of due) byGroup.set(groupId, [...(byGroup.get(groupId) ?? []), seq]);
    const done: ExpirySweep = { erased: 0, filesDue: 0 };
    for (const [groupId, seqs] of byGroup) {
      const result = await commit(this.deps, async (tx, outbox) => {
        const group = await lockGroupLogIfFree(tx, groupId);
        if (!group) return { seqs: [], filesDue: 0 };
        const erased = await eraseExpired(tx, groupId, seqs);
        if (erased.seqs.length === 0) return erased;
        await unpinGoneIn(tx, outbox, groupId, group.pins, erased.seqs, '');
        outbox.expiredMessages(groupId, erased.seqs);
        return erased;
      });
      done.erased += result.seqs.length;
      done.filesDue += result.filesDue;
      this.deps.metrics.messagesExpired.inc(result.seqs.length);
    }
    return done;
  }
}
