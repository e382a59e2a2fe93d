import type { Tx } from '../../platform/db/connect.js';
import { draft, findMessage, lockGroupLog } from '../messages/index.js';
import {
  type AnswerPage,
  answersOf,
  closePoll,
  pollCounts,
  type RsvpAnswer,
  rsvpCounts,
  setRsvp,
  setVote,
  type TalliedAnswer,
  usersByAnswer,
  votersByOption,
} from './queries.js';
import { directGroupBlocked } from '../privacy/index.js';
import type { EventRow } from '../../platform/db/schema.js';
import { badRequest, conflict, forbidden, notFound } from '../../protocol/errors.js';
import { eventOf, isExpired, pollOf } from '../../protocol/frames.js';
import {
  assertAuthorOrGovernor,
  assertNotBlockedIn,
  assertNotMuted,
  requireMemberOrGovernor,
  requireMembership,
} from '../../platform/policy/index.js';
import { type ChatDeps, nowOf } from '../../platform/deps.js';
import { findAuthority, type MembershipCache } from '../groups/index.js';
import { commit } from '../../platform/db/outbox.js';
import { TalliedAnswers } from './tallied-answers.js';
import type { ReactionTallies } from '../messages/index.js';

/** Polls and events of announcement groups whose definitions are kept in memory (the oldest go first). */
const DEFINITIONS_CACHED = 1000;

/** What a vote or RSVP appended: where in the log, or (no event) only the group. */
export type AnswerResult = { group: string; seq: number; ts: Date } | { group: string };

/**
 * Answers to polls and events (docs/protocol.md §8 "Polls and events"). In ordinary and direct groups each answer is an
 * event of the log (`vote`, `rsvp`) that names its member; in announcement groups nobody's answer
 * is an event: the message's tally is owed (one `tally` event per TALLY_INTERVAL_MS), so 5,000
 * votes cost a few deliveries to every member, not 5,000, and a vote names no voter.
 */
export class Polls {
  private readonly talliedAnswers: TalliedAnswers;
  private readonly definitions = new Map<string, EventRow>();

  constructor(
    private readonly deps: ChatDeps,
    private readonly membership: MembershipCache,
    private readonly tallies: ReactionTallies,
  ) {
    this.talliedAnswers = new TalliedAnswers(deps);
  }

  /** Sets, changes (replaces) or with no options retracts the caller's vote. */
  async vote(userId: string, input: { group: string; target: number; options: number[] }): Promise<AnswerResult> {
    const options = [...input.options].sort((a, b) => a - b);
    return this.answer(userId, input.group, input.target, {
      check: (message) => checkVote(message, options),
      store: (tx) => setVote(tx, input.group, input.target, userId, options),
      tallied: { kind: 'poll', answer: { userId, options } },
      event: () => draft(userId, 'vote', { target: input.target, data: { options } }),
    });
  }

  /** Sets or changes the caller's answer to an event, until it is over. */
  async rsvp(userId: string, input: { group: string; target: number; answer: RsvpAnswer }): Promise<AnswerResult> {
    return this.answer(userId, input.group, input.target, {
      check: (message) => checkRsvp(message, nowOf(this.deps)),
      store: (tx) => setRsvp(tx, input.group, input.target, userId, input.answer),
      tallied: { kind: 'event', answer: { userId, answer: input.answer } },
      event: () => draft(userId, 'rsvp', { target: input.target, data: { answer: input.answer } }),
    });
  }

  /**
   * The one path of both answers, for a member (not muted, not blocked in a direct group). In
   * ordinary and direct groups: under the group's log lock (so a close and an answer serialise),
   * an answer that changed something appends its event. In announcement groups: batched with the
   * answers to the same message in flight (TalliedAnswers), no log lock (no event is appended;
   * thousands of members answer at once), and the tally owed.
   */
  private async answer(
    userId: string,
    groupId: string,
    target: number,
    how: {
      check: (message: EventRow) => void;
      store: (tx: Tx) => Promise<boolean>;
      tallied: { kind: 'poll' | 'event'; answer: TalliedAnswer };
      event: () => ReturnType<typeof draft>;
    },
  ): Promise<AnswerResult> {
    const membership = requireMembership(await this.membership.find(groupId, userId));
    assertNotMuted(membership, nowOf(this.deps));
    if (membership.kind === 'direct') assertNotBlockedIn(membership.kind, await directGroupBlocked(this.deps.db, groupId, userId));
    if (membership.kind === 'announcement') {
      how.check(await this.definition(groupId, target));
      const stored = await this.talliedAnswers.store(groupId, target, how.tallied.kind, how.tallied.answer);
      // Closed or deleted since it was read: the error that says which.
      if (!stored.live) {
        this.definitions.delete(`${groupId}\u0000${target}`);
        how.check(live(await findMessage(this.deps.db, groupId, target)));
      }
      if (stored.changed) this.tallies.owed();
      return { group: groupId };
    }
    return commit(this.deps, async (tx, outbox): Promise<AnswerResult> => {
      await lockGroupLog(tx, groupId);
      how.check(live(await findMessage(tx, groupId, target)));
      if (!(await how.store(tx))) return { group: groupId };
      const [row] = await outbox.append(tx, groupId, [how.event()]);
      return { group: groupId, seq: row!.seq, ts: row!.ts };
    });
  }

  /**
   * A live message as last read, for checking answers in announcement groups without a read
   * each: what answers depend on (options, times) never changes, and the store statement itself
   * refuses a message closed or deleted since.
   */
  private async definition(groupId: string, seq: number): Promise<EventRow> {
    const key = `${groupId}\u0000${seq}`;
    const cached = this.definitions.get(key);
    if (cached) return cached;
    const message = live(await findMessage(this.deps.db, groupId, seq));
    if (this.definitions.size >= DEFINITIONS_CACHED) this.definitions.delete(this.definitions.keys().next().value!);
    this.definitions.set(key, message);
    return message;
  }

  /** Ends voting: the poll's author, or a governor of the group (its admins, its community's). Appends `poll_closed` with the final counts. */
  async close(userId: string, groupId: string, seq: number) {
    const authority = requireMemberOrGovernor(await findAuthority(this.deps.db, groupId, userId));
    return commit(this.deps, async (tx, outbox) => {
      const message = await liveMessage(tx, groupId, seq);
      const poll = pollOf(message);
      if (!poll) throw badRequest('message is not a poll');
      assertAuthorOrGovernor(authority, message.senderId, userId, "only the poll's author or an admin may close it");
      if (poll.closed) throw conflict('poll is already closed');
      await closePoll(tx, groupId, seq);
      const counts = await pollCounts(tx, groupId, seq, poll.options.length);
      const [row] = await outbox.append(tx, groupId, [draft(userId, 'poll_closed', { target: seq, data: { counts } })]);
      return { group: groupId, seq: row!.seq, ts: row!.ts };
    });
  }

  /**
   * A poll's votes: counts per option and the caller's own vote; in ordinary and direct groups
   * also who voted for what, one page of voters at a time (docs/protocol.md §8). In announcement groups nobody, admins included, learns who voted:
   * asking for voters there is `forbidden`.
   */
  async votes(userId: string, groupId: string, seq: number, wantVoters: boolean | undefined, page: AnswerPage) {
    const membership = requireMembership(await this.membership.find(groupId, userId));
    const message = await findMessage(this.deps.db, groupId, seq);
    const poll = message && pollOf(message);
    if (!message || message.deleted || isExpired(message)) throw notFound('message');
    if (!poll) throw badRequest('message is not a poll');
    const voters = this.wantsNames(membership.kind, wantVoters, 'voters');
    const [counts, mine, names] = await Promise.all([
      pollCounts(this.deps.db, groupId, seq, poll.options.length),
      answersOf(this.deps.db, groupId, [seq], userId),
      voters ? votersByOption(this.deps.db, groupId, seq, poll.options.length, page) : undefined,
    ]);
    return {
      group: groupId,
      seq,
      closed: poll.closed ?? false,
      counts,
      mine: mine.votes.get(seq) ?? [],
      ...(names ? { voters: names.voters, nextCursor: names.nextCursor } : {}),
    };
  }

  /** An event's answers: counts and the caller's own; in ordinary and direct groups also who answered what. */
  async rsvps(userId: string, groupId: string, seq: number, wantUsers: boolean | undefined, page: AnswerPage) {
    const membership = requireMembership(await this.membership.find(groupId, userId));
    const message = await findMessage(this.deps.db, groupId, seq);
    if (!message || message.deleted || isExpired(message)) throw notFound('message');
    if (!eventOf(message)) throw badRequest('message is not an event');
    const users = this.wantsNames(membership.kind, wantUsers, 'users');
    const [counts, mine, names] = await Promise.all([
      rsvpCounts(this.deps.db, groupId, seq),
      answersOf(this.deps.db, groupId, [seq], userId),
      users ? usersByAnswer(this.deps.db, groupId, seq, page) : undefined,
    ]);
    return {
      group: groupId,
      seq,
      counts,
      mine: mine.rsvps.get(seq) ?? null,
      ...(names ? { users: names.users, nextCursor: names.nextCursor } : {}),
    };
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
  return live(await findMessage(tx, groupId, seq));
}

function live(message: EventRow | undefined): EventRow {
  if (!message) throw notFound('message');
  if (message.deleted) throw conflict('message was deleted');
  if (isExpired(message)) throw conflict('message expired');
  return message;
}

/** A vote must name an open poll and options it has (one, unless `multiple`). */
function checkVote(message: EventRow, options: number[]): void {
  const poll = pollOf(message);
  if (!poll) throw badRequest('message is not a poll', { issues: [{ path: 'target', message: 'must name a poll' }] });
  if (poll.closed) throw conflict('poll is closed');
  if (options.some((i) => i >= poll.options.length)) {
    throw badRequest('no such option', { issues: [{ path: 'options', message: `options of this poll are 0–${poll.options.length - 1}` }] });
  }
  if (!poll.multiple && options.length > 1) {
    throw badRequest('this poll takes one option', { issues: [{ path: 'options', message: 'at most one option' }] });
  }
}

/** An RSVP must name an event that is not over (its end, or its start when it has no end). */
function checkRsvp(message: EventRow, now: number): void {
  const event = eventOf(message);
  if (!event) throw badRequest('message is not an event', { issues: [{ path: 'target', message: 'must name an event' }] });
  if (Date.parse(event.endsAt ?? event.startsAt) <= now) throw conflict('the event is over');
}
