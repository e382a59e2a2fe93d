import { findCommunity } from '../../features/communities/queries.js';
import type { Queryable } from '../db/connect.js';
import { findGroup, findMembership, type Membership } from '../../features/groups/queries.js';
import { AppError, forbidden, notFound } from '../../protocol/errors.js';
import { isAdmin } from './access.js';

// Who governs a group (docs/protocol.md §8 "Moderation"): its own admins, and the admins of
// its community, who need not be in it. Everyone else who is not a member finds nothing there.

export interface Authority {
  /** The caller's own membership of the group, if any. */
  member: Membership | undefined;
  kind: Membership['kind'];
  /** The community the group belongs to (an announcement group's own community included). */
  community: { id: string; announcementGroupId: string } | undefined;
  /** The caller is an owner or admin of that community. */
  communityAdmin: boolean;
  /** The caller may moderate the group: an admin of it or of its community. */
  governs: boolean;
}

/** The caller's standing in a group; undefined when the group does not exist. */
export async function findAuthority(db: Queryable, groupId: string, userId: string): Promise<Authority | undefined> {
  const member = await findMembership(db, groupId, userId);
  const group = member ?? (await findGroup(db, groupId));
  if (!group) return undefined;
  let community: Authority['community'];
  let communityAdmin = false;
  if (group.communityId && group.kind !== 'direct') {
    const found = await findCommunity(db, group.communityId);
    if (found) {
      community = { id: found.id, announcementGroupId: found.announcementGroupId };
      const role = groupId === found.announcementGroupId ? member : await findMembership(db, found.announcementGroupId, userId);
      communityAdmin = role !== undefined && isAdmin(role);
    }
  }
  return { member, kind: group.kind, community, communityAdmin, governs: (member !== undefined && isAdmin(member)) || communityAdmin };
}

/** A member of the group, or an admin of its community who is not in it; else not_found. */
export async function requireMemberOrGovernor(db: Queryable, groupId: string, userId: string): Promise<Authority> {
  const authority = await findAuthority(db, groupId, userId);
  if (!authority || (!authority.member && !authority.communityAdmin)) throw notFound('group');
  return authority;
}

/**
 * A governor of the group, or: `forbidden` for a member who is not one, `not_found` for anyone
 * else (a group the caller is not in does not exist for them).
 */
export async function requireGovernor(db: Queryable, groupId: string, userId: string): Promise<Authority> {
  const authority = await requireMemberOrGovernor(db, groupId, userId);
  if (!authority.governs) throw forbidden('only group or community admins may do this');
  return authority;
}

/** A muted member may not send, react or type until the mute ends. */
export function assertNotMuted(m: { mutedUntil: Date | null }, now = Date.now()): void {
  if (m.mutedUntil && m.mutedUntil.getTime() > now) {
    throw new AppError('forbidden', 'you are muted in this group', { reason: 'muted', until: m.mutedUntil.toISOString() });
  }
}
