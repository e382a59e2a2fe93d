import { storeTalliedAnswers, type TalliedAnswer } from './queries.js';
import type { ChatDeps } from '../../platform/deps.js';

interface Waiting {
  answer: TalliedAnswer;
  resolve: (r: { live: boolean; changed: boolean }) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit of answers (votes, RSVPs) in announcement groups: every answer to one message
 * owes that message's tally row, so one statement per answer would queue on that row, one
 * commit after another (~230 votes/s measured). Answers that arrive while a statement for their
 * message is in flight wait and go together in the next: one statement and one commit for all
 * of them, and the same answer to each caller. A member's later answer in a batch wins.
 */
export class TalliedAnswers {
  private readonly queues = new Map<string, { kind: 'poll' | 'event'; groupId: string; seq: number; waiting: Waiting[]; busy: boolean }>();

  constructor(private readonly deps: ChatDeps) {}

  store(groupId: string, seq: number, kind: 'poll' | 'event', answer: TalliedAnswer): Promise<{ live: boolean; changed: boolean }> {
    const key = `${groupId}\u0000${seq}\u0000${kind}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { kind, groupId, seq, waiting: [], busy: false };
      this.queues.set(key, queue);
    }
    const q = queue;
    return new Promise((resolve, reject) => {
      q.waiting.push({ answer, resolve, reject });
      if (!q.busy) void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    const q = this.queues.get(key)!;
    q.busy = true;
    while (q.waiting.length > 0) {
      const batch = q.waiting.splice(0);
      const last = new Map<string, TalliedAnswer>();
      for (const w of batch) last.set(w.answer.userId, w.answer);
      try {
        const r = await storeTalliedAnswers(this.deps.db, {
          groupId: q.groupId,
          seq: q.seq,
          kind: q.kind,
          intervalMs: this.deps.config.messages.tallyIntervalMs,
          answers: [...last.values()],
        });
        for (const w of batch) w.resolve(r);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.queues.delete(key);
  }
}
