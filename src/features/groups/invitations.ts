import { findCommunity } from '../communities/index.js';
import { lockGroupLog } from '../messages/index.js';
import { findGroup } from './queries.js';
import { declineInvitation, listInvitations, takeInvitation } from '../privacy/index.js';
import { notFound } from '../../protocol/errors.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { decideEntry, fileJoinRequest } from './admission.js';
import type { ChatDeps } from '../../platform/deps.js';
import { groupView, type GroupView, type Groups } from './groups.js';
import { commit } from '../../platform/db/outbox.js';

/** Listed at most: invitations are bounded per inviter per day, so a page is plenty. */
const LIST_LIMIT = 200;

/** What accepting an invitation did: joined, or (docs/protocol.md §8 "Joining") asked the community's admins. */
export type Accepted = { group: GroupView } | { status: 'pending' };

/** The invited user's side of invitations: list, accept (join), decline. */
export class Invitations {
  constructor(
    private readonly deps: ChatDeps,
    private readonly groups: Groups,
  ) {}

  async list(userId: string): Promise<HttpReply<'invitations'>> {
    const rows = await listInvitations(this.deps.db, userId, LIST_LIMIT);
    return { invitations: rows.map((r) => ({ group: r.group, by: r.by, createdAt: r.createdAt.toISOString() })) };
  }

  /**
   * Joins the group (`group_added` on the user's sockets), passing the join check with the
   * inviter's authority as it stands now (docs/protocol.md §8 "Joining"). not_found without a
   * pending invitation, and alike when the check refuses (a ban): the invitation is then gone.
   * When the community's admins must now say yes, the invitation becomes a join request.
   */
  async accept(userId: string, groupId: string): Promise<Accepted> {
    const accepted = await commit(this.deps, async (tx, outbox): Promise<Accepted | undefined> => {
      await lockGroupLog(tx, groupId);
      const invitation = await takeInvitation(tx, groupId, userId);
      const group = invitation && (await findGroup(tx, groupId));
      if (!group) return undefined;
      const admission = { by: invitation!.invitedBy };
      const entry = await decideEntry(tx, group, userId, admission);
      if (entry === 'refuse') return undefined;
      if (entry === 'request') {
        const community = (await findCommunity(tx, group.communityId!))!;
        await fileJoinRequest(tx, outbox, community, groupId, userId);
        return { status: 'pending' };
      }
      await this.groups.addIn(tx, outbox, groupId, userId, 'member', userId, admission);
      return { group: groupView((await findGroup(tx, groupId))!) };
    });
    if (!accepted) throw notFound('invitation');
    return accepted;
  }

  /** Declines: that group cannot invite the user again. */
  async decline(userId: string, groupId: string): Promise<void> {
    if (!(await declineInvitation(this.deps.db, groupId, userId))) throw notFound('invitation');
  }
}
