import type { z } from 'zod';
import type { Tx } from '../db/connect.js';
import { draft, lockGroupLog } from '../db/events.js';
import {
  deleteMembers,
  findGroup,
  findMembership,
  groupSummary,
  insertGroup,
  insertMember,
  insertMembers,
  listMembers,
  listUserGroups,
  setMemberRole,
  updateGroup,
  type NewGroup,
} from '../db/groups.js';
import type { GroupRow, Role } from '../db/schema.js';
import { findCommunity, listUserCommunities, updateCommunity, userCommunityGroupIds } from '../db/communities.js';
import { findUser, findUserIds } from '../db/users.js';
import { newId } from '../ids.js';
import { conflict, forbidden, notFound } from '../protocol/errors.js';
import type { GroupSummary } from '../protocol/frames.js';
import { defaultNotifyLevel } from './notifications.js';
import type { Group, HttpReply } from '../protocol/http-replies.js';
import type { groupSettings } from '../protocol/http-bodies.js';
import { isAdmin, requireAdmin, requireMember } from './access.js';
import type { ChatDeps } from './deps.js';
import { commit, type Outbox } from './outbox.js';

export type GroupSettings = z.output<typeof groupSettings>;

export type GroupView = Group;

/** What anyone who may see a group sees of it, whether or not they are in it. */
export const groupFields = (g: Pick<GroupRow, 'id' | 'kind' | 'name' | 'description' | 'communityId' | 'settings' | 'memberCount'>) => ({
  id: g.id,
  kind: g.kind,
  name: g.name,
  description: g.description,
  communityId: g.communityId,
  settings: g.settings,
  memberCount: g.memberCount,
});

export const groupView = (g: GroupRow): GroupView => ({ ...groupFields(g), lastSeq: g.lastSeq });

/** Groups and their members. Every change appends an event to the group's log. */
export class Groups {
  constructor(private readonly deps: ChatDeps) {}

  private get notifyAllMax(): number {
    return this.deps.limits.notifyAllMaxMembers ?? 256;
  }

  async listMine(userId: string): Promise<GroupSummary[]> {
    const rows = await listUserGroups(this.deps.db, userId);
    return rows.map((r) => toSummary(r, this.notifyAllMax));
  }

  async listMyCommunities(userId: string) {
    return listUserCommunities(this.deps.db, userId);
  }

  async summary(groupId: string, userId: string): Promise<GroupSummary | undefined> {
    const row = await groupSummary(this.deps.db, groupId, userId);
    return row && toSummary(row, this.notifyAllMax);
  }

  async create(userId: string, input: { name: string; description?: string | undefined; members?: string[] | undefined }) {
    const others = [...new Set(input.members ?? [])].filter((id) => id !== userId);
    if (others.length + 1 > this.deps.limits.maxGroupMembers) {
      throw conflict(`a group has at most ${this.deps.limits.maxGroupMembers} members`);
    }
    // A bounded number of statements whatever the member count (the body caps it per call).
    return commit(this.deps, async (tx, outbox) => {
      const known = await findUserIds(tx, others);
      const unknown = others.find((id) => !known.has(id));
      if (unknown) throw notFound(`user ${unknown}`);
      const group = await this.createIn(tx, outbox, {
        id: newId('g'),
        kind: 'group',
        name: input.name,
        description: input.description ?? '',
        communityId: null,
        settings: {},
        createdBy: userId,
      });
      await this.addManyIn(tx, outbox, group.id, others, 'member', userId);
      return groupView((await findGroup(tx, group.id))!);
    });
  }

  async get(userId: string, groupId: string): Promise<HttpReply<'groupDetail'>> {
    const membership = await requireMember(this.deps.db, groupId, userId);
    const group = await findGroup(this.deps.db, groupId);
    if (!group) throw notFound('group');
    return { group: groupView(group), role: membership.role };
  }

  async update(
    userId: string,
    groupId: string,
    input: { name?: string | undefined; description?: string | undefined; settings?: GroupSettings | undefined },
  ) {
    await requireAdmin(this.deps.db, groupId, userId);
    return commit(this.deps, async (tx, outbox) => groupView(await this.updateIn(tx, outbox, userId, groupId, input)));
  }

  async addMember(actorId: string, groupId: string, input: { userId: string; role?: Role | undefined }) {
    const actor = await requireAdmin(this.deps.db, groupId, actorId);
    if (actor.kind === 'direct') throw conflict('direct groups have exactly two members');
    if (input.role === 'owner') throw forbidden('ownership cannot be given by adding');
    return commit(this.deps, async (tx, outbox) => {
      if (!(await findUser(tx, input.userId))) throw notFound('user');
      const added = await this.addIn(tx, outbox, groupId, input.userId, input.role ?? 'member', actorId);
      if (!added) throw conflict('already a member');
    });
  }

  /** An admin removes a member, or a member leaves (actor === target). */
  async removeMember(actorId: string, groupId: string, targetId: string) {
    const actor = await requireMember(this.deps.db, groupId, actorId);
    if (actorId !== targetId) {
      if (actor.kind === 'direct') throw forbidden('a direct group can only be left');
      if (!isAdmin(actor)) throw forbidden('only group admins may remove members');
      const target = await findMembership(this.deps.db, groupId, targetId);
      if (!target) throw notFound('member');
      if (target.role === 'owner') throw forbidden('the owner cannot be removed');
    }
    // Leaving a community's announcement group is leaving the community (DESIGN.md).
    const communityId = actor.kind === 'announcement' ? actor.communityId : null;
    await commit(this.deps, (tx, outbox) =>
      communityId
        ? this.removeFromCommunityIn(tx, outbox, communityId, targetId, actorId)
        : this.removeIn(tx, outbox, groupId, targetId, actorId),
    );
  }

  async members(userId: string, groupId: string, cursor: string | undefined, limit: number): Promise<HttpReply<'members'>> {
    const membership = await requireMember(this.deps.db, groupId, userId);
    // A community's member list is for its admins: members of an announcement group do not see each other.
    if (membership.kind === 'announcement' && !isAdmin(membership)) throw forbidden('only community admins may list its members');
    const page = await listMembers(this.deps.db, groupId, cursor, limit);
    return {
      members: page.rows.map((r) => ({ userId: r.userId, name: r.name, role: r.role, joinedAt: r.joinedAt.toISOString() })),
      nextCursor: page.nextCursor,
    };
  }

  async setRole(actorId: string, groupId: string, targetId: string, role: 'admin' | 'member') {
    await requireAdmin(this.deps.db, groupId, actorId);
    return commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      const target = await findMembership(tx, groupId, targetId);
      if (!target) throw notFound('member');
      if (target.role === 'owner') throw forbidden('the owner role cannot be changed');
      if (target.role === role) return;
      await setMemberRole(tx, groupId, targetId, role);
      const action = role === 'admin' ? 'promoted' : 'demoted';
      await outbox.append(tx, groupId, [draft(actorId, 'member', { data: { member: targetId, action, role } })]);
    });
  }

  // The *In methods work inside a caller's transaction, so communities can compose them.

  async createIn(tx: Tx, outbox: Outbox, group: NewGroup): Promise<GroupRow> {
    const row = await insertGroup(tx, group);
    await insertMember(tx, row.id, group.createdBy, 'owner');
    await outbox.append(tx, row.id, [
      draft(group.createdBy, 'member', { data: { member: group.createdBy, action: 'joined', role: 'owner' } }),
    ]);
    outbox.notify(group.createdBy, { kind: 'group_added', group: row.id });
    return row;
  }

  /** Adds a member with a `member` event; false when already a member. */
  async addIn(tx: Tx, outbox: Outbox, groupId: string, userId: string, role: Role, actorId: string): Promise<boolean> {
    return (await this.addManyIn(tx, outbox, groupId, [userId], role, actorId)).length > 0;
  }

  /**
   * Adds those of the users who are not members yet, one `member` event each, in one insert;
   * returns who was added. Users added to a group of a community join its announcement group
   * too (locked after the group: every path locks ordinary groups before the announcement group).
   */
  async addManyIn(tx: Tx, outbox: Outbox, groupId: string, userIds: string[], role: Role, actorId: string): Promise<string[]> {
    await lockGroupLog(tx, groupId);
    const group = (await findGroup(tx, groupId))!;
    const added = await insertMembers(tx, groupId, userIds, role);
    if (added.length === 0) return [];
    if (group.memberCount + added.length > this.deps.limits.maxGroupMembers) {
      throw conflict(`a group has at most ${this.deps.limits.maxGroupMembers} members`);
    }
    await outbox.append(
      tx,
      groupId,
      added.map((userId) => draft(actorId, 'member', { data: { member: userId, action: actorId === userId ? 'joined' : 'added', role } })),
    );
    for (const userId of added) outbox.notify(userId, { kind: 'group_added', group: groupId });
    if (group.kind === 'group' && group.communityId) {
      const community = await findCommunity(tx, group.communityId);
      if (community) await this.addManyIn(tx, outbox, community.announcementGroupId, added, 'member', actorId);
    }
    return added;
  }

  /** Removes a member with a `member` event; an owner who leaves hands ownership on. */
  async removeIn(tx: Tx, outbox: Outbox, groupId: string, userId: string, actorId: string): Promise<boolean> {
    return (await this.removeManyIn(tx, outbox, groupId, [userId], actorId)).length > 0;
  }

  /** Removes those of the users who are members, one `member` event each; returns who was removed. */
  async removeManyIn(tx: Tx, outbox: Outbox, groupId: string, userIds: string[], actorId: string): Promise<string[]> {
    await lockGroupLog(tx, groupId);
    const removed = await deleteMembers(tx, groupId, userIds);
    if (removed.length === 0) return [];
    await outbox.append(
      tx,
      groupId,
      removed.map((r) => draft(actorId, 'member', { data: { member: r.userId, action: actorId === r.userId ? 'left' : 'removed' } })),
    );
    if (removed.some((r) => r.role === 'owner')) await this.handOnOwnership(tx, outbox, groupId);
    return removed.map((r) => r.userId);
  }

  /**
   * Takes the user out of every group of the community and then out of its announcement group,
   * each with its `member` event, so their sockets stop following all of them in one step.
   */
  async removeFromCommunityIn(tx: Tx, outbox: Outbox, communityId: string, userId: string, actorId: string): Promise<boolean> {
    const community = await findCommunity(tx, communityId);
    if (!community) return false;
    for (const groupId of await userCommunityGroupIds(tx, communityId, userId)) {
      await this.removeIn(tx, outbox, groupId, userId, actorId);
    }
    return this.removeIn(tx, outbox, community.announcementGroupId, userId, actorId);
  }

  /** Applies name, description and settings changes with one `group` event; the group as it now is. */
  async updateIn(
    tx: Tx,
    outbox: Outbox,
    userId: string,
    groupId: string,
    input: { name?: string | undefined; description?: string | undefined; settings?: Record<string, unknown> | undefined },
  ): Promise<GroupRow> {
    await lockGroupLog(tx, groupId);
    const current = (await findGroup(tx, groupId))!;
    const changes: Record<string, unknown> = {};
    if (input.name !== undefined && input.name !== current.name) changes.name = input.name;
    if (input.description !== undefined && input.description !== current.description) changes.description = input.description;
    if (input.settings) changes.settings = { ...current.settings, ...input.settings };
    if (Object.keys(changes).length === 0) return current;
    await updateGroup(tx, groupId, changes);
    // A community's name and description are its announcement group's: renamed either way, both follow.
    if (current.kind === 'announcement' && current.communityId) {
      await updateCommunity(tx, current.communityId, {
        name: changes.name as string | undefined,
        description: changes.description as string | undefined,
      });
    }
    await outbox.append(tx, groupId, [draft(userId, 'group', { data: { changes } })]);
    return (await findGroup(tx, groupId))!;
  }

  /** The first admin, else the longest-standing member, becomes owner (looks at 1,000 at most). */
  private async handOnOwnership(tx: Tx, outbox: Outbox, groupId: string) {
    const { rows } = await listMembers(tx, groupId, undefined, 1000);
    const heir = rows.find((r) => r.role === 'admin') ?? rows.sort((a, b) => +a.joinedAt - +b.joinedAt)[0];
    if (!heir) return;
    await setMemberRole(tx, groupId, heir.userId, 'owner');
    await outbox.append(tx, groupId, [draft(heir.userId, 'member', { data: { member: heir.userId, action: 'promoted', role: 'owner' } })]);
  }
}

function toSummary(row: Awaited<ReturnType<typeof listUserGroups>>[number], notifyAllMax: number): GroupSummary {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    communityId: row.communityId,
    role: row.role,
    lastSeq: Number(row.lastSeq),
    readSeq: Number(row.readSeq),
    level: row.notifyLevel ?? defaultNotifyLevel(row.kind, row.memberCount, notifyAllMax),
    muteUntil: row.muteUntil ? row.muteUntil.toISOString() : null,
  };
}
