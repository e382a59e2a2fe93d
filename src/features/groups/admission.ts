import { findCommunity, insertJoinRequest, type CommunityWithAnnouncement } from '../communities/index.js';
import type { Tx } from '../../platform/db/connect.js';
import { lockGroupLog } from '../messages/index.js';
import { bannedAmong } from '../governance/index.js';
import { findMembership, memberIdsOf } from './queries.js';
import type { GroupRow } from '../../platform/db/schema.js';
import { findUser } from '../accounts/index.js';
import { entryOf, isAdmin, type Entry } from '../../platform/policy/index.js';
import { notifyJoinRequest } from '../communities/index.js';
import type { Outbox } from '../../platform/db/outbox.js';

// The one check every way into a group passes at the moment of joining (docs/protocol.md §8
// "Joining"): an invitation accepted, an invite code, a request approved, an admin's add, a group
// linked to a community, a community group created. Run inside the joining transaction, under the
// community's announcement-group lock that a ban takes too, so a ban or a removal that commits
// first is seen, and one that comes after finds the member to take out.

/**
 * Whose say lets the users in: `by` is who adds, approves or invited (the joiner themselves when
 * they join by hand); `code` when they come through one of the community's invite codes.
 */
export interface Admission {
  by: string;
  code?: boolean | undefined;
}

export type { Entry };

type Joinable = Pick<GroupRow, 'id' | 'kind' | 'communityId'>;

/**
 * What happens to each user who would join `group` now. Outside communities everyone is admitted
 * (consent and roles are the callers' checks). In a community (its announcement group or one of
 * its groups): a banned user is refused; a member of the community is admitted; anyone else enters
 * the community only on a community admin's say as it stands now (an invitation carries its
 * inviter's authority as of its acceptance, not of its making), or through an invite code when
 * the community does not approve joins; otherwise it takes a request that an admin approves.
 */
export async function decideEntries(tx: Tx, group: Joinable, userIds: string[], admission: Admission): Promise<Map<string, Entry>> {
  const decisions = new Map<string, Entry>(userIds.map((id) => [id, 'admit']));
  const community = userIds.length > 0 ? await lockedCommunityOf(tx, group) : undefined;
  if (!community) return decisions;
  const [banned, inCommunity] = [
    await bannedAmong(tx, community.id, userIds),
    await memberIdsOf(tx, community.announcementGroupId, userIds),
  ];
  // The adder's standing is read only when someone from outside the community is at stake.
  const outsiders = userIds.some((id) => !banned.has(id) && !inCommunity.has(id));
  const byCommunityAdmin = outsiders && isAdmin(await findMembership(tx, community.announcementGroupId, admission.by));
  for (const id of userIds) {
    decisions.set(
      id,
      entryOf({
        banned: banned.has(id),
        inCommunity: inCommunity.has(id),
        byCommunityAdmin,
        byCode: admission.code === true,
        approvalRequired: community.settings.approvalRequired === true,
      }),
    );
  }
  return decisions;
}

/** decideEntries for one user. */
export async function decideEntry(tx: Tx, group: Joinable, userId: string, admission: Admission): Promise<Entry> {
  return (await decideEntries(tx, group, [userId], admission)).get(userId)!;
}

/**
 * Files the user's request to join `groupId` (a group of the community, or its announcement group)
 * and tells the admins who decide it; nothing for an unknown user or a request already pending.
 * True when a request was filed.
 */
export async function fileJoinRequest(
  tx: Tx,
  outbox: Outbox,
  community: { id: string; announcementGroupId: string },
  groupId: string,
  userId: string,
  inviteCode: string | null = null,
): Promise<boolean> {
  const user = await findUser(tx, userId);
  if (!user || !(await insertJoinRequest(tx, groupId, userId, inviteCode))) return false;
  await notifyJoinRequest(tx, outbox, community, groupId, { id: user.id, name: user.name });
  return true;
}

/** The group's community, read after taking its announcement group's lock; none outside communities. */
async function lockedCommunityOf(tx: Tx, group: Joinable): Promise<CommunityWithAnnouncement | undefined> {
  if (!group.communityId || group.kind === 'direct') return undefined;
  const announcementGroupId = group.kind === 'announcement' ? group.id : (await findCommunity(tx, group.communityId))?.announcementGroupId;
  if (!announcementGroupId) return undefined;
  // Ordinary group first (the caller's), then the announcement group: the order every membership change locks in.
  await lockGroupLog(tx, announcementGroupId);
  // Read again under the lock: its settings (approvalRequired) as they are now.
  return findCommunity(tx, group.communityId);
}
