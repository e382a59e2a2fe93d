import type { Queryable, Tx } from '../../platform/db/connect.js';
import { blockersOf, countRecentInvitations, findGroupAddSettings, insertInvitations, visiblySharing, type Audience } from './queries.js';
import type { GroupRow } from '../../platform/db/schema.js';
import { groupInvitedFrame } from '../../protocol/frames.js';
import type { Outbox } from '../../platform/db/outbox.js';
import { decideAdd, type AddDecision } from '../../platform/policy/index.js';

// Who may add whom to a group (docs/protocol.md §8 "Privacy and safety"), and invitations for the rest.

export type { AddDecision };

/**
 * Invitations one inviter may make to one user in a day (declined ones count): a stranger who
 * creates 100 groups with someone reaches them at most this often.
 */
const INVITATIONS_PER_PAIR_PER_DAY = 3;
/** Invitations one inviter may make in a day, to anyone: bounds one account's spam. */
const INVITATIONS_PER_INVITER_PER_DAY = 500;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Decides, for each user `actorId` asks to add, what happens, in three queries whatever the count
 * and whoever they are: the same statements for an unknown user, one who blocks the actor and one
 * who does not let them add (docs/protocol.md §8 "Privacy and safety": nothing, time included,
 * tells them apart). Unknown users and users who block the actor are dropped; the answer is the
 * same as an invitation.
 */
export async function decideAdds(
  db: Queryable,
  actorId: string,
  userIds: string[],
  defaultGroupAdd: Audience,
): Promise<Map<string, AddDecision>> {
  const others = userIds.filter((id) => id !== actorId);
  const [settings, blockers, shared] = await Promise.all([
    findGroupAddSettings(db, others),
    blockersOf(db, actorId, others),
    visiblySharing(db, actorId, others),
  ]);
  const decisions = new Map<string, AddDecision>();
  for (const id of userIds) {
    const facts = {
      groupAdd: settings.has(id) ? settings.get(id)! : undefined,
      blocksActor: blockers.has(id),
      sharesVisibly: shared.has(id),
    };
    decisions.set(id, decideAdd(id === actorId, facts, defaultGroupAdd));
  }
  return decisions;
}

/**
 * Invites the users to the group, within the day's limits (past them, silently nothing), and
 * queues one `group_invited` frame for each new invitation. A user already invited to this group,
 * or who declined it, gets nothing new. The same three statements for no users at all: adds that
 * invite nobody (an unknown or blocking user) do this work too, so their time tells nothing.
 */
export async function inviteIn(
  tx: Tx,
  outbox: Outbox,
  group: GroupRow,
  by: { id: string; name: string },
  userIds: string[],
): Promise<void> {
  const recent = await countRecentInvitations(tx, by.id, userIds, new Date(Date.now() - DAY_MS));
  let room = INVITATIONS_PER_INVITER_PER_DAY - recent.total;
  const allowed: string[] = [];
  for (const id of userIds) {
    if (room <= 0) break;
    if ((recent.perUser.get(id) ?? 0) >= INVITATIONS_PER_PAIR_PER_DAY) continue;
    allowed.push(id);
    room--;
  }
  const invited = await insertInvitations(tx, group.id, by.id, allowed);
  if (invited.length === 0) return;
  const frame = groupInvitedFrame(
    {
      id: group.id,
      kind: group.kind,
      name: group.name,
      description: group.description,
      communityId: group.communityId,
      memberCount: group.memberCount,
    },
    by,
  );
  for (const id of invited) outbox.notify(id, { kind: 'frames', frames: [frame] });
}
