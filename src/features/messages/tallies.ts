import { draft, findMessage, lockGroupLog } from './queries.js';
import { pollCounts, rsvpCounts } from '../polls-events/index.js';
import { claimTally, dueTallies, nextTallyDue, reactionCounts, type TallySubject } from './tally-queries.js';
import { type Clock, systemClock, type Timer } from '../../platform/clock.js';
import type { ChatDeps } from '../../platform/deps.js';
import { commit } from '../../platform/db/outbox.js';

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
  private timer: Timer | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly sweep: Timer;
  private readonly clock: Clock;

  constructor(private readonly deps: ChatDeps) {
    this.clock = deps.clock ?? systemClock;
    this.sweep = this.clock.setInterval(() => this.schedule(0), SWEEP_MS).unref();
  }

  /** A reaction, vote or RSVP made a tally owed: a pass runs when it is due. */
  owed(): void {
    this.schedule(MIN_DELAY_MS);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sweep.cancel();
    this.timer?.cancel();
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    const at = this.clock.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock
      .setTimeout(() => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        if (this.running) return this.schedule(MIN_DELAY_MS);
        this.running = this.pass().finally(() => (this.running = undefined));
      }, delayMs)
      .unref();
  }

  /** Flushes what is due, then sets the timer for the next owed tally. */
  private async pass(): Promise<void> {
    try {
      for (const t of await dueTallies(this.deps.db, BATCH)) {
        if (this.closed) return;
        await this.flush(t.groupId, t.messageSeq, t.subject);
      }
      const next = await nextTallyDue(this.deps.db);
      if (next) this.schedule(Math.max(MIN_DELAY_MS, next.getTime() - this.clock.now()));
    } catch (err) {
      this.deps.logger.warn('tallies: flush failed; the sweep retries', { err });
    }
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
