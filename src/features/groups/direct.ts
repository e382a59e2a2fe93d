import { isUniqueViolation } from '../../platform/db/errors.js';
import { findDirectGroup, findGroup, findMembership } from './queries.js';
import { eitherBlocks, visiblySharing } from '../privacy/index.js';
import { newId } from '../../platform/ids.js';
import { conflict } from '../../protocol/errors.js';
import type { ChatDeps } from '../../platform/deps.js';
import { groupView, type GroupView, type Groups } from './groups.js';
import { commit } from '../../platform/db/outbox.js';
import { assertReachable } from '../../platform/policy/index.js';

/** The one key of a pair's direct group, whichever of the two asks. */
const directKey = (a: string, b: string) => JSON.stringify([a, b].sort());

/**
 * Direct groups: one per pair of users, created on demand, so a member can answer someone
 * (an announcement's sender, say) privately. Only between users who can see each other in a
 * shared group. Symmetric: both are plain members, so neither can rename it, change its settings,
 * add anyone or delete the other's messages (docs/protocol.md §8 "Privacy and safety").
 */
export class Direct {
  constructor(
    private readonly deps: ChatDeps,
    private readonly groups: Groups,
  ) {}

  async open(userId: string, otherId: string): Promise<{ group: GroupView; created: boolean }> {
    if (otherId === userId) throw conflict('a direct group needs two different users');
    const key = directKey(userId, otherId);
    // Someone either of them blocked does not exist for the caller (docs/protocol.md §8 "Privacy
    // and safety"): 404 as for a stranger, even when their direct group exists and the caller is
    // still in it (they read it as a member, but are not handed it here).
    const [existing, blocked] = await Promise.all([findDirectGroup(this.deps.db, key), eitherBlocks(this.deps.db, userId, otherId)]);
    assertReachable({ eitherBlocks: blocked });
    if (existing && (await findMembership(this.deps.db, existing.id, userId))) return { group: groupView(existing), created: false };
    // Someone the caller cannot see in a shared group does not exist for them (an announcement
    // group counts only when one of the two is its admin).
    const visible = await visiblySharing(this.deps.db, userId, [otherId]);
    assertReachable({ sharesVisibly: visible.has(otherId) });
    if (existing) {
      // The caller had left it: back in, with the history kept.
      await commit(this.deps, (tx, outbox) => this.groups.addIn(tx, outbox, existing.id, userId, 'member', userId));
      return { group: groupView((await findGroup(this.deps.db, existing.id))!), created: false };
    }
    try {
      const group = await commit(this.deps, async (tx, outbox) => {
        const row = await this.groups.createIn(tx, outbox, {
          id: newId('g'),
          kind: 'direct',
          name: '',
          description: '',
          communityId: null,
          settings: {},
          createdBy: userId,
          directKey: key,
        });
        await this.groups.addIn(tx, outbox, row.id, otherId, 'member', userId);
        return (await findGroup(tx, row.id))!;
      });
      return { group: groupView(group), created: true };
    } catch (err) {
      // The other user opened it at the same moment: theirs is the pair's one group.
      if (!isUniqueViolation(err)) throw err;
      return this.open(userId, otherId);
    }
  }
}
