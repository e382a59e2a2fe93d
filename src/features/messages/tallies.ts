import { draft, findMessage, lockGroupLog } from './queries.js';
import { pollCounts, rsvpCounts } from '../polls-events/index.js';
import { claimTally, dueTallies, nextTallyDue, reactionCounts, type TallySubject } from './tally-queries.js';
import { type ChatDeps, nowOf } from '../../platform/deps.js';
import { commit } from '../../platform/db/outbox.js';
import { type Job, type JobNext, JobTrigger } from '../../platform/jobs/job.js';

/** Tallies flushed per pass; more wait for the next. */
const BATCH = 100;
/** How often an idle replica looks for tallies another (perhaps dead) replica left owed. */
const SWEEP_MS = 5000;
/** The soonest a pass follows a reaction: toggles of that moment go in one tally. */
const MIN_DELAY_MS = 50;

/**
 * Writes the tallies of announcement groups (docs/protocol.md §8 "Privacy and safety", docs/protocol.md §8): one `reactions` event per
 * message at most every `tallyIntervalMs`, never one per reaction, and likewise one `tally` event
 * of a poll's votes or an event's answers, never one per vote. The state lives in storage
 * (reactions, poll_votes, event_rsvps and reaction_tallies), and a flush claims its tally under
 * the group's log lock, so any replica may flush, none twice, and an answer stored meanwhile is
 * owed to the next tally.
 */
export class ReactionTallies {
  private readonly trigger = new JobTrigger();

  constructor(private readonly deps: ChatDeps) {}

  /** A reaction, vote or RSVP made a tally owed: a pass runs when it is due. */
  owed(): void {
    this.trigger.kick(MIN_DELAY_MS);
  }

  /** Queued: kicked by owed(), and a sweep at least every SWEEP_MS for tallies another replica left owed. */
  job(): Job {
    return { name: 'messages.tallies', kind: 'queued', everyMs: SWEEP_MS, trigger: this.trigger, run: () => this.pass() };
  }

  /** Flushes what is due; the next pass when the next owed tally is due. */
  private async pass(): Promise<JobNext | undefined> {
    for (const t of await dueTallies(this.deps.db, BATCH)) await this.flush(t.groupId, t.messageSeq, t.subject);
    const next = await nextTallyDue(this.deps.db);
    return next ? { inMs: Math.min(SWEEP_MS, Math.max(MIN_DELAY_MS, next.getTime() - nowOf(this.deps))) } : undefined;
  }

  private async flush(groupId: string, messageSeq: number, subject: TallySubject): Promise<void> {
    await commit(this.deps, async (tx, outbox) => {
      // The log lock first, as reactions and answers take it: no deadlock, and no change between count and claim.
      await lockGroupLog(tx, groupId);
      if (!(await claimTally(tx, groupId, messageSeq, subject))) return;
      // Nobody's event: an empty sender, so a tally names no member.
      if (subject === 'reactions') {
        const counts = await reactionCounts(tx, groupId, messageSeq);
        await outbox.append(tx, groupId, [draft('', 'reactions', { target: messageSeq, data: { counts } })]);
        return;
      }
      const message = await findMessage(tx, groupId, messageSeq);
      const poll = message?.data?.poll as { options: string[] } | undefined;
      if (!message || message.deleted || !(poll || message.data?.event)) return;
      const counts = poll ? await pollCounts(tx, groupId, messageSeq, poll.options.length) : await rsvpCounts(tx, groupId, messageSeq);
      await outbox.append(tx, groupId, [draft('', 'tally', { target: messageSeq, data: { counts } })]);
    });
  }
}
