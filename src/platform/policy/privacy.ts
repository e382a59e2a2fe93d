import { badRequest, forbidden, notFound } from '../../protocol/errors.js';
import type { GroupKind } from './access.js';

// Privacy decisions (docs/protocol.md §8 "Privacy and safety"): who may add whom, who sees whose
// presence and last seen, what a block stops. Pure: the privacy and presence features load the
// settings and block flags. Where SQL filters many rows at once (profiles, presence audiences,
// push candidates) it states these same rules in its WHERE clause.

export type Audience = 'everyone' | 'shared' | 'nobody';

/** `lastSeen` of a user who never chose. */
export const DEFAULT_LAST_SEEN: Audience = 'shared';

/** A user's `groupAdd` setting, the server's default when they never chose. */
export const groupAddOf = (setting: Audience | null, serverDefault: Audience): Audience => setting ?? serverDefault;

/** A user's `lastSeen` setting, the default when they never chose. */
export const lastSeenOf = (setting: Audience | null): Audience => setting ?? DEFAULT_LAST_SEEN;

/** `add`: directly; `invite`: an invitation instead; `drop`: nothing, answered as an invitation. */
export type AddDecision = 'add' | 'invite' | 'drop';

/** What is known of a user someone asks to add. */
export interface AddFacts {
  /** Undefined: no such user. Null: they never chose (the server default applies). */
  groupAdd: Audience | null | undefined;
  /** They blocked the one adding them. */
  blocksActor: boolean;
  /** The two share a group where each sees the other. */
  sharesVisibly: boolean;
}

/**
 * What adding a user does: oneself is added; an unknown user and one who blocks the actor are
 * dropped (answered as an invitation, so nothing tells them apart); else `groupAdd` decides:
 * `everyone` adds, `shared` adds someone sharing a visible group, the rest is an invitation.
 */
export function decideAdd(self: boolean, facts: AddFacts, serverDefault: Audience): AddDecision {
  if (self) return 'add';
  if (facts.groupAdd === undefined || facts.blocksActor) return 'drop';
  const audience = groupAddOf(facts.groupAdd, serverDefault);
  return audience === 'everyone' || (audience === 'shared' && facts.sharesVisibly) ? 'add' : 'invite';
}

/**
 * A user the caller may not reach does not exist for them (`not_found`, as for a stranger): one
 * either of the two blocked, or one they see in no shared group (direct groups open only between
 * users who can see each other). A fact left out is not decided on (the caller has not loaded it).
 */
export function assertReachable(facts: { eitherBlocks?: boolean; sharesVisibly?: boolean }): void {
  if (facts.eitherBlocks === true || facts.sharesVisibly === false) throw notFound('user');
}

/**
 * In a direct group of two users one of whom blocked the other, neither may write (send, react,
 * pin, change it): `forbidden` without a reason (the other's choice is not told).
 */
export function assertNotBlockedIn(kind: GroupKind, blocked: boolean, refusal = 'you cannot send here'): void {
  if (kind === 'direct' && blocked) throw forbidden(refusal);
}

/**
 * Presence goes through small ordinary and direct groups only (never announcement groups): a
 * group's presence list is `bad_request` otherwise.
 */
export function assertSharesPresence(group: { kind: GroupKind; memberCount: number }, maxMembers: number): void {
  if (group.kind === 'announcement') throw badRequest('announcement groups share no presence');
  if (group.memberCount > maxMembers)
    throw badRequest(`presence is shared in groups of at most ${maxMembers} members`, { limit: maxMembers });
}

/**
 * Whether `viewer` sees `subject`'s presence and last seen, given they share a group that carries
 * presence: not oneself, never across a block either way, and not a user with `lastSeen: nobody`
 * (`subjectLastSeen` left out: the caller's query already kept only those who show it).
 */
export function maySeePresence(facts: { self: boolean; blockedEitherWay: boolean; subjectLastSeen?: Audience | null }): boolean {
  if (facts.self || facts.blockedEitherWay) return false;
  return facts.subjectLastSeen === undefined || lastSeenOf(facts.subjectLastSeen) !== 'nobody';
}
