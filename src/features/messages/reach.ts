import { type Job, JobTrigger } from '../../platform/jobs/job.js';
import { groupAdmins, statsOf } from '../notifications/index.js';
import type { ChatDeps } from '../../platform/deps.js';

/**
 * Live reach of announcements (docs/protocol.md §8 "Notifications"): counters changed here are sent to the group's
 * admins as `stats` frames, each message's at most once per interval (per replica), with the
 * counters as stored then.
 */
export class ReachStats {
  private readonly pending = new Map<string, { groupId: string; seq: number }>();
  private readonly trigger = new JobTrigger();

  constructor(
    private readonly deps: ChatDeps,
    private readonly intervalMs = 1000,
  ) {}

  changed(groupId: string, seq: number): void {
    this.pending.set(`${groupId}\u0000${seq}`, { groupId, seq });
    this.trigger.kick(this.intervalMs);
  }

  /** Queued: the first change of an interval kicks it for the interval's end; what is left at stop is dropped. */
  job(): Job {
    return {
      name: 'messages.reach',
      kind: 'queued',
      trigger: this.trigger,
      run: () => this.flush(),
      stop: () => this.pending.clear(),
    };
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
