import type { Tx } from '../../platform/db/connect.js';
import { draft, findMessage, lockGroupLog } from '../messages/index.js';
import { setPins } from '../messages/index.js';
import { findAuthority, findGroup } from '../groups/index.js';
import { directGroupBlocked } from '../privacy/index.js';
import { conflict, notFound } from '../../protocol/errors.js';
import { isExpired } from '../../protocol/frames.js';
import { assertMayPin, assertNotBlockedIn, requireMemberOrGovernor } from '../../platform/policy/index.js';
import type { ChatDeps } from '../../platform/deps.js';
import { groupView, type GroupView } from '../groups/index.js';
import { commit, type Outbox } from '../../platform/db/outbox.js';

/** The group as it now stands, and the `group` event of the change (null: nothing changed). */
export interface PinChange {
  group: GroupView;
  event: { group: string; seq: number; ts: Date } | null;
}

/** Pinned messages per group at most (docs/protocol.md §8 "Pins and disappearing messages"). */
export const MAX_PINS = 5;

/**
 * Pinned messages (docs/protocol.md §8 "Pins and disappearing messages"): governors of a group pin (its admins, its community's admins
 * even when not in it); in a direct group either member. Each change is a `group` event with
 * `changes.pins`, the whole new list, most recently pinned first.
 */
export class Pins {
  constructor(private readonly deps: ChatDeps) {}

  /** Pins a live message; nothing changes (and no event) when it is pinned already. */
  async pin(userId: string, groupId: string, seq: number): Promise<PinChange> {
    await this.requirePinner(groupId, userId);
    return commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      const message = await findMessage(tx, groupId, seq);
      if (!message) throw notFound('message');
      if (message.deleted) throw conflict('message was deleted');
      if (isExpired(message)) throw conflict('message has expired');
      const group = (await findGroup(tx, groupId))!;
      if (group.pins.includes(seq)) return { group: groupView(group), event: null };
      if (group.pins.length >= MAX_PINS) {
        throw conflict(`a group has at most ${MAX_PINS} pinned messages: unpin one first`, { limit: MAX_PINS, pins: group.pins });
      }
      return this.changePins(tx, outbox, groupId, [seq, ...group.pins], userId);
    });
  }

  /** Unpins; nothing changes (and no event) when the message is not pinned. */
  async unpin(userId: string, groupId: string, seq: number): Promise<PinChange> {
    await this.requirePinner(groupId, userId);
    return commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      const group = (await findGroup(tx, groupId))!;
      if (!group.pins.includes(seq)) return { group: groupView(group), event: null };
      return this.changePins(
        tx,
        outbox,
        groupId,
        group.pins.filter((s) => s !== seq),
        userId,
      );
    });
  }

  private async changePins(tx: Tx, outbox: Outbox, groupId: string, pins: number[], userId: string) {
    await setPins(tx, groupId, pins);
    const [row] = await outbox.append(tx, groupId, [draft(userId, 'group', { data: { changes: { pins } } })]);
    return { group: groupView((await findGroup(tx, groupId))!), event: { group: groupId, seq: row!.seq, ts: row!.ts } };
  }

  private async requirePinner(groupId: string, userId: string) {
    const authority = requireMemberOrGovernor(await findAuthority(this.deps.db, groupId, userId));
    assertMayPin(authority);
    // As for sends: no reason given (the other's choice is not told).
    if (authority.kind === 'direct')
      assertNotBlockedIn(authority.kind, await directGroupBlocked(this.deps.db, groupId, userId), 'you cannot pin here');
  }
}

/**
 * Messages that are gone (deleted, expired) leave the pins, with a `group` event whose `sender`
 * is `actorId` (the one who deleted; empty for the expiry sweeper). Caller holds the group's log lock.
 */
export async function unpinGoneIn(tx: Tx, outbox: Outbox, groupId: string, pins: number[], gone: number[], actorId: string) {
  const left = pins.filter((s) => !gone.includes(s));
  if (left.length === pins.length) return;
  await setPins(tx, groupId, left);
  await outbox.append(tx, groupId, [draft(actorId, 'group', { data: { changes: { pins: left } } })]);
}
