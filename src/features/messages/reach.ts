import { groupAdmins, statsOf } from '../notifications/index.js';
import type { ChatDeps } from '../../platform/deps.js';

/**
 * Live reach of announcements (docs/protocol.md §8 "Notifications"): counters changed here are sent to the group's
 * admins as `stats` frames, each message's at most once per interval (per replica), with the
 * counters as stored then.
 */
export class ReachStats {
  private readonly pending = new Map<string, { groupId: string; seq: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: ChatDeps,
    private readonly intervalMs = 1000,
  ) {}

  changed(groupId: string, seq: number): void {
    this.pending.set(`${groupId}\u0000${seq}`, { groupId, seq });
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch((err: unknown) => this.deps.logger.warn('stats frames failed', { err }));
    }, this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  /** Each group's due counters and its admins, one read each per flush: ten announcements in an interval cost two reads, not twenty. */
  private async flush(): Promise<void> {
    const due = new Map<string, number[]>();
    for (const { groupId, seq } of this.pending.values()) {
      const seqs = due.get(groupId);
      if (seqs) seqs.push(seq);
      else due.set(groupId, [seq]);
    }
    this.pending.clear();
    for (const [groupId, seqs] of due) {
      const [rows, admins] = await Promise.all([statsOf(this.deps.db, groupId, seqs), groupAdmins(this.deps.db, groupId)]);
      for (const row of rows.sort((a, b) => a.seq - b.seq)) {
        const stats = {
          group: groupId,
          seq: row.seq,
          members: row.members,
          delivered: row.delivered,
          notified: row.notified,
          read: row.read,
        };
        await Promise.all(admins.map((userId) => this.deps.publisher.control(userId, { kind: 'stats', stats })));
      }
    }
  }
}
