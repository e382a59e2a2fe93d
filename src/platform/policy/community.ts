import { conflict, forbidden, notFound } from '../../protocol/errors.js';
import { isAdmin, isOwner, type RoleFact } from './access.js';
import type { Authority } from './authority.js';

// Community decisions (docs/protocol.md §8 "Joining", "Moderation"): a community's members are
// its announcement group's, and its owner and admins are that group's. A community the caller is
// not in does not exist for them (not_found); a member who is not an admin is forbidden.

/** A community and the caller's membership of it (of its announcement group), as loaded. */
export interface CommunityStanding<C, M extends RoleFact> {
  community: C;
  membership: M | undefined;
}

export function requireCommunityMember<C, M extends RoleFact>(
  standing: CommunityStanding<C, M> | undefined,
): { community: C; membership: M } {
  if (!standing?.membership) throw notFound('community');
  return { community: standing.community, membership: standing.membership };
}

export function requireCommunityAdmin<C, M extends RoleFact>(
  standing: CommunityStanding<C, M> | undefined,
): { community: C; membership: M } {
  const found = requireCommunityMember(standing);
  if (!isAdmin(found.membership)) throw forbidden('only community admins may do this');
  return found;
}

export function requireCommunityOwner<C, M extends RoleFact>(
  standing: CommunityStanding<C, M> | undefined,
): { community: C; membership: M } {
  const found = requireCommunityMember(standing);
  if (!isOwner(found.membership)) throw forbidden('only the owner may delete a community');
  return found;
}

/**
 * Join requests to the community are its admins' to decide; requests to one of its groups, its
 * admins' or that group's own admins' (an admin of another group of it has no say).
 */
export function assertMayDecideRequest(communityRole: RoleFact, toCommunity: boolean, groupRole: RoleFact | undefined): void {
  if (toCommunity) {
    if (!isAdmin(communityRole)) throw forbidden('only community admins may decide join requests');
  } else if (!isAdmin(communityRole) && !isAdmin(groupRole)) {
    throw forbidden('only community or group admins may decide join requests');
  }
}

/** The community's owner cannot be banned. */
export function assertMayBan(targetCommunityRole: RoleFact | undefined): void {
  if (isOwner(targetCommunityRole)) throw forbidden('the owner cannot be banned');
}

/** A report ends in a ban only in a community, and only by one of its admins. */
export function assertMayBanFromReport(a: Authority): asserts a is Authority & { community: NonNullable<Authority['community']> } {
  if (!a.community) throw conflict('only reports in a community can end in a ban');
  if (!a.communityAdmin) throw forbidden('only community admins may ban');
}

/** `admit`: in now; `request`: only a community admin may let them in (a join request); `refuse`: banned. */
export type Entry = 'admit' | 'request' | 'refuse';

/**
 * Whether one user enters a community (or one of its groups) now: a banned user is refused; a
 * member is admitted; anyone else only on a community admin's say, or through an invite code when
 * the community does not approve joins; otherwise by a request an admin approves.
 */
export function entryOf(facts: {
  banned: boolean;
  inCommunity: boolean;
  byCommunityAdmin: boolean;
  byCode: boolean;
  approvalRequired: boolean;
}): Entry {
  if (facts.banned) return 'refuse';
  if (facts.inCommunity) return 'admit';
  return facts.byCommunityAdmin || (facts.byCode && !facts.approvalRequired) ? 'admit' : 'request';
}
