import type { Queryable } from '../../platform/db/connect.js';
import type { CommunityStanding } from '../../platform/policy/index.js';
import { findMembership, type Membership } from '../groups/index.js';
import { findCommunity, type CommunityWithAnnouncement } from './queries.js';

/**
 * The community and the caller's membership of it (of its announcement group): the facts
 * platform/policy's community decisions take. Undefined when there is no such community.
 */
export async function findCommunityStanding(
  db: Queryable,
  communityId: string,
  userId: string,
): Promise<CommunityStanding<CommunityWithAnnouncement, Membership> | undefined> {
  const community = await findCommunity(db, communityId);
  if (!community) return undefined;
  return { community, membership: await findMembership(db, community.announcementGroupId, userId) };
}
