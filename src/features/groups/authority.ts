import { findCommunity } from '../communities/index.js';
import type { Queryable } from '../../platform/db/connect.js';
import { authorityOf, type Authority } from '../../platform/policy/index.js';
import { findGroup, findMembership, type Membership } from './queries.js';

// Loads the facts platform/policy decides a caller's standing in a group from.

/** The caller's standing in a group; undefined when the group does not exist. */
export async function findAuthority(db: Queryable, groupId: string, userId: string): Promise<Authority<Membership> | undefined> {
  const member = await findMembership(db, groupId, userId);
  const group = member ?? (await findGroup(db, groupId));
  if (!group) return undefined;
  const community = group.communityId && group.kind !== 'direct' ? await findCommunity(db, group.communityId) : undefined;
  const communityRole =
    community && (groupId === community.announcementGroupId ? member : await findMembership(db, community.announcementGroupId, userId));
  return authorityOf({
    member,
    kind: group.kind,
    community: community && { id: community.id, announcementGroupId: community.announcementGroupId },
    communityRole,
  });
}
