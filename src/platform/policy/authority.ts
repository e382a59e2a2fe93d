import { conflict, forbidden, notFound } from '../../protocol/errors.js';
import { isAdmin, isOwner, type GroupKind, type RoleFact } from './access.js';

// Who governs a group (docs/protocol.md §8 "Moderation"): its own admins, and the admins of its
// community, who need not be in it. Everyone else who is not a member finds nothing there. An
// admin of one group of a community governs that group only: the community is its admins' alone.

export interface CommunityRef {
  id: string;
  announcementGroupId: string;
}

/** What the authority decisions are made from; the groups feature loads them (findAuthority). */
export interface AuthorityFacts<M extends RoleFact> {
  /** The caller's own membership of the group, if any. */
  member: M | undefined;
  kind: GroupKind;
  /** The community the group belongs to (an announcement group's own community included); none for direct groups. */
  community: CommunityRef | undefined;
  /** The caller's membership of that community (its announcement group), if any. */
  communityRole: RoleFact | undefined;
}

export interface Authority<M extends RoleFact = RoleFact> {
  member: M | undefined;
  kind: GroupKind;
  community: CommunityRef | undefined;
  /** The caller is an owner or admin of that community. */
  communityAdmin: boolean;
  /** The caller may moderate the group: an admin of it or of its community. */
  governs: boolean;
}

export function authorityOf<M extends RoleFact>(facts: AuthorityFacts<M>): Authority<M> {
  const community = facts.kind === 'direct' ? undefined : facts.community;
  const communityAdmin = community !== undefined && isAdmin(facts.communityRole);
  return { member: facts.member, kind: facts.kind, community, communityAdmin, governs: isAdmin(facts.member) || communityAdmin };
}

/** A member of the group, or an admin of its community who is not in it; else not_found. */
export function requireMemberOrGovernor<A extends Authority>(authority: A | undefined): A {
  if (!authority || (!authority.member && !authority.communityAdmin)) throw notFound('group');
  return authority;
}

/**
 * A governor of the group, or: `forbidden` for a member who is not one, `not_found` for anyone
 * else (a group the caller is not in does not exist for them).
 */
export function requireGovernor<A extends Authority>(authority: A | undefined): A {
  const a = requireMemberOrGovernor(authority);
  if (!a.governs) throw forbidden('only group or community admins may do this');
  return a;
}

/** A governor of a group that has any: both members of a direct group are equals (docs/protocol.md §8 "Privacy and safety"). */
export function requireModerator<A extends Authority>(authority: A | undefined): A {
  const a = requireGovernor(authority);
  if (a.kind === 'direct') throw forbidden('nobody moderates a direct group');
  return a;
}

/**
 * Who handles reports (docs/protocol.md §8 "Moderation"): in a community, its admins alone (a report
 * names its reporter, so it goes no wider than the community's own admins); outside, the group's admins.
 */
export const handlesReports = (a: Authority): boolean => (a.community ? a.communityAdmin : a.governs);

/** The author of a message, or a governor of its group (deleting it, closing a poll). */
export function assertAuthorOrGovernor(a: Authority, authorId: string, userId: string, refusal: string): void {
  if (authorId !== userId && !a.governs) throw forbidden(refusal);
}

/** Governors change a group; in a direct group (no admins) either member changes only the message TTL. */
export function assertMayUpdateGroup(a: Authority, onlyTtl: boolean): void {
  if (!a.governs && !(a.kind === 'direct' && a.member && onlyTtl)) throw forbidden('only group or community admins may do this');
}

/** Governors pin; in a direct group either member. */
export function assertMayPin(a: Authority): void {
  if (!(a.governs || (a.kind === 'direct' && a.member !== undefined))) throw forbidden('only group or community admins may pin messages');
}

/** A community's member list is for its admins: members of an announcement group do not see each other. */
export function assertMayListMembers(a: Authority): void {
  if (a.kind === 'announcement' && !a.governs) throw forbidden('only community admins may list its members');
}

/** A governor adds to a group that is not direct, never as its owner. */
export function assertMayAdd(a: Authority, role: RoleFact['role'] | undefined): void {
  if (a.kind === 'direct') throw conflict('direct groups have exactly two members');
  if (role === 'owner') throw forbidden('ownership cannot be given by adding');
}

/**
 * A governor removes a member: community admins may remove a group's owner, never the community's;
 * a direct group can only be left.
 */
export function assertMayRemove(a: Authority, target: RoleFact | undefined): asserts target is RoleFact {
  if (a.kind === 'direct') throw forbidden('a direct group can only be left');
  if (!target) throw notFound('member');
  if (isOwner(target) && (a.kind === 'announcement' || !a.communityAdmin)) throw forbidden('the owner cannot be removed');
}

/**
 * Community admins cannot be muted in their community's groups; a group's own owner and admins
 * only by a community admin.
 */
export function assertMayMute(a: Authority, target: RoleFact, targetCommunityRole: RoleFact | undefined): void {
  if (a.community && isAdmin(targetCommunityRole)) throw forbidden('community admins cannot be muted');
  if (isAdmin(target) && !a.communityAdmin) throw forbidden('only community admins may mute group admins');
}
