import type { z } from 'zod';
import type { Tx } from '../db/connect.js';
import { draft, lockGroupLog } from '../db/events.js';
import {
  deleteMember,
  findGroup,
  findMembership,
  groupSummary,
  insertGroup,
  insertMember,
  listMembers,
  listUserGroups,
  setMemberRole,
  updateGroup,
  type NewGroup,
} from '../db/groups.js';
import type { GroupRow, Role } from '../db/schema.js';
import { listUserCommunities } from '../db/communities.js';
import { findUser } from '../db/users.js';
import { newId } from '../ids.js';
import { conflict, forbidden, notFound } from '../protocol/errors.js';
import type { GroupSummary } from '../protocol/frames.js';
import type { groupSettings } from '../protocol/http-bodies.js';
import { isAdmin, requireAdmin, requireMember } from './access.js';
import type { ChatDeps } from './deps.js';
import { commit, type Outbox } from './outbox.js';

export type GroupSettings = z.output<typeof groupSettings>;

export interface GroupView {
  id: string;
  kind: GroupRow['kind'];
  name: string;
  description: string;
  communityId: string | null;
  settings: Record<string, unknown>;
  memberCount: number;
  lastSeq: number;
}

export const groupView = (g: GroupRow): GroupView => ({
  id: g.id,
  kind: g.kind,
  name: g.name,
  description: g.description,
  communityId: g.communityId,
  settings: g.settings,
  memberCount: g.memberCount,
  lastSeq: g.lastSeq,
});

/** Groups and their members. Every change appends an event to the group's log. */
export class Groups {
  constructor(private readonly deps: ChatDeps) {}

  async listMine(userId: string): Promise<GroupSummary[]> {
    const rows = await listUserGroups(this.deps.db, userId);
    return rows.map(toSummary);
  }

  async listMyCommunities(userId: string) {
    return listUserCommunities(this.deps.db, userId);
  }

  async summary(groupId: string, userId: string): Promise<GroupSummary | undefined> {
    const row = await groupSummary(this.deps.db, groupId, userId);
    return row && toSummary(row);
  }

  async create(userId: string, input: { name: string; description?: string | undefined; members?: string[] | undefined }) {
    const others = [...new Set(input.members ?? [])].filter((id) => id !== userId);
    if (others.length + 1 > this.deps.limits.maxGroupMembers) {
      throw conflict(`a group has at most ${this.deps.limits.maxGroupMembers} members`);
    }
    return commit(this.deps, async (tx, outbox) => {
      for (const id of others) if (!(await findUser(tx, id))) throw notFound(`user ${id}`);
      const group = await this.createIn(tx, outbox, {
        id: newId('g'),
        kind: 'group',
        name: input.name,
        description: input.description ?? '',
        communityId: null,
        settings: {},
        createdBy: userId,
      });
      for (const id of others) await this.addIn(tx, outbox, group.id, id, 'member', userId);
      return groupView((await findGroup(tx, group.id))!);
    });
  }

  async get(userId: string, groupId: string) {
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
    return commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      const current = (await findGroup(tx, groupId))!;
      const changes: Record<string, unknown> = {};
      if (input.name !== undefined && input.name !== current.name) changes.name = input.name;
      if (input.description !== undefined && input.description !== current.description) changes.description = input.description;
      if (input.settings) changes.settings = { ...current.settings, ...input.settings };
      if (Object.keys(changes).length === 0) return groupView(current);
      await updateGroup(tx, groupId, changes);
      await outbox.append(tx, groupId, [draft(userId, 'group', { data: { changes } })]);
      return groupView((await findGroup(tx, groupId))!);
    });
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
      if (!isAdmin(actor)) throw forbidden('only group admins may remove members');
      const target = await findMembership(this.deps.db, groupId, targetId);
      if (!target) throw notFound('member');
      if (target.role === 'owner') throw forbidden('the owner cannot be removed');
    }
    await commit(this.deps, (tx, outbox) => this.removeIn(tx, outbox, groupId, targetId, actorId));
  }

  async members(userId: string, groupId: string, cursor: string | undefined, limit: number) {
    await requireMember(this.deps.db, groupId, userId);
    const page = await listMembers(this.deps.db, groupId, cursor, limit);
    return { members: page.rows.map((r) => ({ userId: r.userId, name: r.name, role: r.role, joinedAt: r.joinedAt.toISOString() })), nextCursor: page.nextCursor };
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
    await lockGroupLog(tx, groupId);
    const group = (await findGroup(tx, groupId))!;
    if (group.memberCount >= this.deps.limits.maxGroupMembers) {
      throw conflict(`a group has at most ${this.deps.limits.maxGroupMembers} members`);
    }
    if (!(await insertMember(tx, groupId, userId, role))) return false;
    const action = actorId === userId ? 'joined' : 'added';
    await outbox.append(tx, groupId, [draft(actorId, 'member', { data: { member: userId, action, role } })]);
    outbox.notify(userId, { kind: 'group_added', group: groupId });
    return true;
  }

  /** Removes a member with a `member` event; an owner who leaves hands ownership on. */
  async removeIn(tx: Tx, outbox: Outbox, groupId: string, userId: string, actorId: string): Promise<boolean> {
    await lockGroupLog(tx, groupId);
    const membership = await findMembership(tx, groupId, userId);
    if (!membership || !(await deleteMember(tx, groupId, userId))) return false;
    const action = actorId === userId ? 'left' : 'removed';
    await outbox.append(tx, groupId, [draft(actorId, 'member', { data: { member: userId, action } })]);
    if (membership.role === 'owner') await this.handOnOwnership(tx, outbox, groupId);
    return true;
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

function toSummary(row: Awaited<ReturnType<typeof listUserGroups>>[number]): GroupSummary {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    communityId: row.communityId,
    role: row.role,
    lastSeq: Number(row.lastSeq),
    readSeq: Number(row.readSeq),
  };
}
