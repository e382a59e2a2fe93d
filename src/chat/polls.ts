import type { Tx } from '../db/connect.js';
import { draft, findMessage, lockGroupLog } from '../db/events.js';
import {
  answersOf,
  closePoll,
  pollCounts,
  type RsvpAnswer,
  rsvpCounts,
  setRsvp,
  setVote,
  usersByAnswer,
  votersByOption,
} from '../db/polls.js';
import { directGroupBlocked } from '../db/privacy.js';
import { markTallyOwed } from '../db/tallies.js';
import type { EventRow } from '../db/schema.js';
import { badRequest, conflict, forbidden, notFound } from '../protocol/errors.js';
import { eventOf, pollOf } from '../protocol/frames.js';
import { assertNotMuted, requireMemberOrGovernor } from './authority.js';
import type { ChatDeps } from './deps.js';
import type { MembershipCache } from './membership-cache.js';
import { commit } from './outbox.js';
import type { ReactionTallies } from './tallies.js';

/** What a vote or RSVP appended: where in the log, or (no event) only the group. */
export type AnswerResult = { group: string; seq: number; ts: Date } | { group: string };

/**
 * Answers to polls and events (PROTOCOL.md §8). In ordinary and direct groups each answer is an
 * event of the log (`vote`, `rsvp`) that names its member; in announcement groups nobody's answer
 * is an event: the message's tally is owed (one `tally` event per TALLY_INTERVAL_MS), so 5,000
 * votes cost a few deliveries to every member, not 5,000, and a vote names no voter.
 */
export class Polls {
  constructor(
    private readonly deps: ChatDeps,
    private readonly membership: MembershipCache,
    private readonly tallies: ReactionTallies,
  ) {}

  /** Sets, changes (replaces) or with no options retracts the caller's vote. */
  async vote(userId: string, input: { group: string; target: number; options: number[] }): Promise<AnswerResult> {
    return this.answer(userId, input.group, input.target, async (tx, message) => {
      const poll = pollOf(message);
      if (!poll) throw badRequest('message is not a poll', { issues: [{ path: 'target', message: 'must name a poll' }] });
      if (poll.closed) throw conflict('poll is closed');
      const outOfRange = input.options.filter((i) => i >= poll.options.length);
      if (outOfRange.length > 0) {
        throw badRequest('no such option', {
          issues: [{ path: 'options', message: `options of this poll are 0–${poll.options.length - 1}` }],
        });
      }
      if (!poll.multiple && input.options.length > 1) {
        throw badRequest('this poll takes one option', { issues: [{ path: 'options', message: 'at most one option' }] });
      }
      if (!(await setVote(tx, input.group, input.target, userId, input.options))) return undefined;
      return draft(userId, 'vote', { target: input.target, data: { options: [...input.options].sort((a, b) => a - b) } });
    });
  }

  /** Sets or changes the caller's answer to an event, until it is over. */
  async rsvp(userId: string, input: { group: string; target: number; answer: RsvpAnswer }): Promise<AnswerResult> {
    return this.answer(userId, input.group, input.target, async (tx, message) => {
      const event = eventOf(message);
      if (!event) throw badRequest('message is not an event', { issues: [{ path: 'target', message: 'must name an event' }] });
      if (Date.parse(event.endsAt ?? event.startsAt) <= Date.now()) throw conflict('the event is over');
      if (!(await setRsvp(tx, input.group, input.target, userId, input.answer))) return undefined;
      return draft(userId, 'rsvp', { target: input.target, data: { answer: input.answer } });
    });
  }

  /**
   * The one path of both answers: a member (not muted, not blocked in a direct group) answers a
   * live message under the group's log lock (so a close and a vote serialise); an answer that
   * changes nothing appends nothing.
   */
  private async answer(
    userId: string,
    groupId: string,
    target: number,
    apply: (tx: Tx, message: EventRow) => Promise<ReturnType<typeof draft> | undefined>,
  ): Promise<AnswerResult> {
    const membership = await this.membership.require(groupId, userId);
    assertNotMuted(membership);
    if (membership.kind === 'direct' && (await directGroupBlocked(this.deps.db, groupId, userId))) throw forbidden('you cannot send here');
    const tallied = membership.kind === 'announcement';
    let owed = false;
    const result = await commit(this.deps, async (tx, outbox): Promise<AnswerResult> => {
      const message = await liveMessage(tx, groupId, target);
      const event = await apply(tx, message);
      if (!event) return { group: groupId };
      if (tallied) {
        await markTallyOwed(tx, groupId, target, this.deps.limits.tallyIntervalMs, 'answers');
        owed = true;
        return { group: groupId };
      }
      const [row] = await outbox.append(tx, groupId, [event]);
      return { group: groupId, seq: row!.seq, ts: row!.ts };
    });
    if (owed) this.tallies.owed();
    return result;
  }

  /** Ends voting: the poll's author, or a governor of the group (its admins, its community's). Appends `poll_closed` with the final counts. */
  async close(userId: string, groupId: string, seq: number) {
    const authority = await requireMemberOrGovernor(this.deps.db, groupId, userId);
    return commit(this.deps, async (tx, outbox) => {
      const message = await liveMessage(tx, groupId, seq);
      const poll = pollOf(message);
      if (!poll) throw badRequest('message is not a poll');
      if (message.senderId !== userId && !authority.governs) throw forbidden("only the poll's author or an admin may close it");
      if (poll.closed) throw conflict('poll is already closed');
      await closePoll(tx, groupId, seq);
      const counts = await pollCounts(tx, groupId, seq, poll.options.length);
      const [row] = await outbox.append(tx, groupId, [draft(userId, 'poll_closed', { target: seq, data: { counts } })]);
      return { group: groupId, seq: row!.seq, ts: row!.ts };
    });
  }

  /**
   * A poll's votes: counts per option and the caller's own vote; in ordinary and direct groups
   * also who voted for what. In announcement groups nobody, admins included, learns who voted:
   * asking for voters there is `forbidden`.
   */
  async votes(userId: string, groupId: string, seq: number, wantVoters: boolean | undefined) {
    const membership = await this.membership.require(groupId, userId);
    const message = await findMessage(this.deps.db, groupId, seq);
    const poll = message && pollOf(message);
    if (!message || message.deleted) throw notFound('message');
    if (!poll) throw badRequest('message is not a poll');
    const voters = this.wantsNames(membership.kind, wantVoters, 'voters');
    const [counts, mine, names] = await Promise.all([
      pollCounts(this.deps.db, groupId, seq, poll.options.length),
      answersOf(this.deps.db, groupId, [seq], userId),
      voters ? votersByOption(this.deps.db, groupId, seq, poll.options.length) : undefined,
    ]);
    return {
      group: groupId,
      seq,
      closed: poll.closed ?? false,
      counts,
      mine: mine.votes.get(seq) ?? [],
      ...(names ? { voters: names } : {}),
    };
  }

  /** An event's answers: counts and the caller's own; in ordinary and direct groups also who answered what. */
  async rsvps(userId: string, groupId: string, seq: number, wantUsers: boolean | undefined) {
    const membership = await this.membership.require(groupId, userId);
    const message = await findMessage(this.deps.db, groupId, seq);
    if (!message || message.deleted) throw notFound('message');
    if (!eventOf(message)) throw badRequest('message is not an event');
    const users = this.wantsNames(membership.kind, wantUsers, 'users');
    const [counts, mine, names] = await Promise.all([
      rsvpCounts(this.deps.db, groupId, seq),
      answersOf(this.deps.db, groupId, [seq], userId),
      users ? usersByAnswer(this.deps.db, groupId, seq) : undefined,
    ]);
    return { group: groupId, seq, counts, mine: mine.rsvps.get(seq) ?? null, ...(names ? { users: names } : {}) };
  }

  /** Names are given by default outside announcement groups, and never in them (the roster is private). */
  private wantsNames(kind: 'group' | 'announcement' | 'direct', asked: boolean | undefined, what: string): boolean {
    if (kind !== 'announcement') return asked ?? true;
    if (asked) throw forbidden(`${what} are private in announcement groups: only counts are shown`);
    return false;
  }
}

/** The group's log locked first (as every writer of it does), then the message, which must be live. */
async function liveMessage(tx: Tx, groupId: string, seq: number): Promise<EventRow> {
  await lockGroupLog(tx, groupId);
  const message = await findMessage(tx, groupId, seq);
  if (!message) throw notFound('message');
  if (message.deleted) throw conflict('message was deleted');
  return message;
}
