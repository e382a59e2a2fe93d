import { findGroup, findMembership } from '../groups/index.js';
import { deletePushSubscription, findStats, type NotifyLevel, setNotifyPreference, upsertPushSubscription } from './queries.js';
import { newId } from '../../platform/ids.js';
import { notFound } from '../../protocol/errors.js';
import { requireGroupAdmin } from '../../platform/policy/index.js';
import type { ChatDeps } from '../../platform/deps.js';

/** Devices per user: each push fans out to all of them, so their number is bounded. */
const MAX_PUSH_SUBSCRIPTIONS_PER_USER = 10;

/** Notification preferences, push subscriptions and reach statistics (docs/protocol.md §8 "Notifications"). */
export class Notifications {
  constructor(
    private readonly deps: ChatDeps,
    /** Checks a push endpoint (https, not a private address unless allowed); throws bad_request. */
    private readonly checkEndpoint: (endpoint: string) => void,
  ) {}

  async setPreference(userId: string, groupId: string, input: { level: NotifyLevel; muteUntil?: string | null | undefined }) {
    const muteUntil = input.muteUntil ? new Date(input.muteUntil) : null;
    if (!(await setNotifyPreference(this.deps.db, groupId, userId, input.level, muteUntil))) throw notFound('group');
  }

  async subscribePush(userId: string, input: { endpoint: string; keys: { p256dh: string; auth: string } }): Promise<string> {
    this.checkEndpoint(input.endpoint);
    return upsertPushSubscription(
      this.deps.db,
      { id: newId('p'), userId, endpoint: input.endpoint, p256dh: input.keys.p256dh, auth: input.keys.auth },
      MAX_PUSH_SUBSCRIPTIONS_PER_USER,
    );
  }

  async unsubscribePush(userId: string, id: string): Promise<void> {
    if (!(await deletePushSubscription(this.deps.db, userId, id))) throw notFound('subscription');
  }

  /** Reach of one message, for the group's admins: counters kept as things happen, no member scan. */
  async stats(userId: string, groupId: string, seq: number) {
    requireGroupAdmin(await findMembership(this.deps.db, groupId, userId));
    const [row, group] = await Promise.all([findStats(this.deps.db, groupId, seq), findGroup(this.deps.db, groupId)]);
    if (!group || seq > group.lastSeq) throw notFound('message');
    return {
      group: groupId,
      seq,
      members: row?.members ?? group.memberCount,
      delivered: row?.delivered ?? 0,
      notified: row?.notified ?? 0,
      read: row?.read ?? 0,
    };
  }
}
