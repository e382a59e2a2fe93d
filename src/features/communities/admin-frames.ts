import type { Queryable } from '../../platform/db/connect.js';
import { listAdminIds } from '../governance/index.js';
import { joinRequestFrame } from '../../protocol/frames.js';
import { oweCommunityEvent } from '../webhooks/index.js';
import type { Outbox } from '../../platform/db/outbox.js';

// Live frames for admins (not logged): each goes on the user topic of every owner and admin of
// the given groups, so it costs O(admins), whatever the member count.

/** Queues `frame` for the sockets of the admins of these groups, but not of `except`. */
export async function notifyAdmins(db: Queryable, outbox: Outbox, groupIds: string[], frame: string, except?: string): Promise<void> {
  for (const userId of await listAdminIds(db, groupIds)) {
    if (userId !== except) outbox.notify(userId, { kind: 'frame', data: frame });
  }
}

/**
 * A new request to join the community (group = its announcement group) or one of its groups:
 * its community admins hear of it, and for a group, that group's admins too.
 */
export async function notifyJoinRequest(
  db: Queryable,
  outbox: Outbox,
  community: { id: string; announcementGroupId: string },
  groupId: string,
  user: { id: string; name: string },
): Promise<void> {
  const groups = groupId === community.announcementGroupId ? [groupId] : [community.announcementGroupId, groupId];
  await notifyAdmins(db, outbox, groups, joinRequestFrame(community.id, groupId, user));
  await oweCommunityEvent(db, community.id, 'join_request', { group: groupId, user });
}
