import { findGroup } from '../db/groups.js';
import { declineInvitation, listInvitations, takeInvitation } from '../db/privacy.js';
import { notFound } from '../protocol/errors.js';
import type { HttpReply } from '../protocol/http-replies.js';
import type { ChatDeps } from './deps.js';
import { groupView, type GroupView, type Groups } from './groups.js';
import { commit } from './outbox.js';

/** Listed at most: invitations are bounded per inviter per day, so a page is plenty. */
const LIST_LIMIT = 200;

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

  /** Joins the group (`group_added` on the user's sockets); not_found without a pending invitation. */
  async accept(userId: string, groupId: string): Promise<GroupView> {
    return commit(this.deps, async (tx, outbox) => {
      if (!(await takeInvitation(tx, groupId, userId))) throw notFound('invitation');
      await this.groups.addIn(tx, outbox, groupId, userId, 'member', userId);
      return groupView((await findGroup(tx, groupId))!);
    });
  }

  /** Declines: that group cannot invite the user again. */
  async decline(userId: string, groupId: string): Promise<void> {
    if (!(await declineInvitation(this.deps.db, groupId, userId))) throw notFound('invitation');
  }
}
