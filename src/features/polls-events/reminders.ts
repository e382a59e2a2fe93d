import { randomBytes } from 'node:crypto';
import type { Db } from '../../platform/db/connect.js';
import type { Job } from '../../platform/jobs/job.js';
import type { Logger } from '../../platform/obs/logger.js';
import type { StoredEvent } from '../../protocol/frames.js';
import { notificationSource, reminderPayload } from '../notifications/index.js';
import { claimReminders, fireReminder, nextReminderDue } from './queries.js';

const REMINDER_BATCH = 20;

export interface EventRemindersDeps {
  db: Db;
  logger: Logger;
  /** How long a replica owns claimed reminders before another may take them over. */
  leaseMs: number;
  /** The longest an idle job waits (reminders another replica stored are seen then). */
  pollMs: number;
  /** Pushes to a device within this of its last are coalesced (PUSH_COALESCE_MS). */
  coalesceMs: number;
  /** Reminders fired owe pushes: the push loops should claim them now. */
  pushesOwed: () => void;
}

/**
 * Event reminders (docs/protocol.md §8 "Polls and events"): a queued job that fires each due
 * reminder once across replicas. Each is claimed (a row lease) and then, in one transaction that
 * deletes it, owes a push to the members who answered going or maybe, on every device of theirs,
 * connected or not: no socket frame carries a reminder. Between batches it sleeps until the next
 * reminder is due, at most `pollMs`.
 */
export class EventReminders {
  private readonly token = randomBytes(8).toString('hex');

  constructor(private readonly deps: EventRemindersDeps) {}

  job(): Job {
    return {
      name: 'events.reminders',
      kind: 'queued',
      everyMs: this.deps.pollMs,
      run: async () => {
        const fired = await this.fireDue();
        if (fired >= REMINDER_BATCH) return { inMs: 0 };
        return { inMs: await this.untilNextDue() };
      },
    };
  }

  /** Fires up to a batch of due reminders; returns how many were claimed. */
  async fireDue(): Promise<number> {
    const { db, coalesceMs } = this.deps;
    const claimed = await claimReminders(db, this.token, this.deps.leaseMs, REMINDER_BATCH);
    for (const { groupId, seq } of claimed) {
      const source = await notificationSource(db, groupId, seq);
      const event = source && !source.deleted ? (source.data?.event as StoredEvent | undefined) : undefined;
      // A message deleted meanwhile took its answers with it: firing owes nobody anything.
      const payload = source && event ? reminderPayload(groupId, seq, source, event) : {};
      const owed = await fireReminder(db, { groupId, seq, token: this.token, payload, coalesceMs });
      if (owed?.length) this.deps.logger.debug('event reminder owed', { groupId, seq, users: owed.length });
    }
    if (claimed.length > 0) this.deps.pushesOwed();
    return claimed.length;
  }

  private async untilNextDue(): Promise<number> {
    const due = await nextReminderDue(this.deps.db);
    const { pollMs } = this.deps;
    if (!due) return pollMs;
    return Math.max(5, Math.min(pollMs, due.getTime() - Date.now()));
  }
}
