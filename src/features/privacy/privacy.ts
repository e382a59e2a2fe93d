import type { Principal } from '../../platform/auth/tokens.js';
import {
  countBlocks,
  deleteBlock,
  dropInvitationsFrom,
  dropPendingPushesFrom,
  insertBlock,
  listBlocks,
  updateUser,
  type Audience,
} from './queries.js';
import type { UserRow } from '../../platform/db/schema.js';
import { setAvatar } from '../profiles-presence/index.js';
import { findUser, insertUserIfMissing } from '../accounts/index.js';
import { findUserRow } from '../sessions/index.js';
import { badRequest, conflict, notFound } from '../../protocol/errors.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { ChatDeps } from '../../platform/deps.js';
import type { PresenceFeed } from '../profiles-presence/index.js';
import { groupAddOf, lastSeenOf } from '../../platform/policy/index.js';
import type { Profiles } from '../profiles-presence/index.js';
import { transaction } from '../../platform/db/transaction.js';

type Me = HttpReply<'profile'>['user'];

const BLOCKS_LISTED = 1000;
/** Blocks one user may hold: far past any person's need, and a bound on what one account stores. */
const MAX_BLOCKS = 10_000;

/** The caller's own profile, privacy settings and blocks (docs/protocol.md §8 "Privacy and safety"). */
export class Privacy {
  constructor(
    private readonly deps: ChatDeps,
    private readonly profiles: Profiles,
    private readonly presence: PresenceFeed,
  ) {}

  async me(principal: Principal): Promise<Me> {
    // Read first: every app open calls this, and only a token's first use needs the insert.
    const known = await findUserRow(this.deps.db, principal.userId);
    if (known) return this.view(known);
    await insertUserIfMissing(this.deps.db, principal.userId, principal.name, principal.nameClaim);
    return this.view((await findUserRow(this.deps.db, principal.userId))!);
  }

  async update(
    principal: Principal,
    input: {
      name?: string | undefined;
      avatar?: string | null | undefined;
      privacy?: { groupAdd?: Audience | undefined; lastSeen?: Audience | undefined } | undefined;
    },
  ): Promise<Me> {
    await insertUserIfMissing(this.deps.db, principal.userId, principal.name, principal.nameClaim);
    const changes: Partial<Pick<UserRow, 'name' | 'groupAdd' | 'lastSeen'>> = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.privacy?.groupAdd) changes.groupAdd = input.privacy.groupAdd;
    if (input.privacy?.lastSeen) changes.lastSeen = input.privacy.lastSeen;
    const { before, after } = await transaction(this.deps.db, async (tx) => {
      const before = (await findUser(tx, principal.userId))!;
      // The avatar must be an image the caller uploaded: anything else is not_found, as an unknown id.
      if (input.avatar !== undefined && !(await setAvatar(tx, principal.userId, input.avatar))) throw notFound('attachment');
      return { before, after: (await updateUser(tx, principal.userId, changes))! };
    });
    if (after.name !== before.name || after.avatar !== before.avatar) await this.profiles.changed(principal.userId);
    if (after.lastSeen === 'nobody' && before.lastSeen !== 'nobody') this.presence.hidden(principal.userId);
    return this.view(after);
  }

  /**
   * Blocks a user: any id is accepted alike (204), so blocking tells nothing of who exists.
   * Pending invitations between the two go (either way), and so do unsent pushes that would show their
   * latest message (later ones are never owed: db/notifications.ts pushCandidates).
   */
  async block(userId: string, targetId: string): Promise<void> {
    if (targetId === userId) throw badRequest('you cannot block yourself');
    if ((await countBlocks(this.deps.db, userId)) >= MAX_BLOCKS) throw conflict(`at most ${MAX_BLOCKS} blocks`);
    await insertBlock(this.deps.db, userId, targetId);
    await dropInvitationsFrom(this.deps.db, userId, targetId);
    // Nor may they take up one the caller made them before: a stranger has none to accept (404).
    await dropInvitationsFrom(this.deps.db, targetId, userId);
    await dropPendingPushesFrom(this.deps.db, userId, targetId);
  }

  async unblock(userId: string, targetId: string): Promise<void> {
    await deleteBlock(this.deps.db, userId, targetId);
  }

  /** Ids only: a name would tell the blocker about users they may share nothing with. */
  async blocks(userId: string): Promise<HttpReply<'blocks'>> {
    const rows = await listBlocks(this.deps.db, userId, BLOCKS_LISTED);
    return { blocks: rows.map((r) => ({ userId: r.userId, createdAt: r.createdAt.toISOString() })) };
  }

  private view(row: UserRow): Me {
    return {
      id: row.id,
      name: row.name,
      avatar: row.avatar,
      privacy: { groupAdd: groupAddOf(row.groupAdd, this.deps.config.privacy.defaultGroupAdd), lastSeen: lastSeenOf(row.lastSeen) },
    };
  }
}
