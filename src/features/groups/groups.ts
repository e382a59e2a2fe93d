import type { z } from 'zod';
import type { Tx } from '../../platform/db/connect.js';
import { draft, lockGroupLog } from '../messages/index.js';
import {
  deleteMembers,
  findGroup,
  findMembership,
  groupSummary,
  insertGroup,
  insertMember,
  insertMembers,
  listAdminIds,
  listMembers,
  privateRosterGroupIds,
  userNames,
  setMemberRole,
  updateGroup,
  type NewGroup,
} from './queries.js';
import type { GroupRow, Role } from '../../platform/db/schema.js';
import { findCommunity, updateCommunity, userCommunityGroupIds } from '../communities/index.js';
import { groupEndsOf, listCommunitiesOfUser, listGroupsOfUsers } from '../sessions/index.js';
import { findUser, findUserIdByUsername } from '../accounts/index.js';
import { newId } from '../../platform/ids.js';
import { conflict, notFound } from '../../protocol/errors.js';
import { memberChangedFrame, type GroupSummary } from '../../protocol/frames.js';
import type { Group, HttpReply } from '../../protocol/http-replies.js';
import type { groupSettings } from '../../protocol/http-bodies.js';
import { deleteCommunityInvitations, deleteCommunityJoinRequests } from '../governance/index.js';
import { directGroupBlocked } from '../privacy/index.js';
import {
  assertMayAdd,
  assertMayListMembers,
  assertMayRemove,
  assertMayUpdateGroup,
  assertNotBlockedIn,
  assertRoleChangeable,
  heirOf,
  isOwner,
  notifyLevelOf,
  requireGovernor,
  requireGroupAdmin,
  requireMemberOrGovernor,
  requireMembership,
} from '../../platform/policy/index.js';
import { findAuthority } from './authority.js';
import { decideEntries, decideEntry, fileJoinRequest, type Admission } from './admission.js';
import { AnswerFloor } from './answer-floor.js';
import type { ChatDeps } from '../../platform/deps.js';
import { decideAdds, inviteIn } from '../privacy/index.js';
import { oweCommunityEvent } from '../webhooks/index.js';
import { assertMessageTtl } from '../messages/index.js';
import { commit, type Outbox } from '../../platform/db/outbox.js';
import { ReadBatch } from '../messages/index.js';

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

/** The group resource, for its members and governors. */
export const groupView = (g: GroupRow): GroupView => ({ ...groupFields(g), lastSeq: g.lastSeq, pins: g.pins });

/** An id no user has: user ids (JWT `sub`) are at most 64 characters. */
const NO_USER = '?'.repeat(65);

/** Groups and their members. Every change appends an event to the group's log. */
export class Groups {
  /** `/v1/me` and session starts' second listings (session-start.ts) of concurrent users share one statement. */
  private readonly listings: ReadBatch<string, GroupSummary[]>;
  /** Feeds that start together read where their logs end in one statement. */
  private readonly logEnds = new ReadBatch<string, number>(
    async (ids) => new Map((await groupEndsOf(this.deps.reads, ids)).map((g) => [g.id, g.lastSeq])),
    () => 0,
  );

  /** `invited` answers of adds leave at one time whatever happened (answer-floor.ts). */
  private readonly invitedFloor: AnswerFloor;

  constructor(private readonly deps: ChatDeps) {
    this.invitedFloor = new AnswerFloor(deps.config.groups.addAnswerFloorMs);
    this.listings = new ReadBatch(
      async (userIds) => {
        const byUser = new Map<string, GroupSummary[]>();
        for (const row of await listGroupsOfUsers(deps.reads, userIds)) {
          let list = byUser.get(row.userId);
          if (!list) {
            list = [];
            byUser.set(row.userId, list);
          }
          list.push(toSummary(row, this.notifyAllMax));
        }
        return byUser;
      },
      () => [],
    );
  }

  /** Groups up to this many members notify `all` by default. */
  private get notifyAllMax(): number {
    return this.deps.config.notifications.allMaxMembers;
  }

  /** The user's groups, read by a statement that starts after this call (batched with other users'). */
  listMine(userId: string): Promise<GroupSummary[]> {
    return this.listings.get(userId);
  }

  /**
   * The groups each of these users is in now, read from the primary (not the batched listing):
   * what a replica re-checks the sessions it holds against after the bus may have lost messages.
   */
  async membershipsOf(userIds: string[]): Promise<Map<string, Set<string>>> {
    const memberships = new Map<string, Set<string>>(userIds.map((userId) => [userId, new Set()]));
    for (const row of await listGroupsOfUsers(this.deps.db, userIds)) memberships.get(row.userId)?.add(row.id);
    return memberships;
  }

  /** Of these groups, those whose roster is private: no log event tells their sockets who left. */
  privateRosterOf(groupIds: string[]): Promise<Set<string>> {
    return privateRosterGroupIds(this.deps.db, groupIds);
  }

  /** Where the group's log ends (0 for a group that does not exist), read by a statement that starts after this call. */
  logEnd(groupId: string): Promise<number> {
    return this.logEnds.get(groupId);
  }

  listMyCommunities(userId: string) {
    return listCommunitiesOfUser(this.deps.db, userId);
  }

  async summary(groupId: string, userId: string): Promise<GroupSummary | undefined> {
    const row = await groupSummary(this.deps.db, groupId, userId);
    return row && toSummary(row, this.notifyAllMax);
  }

  async create(userId: string, input: { name: string; description?: string | undefined; members?: string[] | undefined }) {
    const others = [...new Set(input.members ?? [])].filter((id) => id !== userId);
    if (others.length + 1 > this.deps.config.groups.maxMembers) {
      throw conflict(`a group has at most ${this.deps.config.groups.maxMembers} members`);
    }
    const started = this.invitedFloor.start();
    // A bounded number of statements whatever the member count (the body caps it per call).
    const created = await commit(this.deps, async (tx, outbox) => {
      // Who may be added directly; the others are invited (or dropped, answered alike: no enumeration).
      const decisions = await decideAdds(tx, userId, others, this.deps.config.privacy.defaultGroupAdd);
      const direct = others.filter((id) => decisions.get(id) === 'add');
      const group = await this.createIn(tx, outbox, {
        id: newId('g'),
        kind: 'group',
        name: input.name,
        description: input.description ?? '',
        communityId: null,
        settings: {},
        createdBy: userId,
      });
      await this.addManyIn(tx, outbox, group.id, direct, 'member', userId);
      const invite = others.filter((id) => decisions.get(id) === 'invite');
      const row = (await findGroup(tx, group.id))!;
      // Run for no invitation too: the statements are the same whoever was named (consent.ts).
      await inviteIn(tx, outbox, row, await this.actor(tx, userId), invite);
      return { group: groupView(row), invited: others.filter((id) => decisions.get(id) !== 'add') };
    });
    if (created.invited.length > 0) await this.invitedFloor.hold(started);
    return created;
  }

  async get(userId: string, groupId: string): Promise<HttpReply<'groupDetail'>> {
    // Community admins see every group of their community: `role: null` when they are not in it.
    const authority = requireMemberOrGovernor(await findAuthority(this.deps.db, groupId, userId));
    const group = await findGroup(this.deps.db, groupId);
    if (!group) throw notFound('group');
    return { group: groupView(group), role: authority.member?.role ?? null };
  }

  async update(
    userId: string,
    groupId: string,
    input: { name?: string | undefined; description?: string | undefined; settings?: GroupSettings | undefined },
  ) {
    // Its admins, or its community's admins without being in it; in a direct group (no admins)
    // either member turns disappearing messages on or off, and changes nothing else.
    const authority = requireMemberOrGovernor(await findAuthority(this.deps.db, groupId, userId));
    const onlyTtl =
      input.name === undefined &&
      input.description === undefined &&
      input.settings !== undefined &&
      Object.keys(input.settings).every((key) => key === 'messageTtlS');
    assertMayUpdateGroup(authority, onlyTtl);
    if (authority.kind === 'direct')
      assertNotBlockedIn(authority.kind, await directGroupBlocked(this.deps.db, groupId, userId), 'you cannot change this');
    assertMessageTtl(input.settings?.messageTtlS, this.deps.config.messages.extraTtls);
    return commit(this.deps, async (tx, outbox) => groupView(await this.updateIn(tx, outbox, userId, groupId, input)));
  }

  /**
   * A governor adds a user: `added`, or `invited` when the user was not added directly. A user
   * who does not let the actor add them gets an invitation instead (docs/protocol.md §8 "Who can add
   * me"). In a group of a community, a group admin who is not a community admin adds only
   * community members; anyone else becomes a request to join the group that only community
   * admins may approve. Banned, blocking and unknown users are answered `invited` too, and
   * nothing is stored for them: the answer tells nothing of who exists or chose what.
   */
  async addMember(
    actorId: string,
    groupId: string,
    input: { userId: string; role?: Role | undefined },
    started = this.invitedFloor.start(),
  ): Promise<'added' | 'invited'> {
    const result = await this.addMemberNow(actorId, groupId, input);
    // Whatever happened behind `invited` (an invitation, a join request, nothing), it answers at one time.
    if (result === 'invited') await this.invitedFloor.hold(started);
    return result;
  }

  private async addMemberNow(actorId: string, groupId: string, input: { userId: string; role?: Role | undefined }) {
    const actor = requireGovernor(await findAuthority(this.deps.db, groupId, actorId));
    assertMayAdd(actor, input.role);
    return commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      const group = (await findGroup(tx, groupId))!;
      // docs/protocol.md §8 "Joining": banned users get nothing; someone the actor may not bring into
      // the community becomes a request that community admins decide.
      const entry = await decideEntry(tx, group, input.userId, { by: actorId });
      if (entry === 'admit') return this.addWithConsentIn(tx, outbox, group, actorId, input);
      if (entry === 'request' && actor.community) await fileJoinRequest(tx, outbox, actor.community, groupId, input.userId);
      return 'invited' as const;
    });
  }

  /**
   * Adds by a local account's username. An unknown username takes the path of an unknown id, so its
   * answer (`invited`), its work and its time are those of a user who does not let the actor add them.
   */
  async addMemberByUsername(actorId: string, groupId: string, input: { username: string; role?: Role | undefined }) {
    const started = this.invitedFloor.start();
    const userId = (await findUserIdByUsername(this.deps.db, input.username)) ?? NO_USER;
    return this.addMember(actorId, groupId, { userId, role: input.role }, started);
  }

  /**
   * Adds the user if they let the actor add them; else invites them (or, blocked or unknown,
   * nothing). Every path but a direct add runs the same statements, writes included (the group's
   * lock), so the work tells nothing of which it was (docs/protocol.md §8 "Privacy and safety").
   */
  private async addWithConsentIn(
    tx: Tx,
    outbox: Outbox,
    group: GroupRow,
    actorId: string,
    input: { userId: string; role?: Role | undefined },
  ): Promise<'added' | 'invited'> {
    // The caller holds the group's lock, on every path (a write), so the work tells nothing.
    const decision = (await decideAdds(tx, actorId, [input.userId], this.deps.config.privacy.defaultGroupAdd)).get(input.userId);
    // A member is `already a member` whatever they chose (blocking the actor too): the admin sees members anyway.
    if (await findMembership(tx, group.id, input.userId)) throw conflict('already a member');
    if (decision === 'add') {
      const added = await this.addIn(tx, outbox, group.id, input.userId, input.role ?? 'member', actorId);
      if (!added) throw conflict('already a member');
      return 'added';
    }
    // Blocked or unknown: an invitation to nobody, the same statements as one to them.
    const invite = decision === 'invite' ? [input.userId] : [];
    await inviteIn(tx, outbox, group, await this.actor(tx, actorId), invite);
    return 'invited';
  }

  private async actor(tx: Tx, userId: string) {
    return { id: userId, name: (await findUser(tx, userId))?.name ?? userId };
  }

  /**
   * A governor removes a member (community admins without being in the group; they may remove
   * a group's owner, never the community's), or a member leaves (actor === target).
   */
  async removeMember(actorId: string, groupId: string, targetId: string) {
    let kind: GroupRow['kind'];
    let communityId: string | null;
    if (actorId === targetId) {
      const self = requireMembership(await findMembership(this.deps.db, groupId, actorId));
      kind = self.kind;
      communityId = self.communityId;
    } else {
      const actor = requireGovernor(await findAuthority(this.deps.db, groupId, actorId));
      // A direct group is refused before its members are looked at.
      assertMayRemove(actor, actor.kind === 'direct' ? undefined : await findMembership(this.deps.db, groupId, targetId));
      kind = actor.kind;
      communityId = actor.community?.id ?? null;
    }
    // Leaving a community's announcement group is leaving the community (docs/architecture.md).
    const leavesCommunity = kind === 'announcement' ? communityId : null;
    if (leavesCommunity) await this.removeFromCommunity(leavesCommunity, targetId, actorId);
    else await commit(this.deps, (tx, outbox) => this.removeIn(tx, outbox, groupId, targetId, actorId));
  }

  /**
   * Out of a community and all its groups. The groups are listed before the announcement group's
   * lock is taken (joins lock a group before it), so a join that raced the listing can leave the
   * user in a group: once they are out of the announcement group, and so refused by every later
   * join, a second pass takes them out of what the first one missed.
   */
  async removeFromCommunity(communityId: string, userId: string, actorId: string): Promise<void> {
    await commit(this.deps, (tx, outbox) => this.removeFromCommunityIn(tx, outbox, communityId, userId, actorId));
    await commit(this.deps, async (tx, outbox) => {
      const community = await findCommunity(tx, communityId);
      // Back in meanwhile (an admin's add): their groups are theirs again.
      if (!community || (await findMembership(tx, community.announcementGroupId, userId))) return;
      for (const groupId of await userCommunityGroupIds(tx, communityId, userId)) await this.removeIn(tx, outbox, groupId, userId, actorId);
    });
  }

  async members(userId: string, groupId: string, cursor: string | undefined, limit: number): Promise<HttpReply<'members'>> {
    // Community admins list the members of every group of their community, in it or not.
    const authority = requireMemberOrGovernor(await findAuthority(this.deps.db, groupId, userId));
    // A community's member list is for its admins: members of an announcement group do not see each other.
    assertMayListMembers(authority);
    const page = await listMembers(this.deps.db, groupId, cursor, limit);
    return {
      members: page.rows.map((r) => ({ userId: r.userId, name: r.name, role: r.role, joinedAt: r.joinedAt.toISOString() })),
      nextCursor: page.nextCursor,
    };
  }

  async setRole(actorId: string, groupId: string, targetId: string, role: 'admin' | 'member') {
    requireGroupAdmin(await findMembership(this.deps.db, groupId, actorId));
    return commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      const target = await findMembership(tx, groupId, targetId);
      assertRoleChangeable(target);
      if (target.role === role) return;
      await setMemberRole(tx, groupId, targetId, role);
      const action = role === 'admin' ? 'promoted' : 'demoted';
      await this.roleChanged(tx, outbox, groupId, targetId, action, role, actorId);
    });
  }

  // The *In methods work inside a caller's transaction, so communities can compose them.

  /** Creates a group with its creator in it: its owner, or a plain member of a (symmetric) direct group. */
  async createIn(tx: Tx, outbox: Outbox, group: NewGroup): Promise<GroupRow> {
    const row = await insertGroup(tx, group);
    // A community's group: its creator must still be let in (an admin banned or removed meanwhile is not).
    if ((await decideEntry(tx, row, group.createdBy, { by: group.createdBy })) !== 'admit') throw notFound('community');
    const role: Role = group.kind === 'direct' ? 'member' : 'owner';
    await insertMember(tx, row.id, group.createdBy, role);
    // A private roster logs no membership: the creator learns of the group by group_added alone.
    if (!hasPrivateRoster(row)) {
      await outbox.append(tx, row.id, [draft(group.createdBy, 'member', { data: { member: group.createdBy, action: 'joined', role } })]);
    }
    outbox.notify(group.createdBy, { kind: 'group_added', group: row.id });
    return row;
  }

  /** Adds a member with a `member` event; false when already a member or not let in (addManyIn). */
  async addIn(
    tx: Tx,
    outbox: Outbox,
    groupId: string,
    userId: string,
    role: Role,
    actorId: string,
    admission: Admission = { by: actorId },
  ): Promise<boolean> {
    return (await this.addManyIn(tx, outbox, groupId, [userId], role, actorId, admission)).length > 0;
  }

  /**
   * Adds those of the users who are not members yet, one `member` event each, in one insert;
   * returns who was added. Users added to a group of a community join its announcement group
   * too (locked after the group: every path locks ordinary groups before the announcement group).
   * Only those the join check admits on `admission`'s say come in (docs/protocol.md §8 "Joining"):
   * callers that answer a refusal or a request differently ask decideEntries first.
   */
  async addManyIn(
    tx: Tx,
    outbox: Outbox,
    groupId: string,
    userIds: string[],
    role: Role,
    actorId: string,
    admission: Admission = { by: actorId },
  ): Promise<string[]> {
    await lockGroupLog(tx, groupId);
    const group = (await findGroup(tx, groupId))!;
    const entries = await decideEntries(tx, group, userIds, admission);
    const admitted = userIds.filter((id) => entries.get(id) === 'admit');
    const added = await insertMembers(tx, groupId, admitted, role);
    if (added.length === 0) return [];
    if (group.memberCount + added.length > this.deps.config.groups.maxMembers) {
      throw conflict(`a group has at most ${this.deps.config.groups.maxMembers} members`);
    }
    const changes = added.map((userId) => ({ userId, action: actorId === userId ? ('joined' as const) : ('added' as const), role }));
    if (hasPrivateRoster(group)) await this.rosterChanged(tx, outbox, group, changes);
    else {
      await outbox.append(
        tx,
        groupId,
        changes.map((c) => draft(actorId, 'member', { data: { member: c.userId, action: c.action, role } })),
      );
    }
    for (const userId of added) outbox.notify(userId, { kind: 'group_added', group: groupId });
    if (group.kind === 'group' && group.communityId) {
      const community = await findCommunity(tx, group.communityId);
      if (community) await this.addManyIn(tx, outbox, community.announcementGroupId, added, 'member', actorId, admission);
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
    const group = (await findGroup(tx, groupId))!;
    if (hasPrivateRoster(group)) {
      const changes = removed.map((r) => ({
        userId: r.userId,
        action: actorId === r.userId ? ('left' as const) : ('removed' as const),
        role: null,
      }));
      await this.rosterChanged(tx, outbox, group, changes);
      for (const r of removed) outbox.notify(r.userId, { kind: 'group_removed', group: groupId });
    } else {
      await outbox.append(
        tx,
        groupId,
        removed.map((r) => draft(actorId, 'member', { data: { member: r.userId, action: actorId === r.userId ? 'left' : 'removed' } })),
      );
    }
    if (removed.some((r) => isOwner(r))) await this.handOnOwnership(tx, outbox, groupId);
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
    // A pending request or invitation must not bring them back later (docs/protocol.md §8 "Joining").
    await deleteCommunityJoinRequests(tx, community, [userId]);
    await deleteCommunityInvitations(tx, community, [userId]);
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

  /** The owner left: policy's heir becomes owner (among 1,000 members at most). */
  private async handOnOwnership(tx: Tx, outbox: Outbox, groupId: string) {
    const { rows } = await listMembers(tx, groupId, undefined, 1000);
    const heir = heirOf(rows);
    if (!heir) return;
    await setMemberRole(tx, groupId, heir.userId, 'owner');
    await this.roleChanged(tx, outbox, groupId, heir.userId, 'promoted', 'owner', heir.userId);
  }

  /** A member's new role: a `member` event, or in a private roster a frame to admins and to the member. */
  private async roleChanged(
    tx: Tx,
    outbox: Outbox,
    groupId: string,
    userId: string,
    action: 'promoted' | 'demoted',
    role: Role,
    actorId: string,
  ) {
    const group = (await findGroup(tx, groupId))!;
    if (!hasPrivateRoster(group)) {
      await outbox.append(tx, groupId, [draft(actorId, 'member', { data: { member: userId, action, role } })]);
      return;
    }
    await this.rosterChanged(tx, outbox, group, [{ userId, action, role }], userId);
  }

  /**
   * Membership changes of a private roster (an announcement group): no log event (every member
   * would receive it, and learn who is in the community); instead every replica's membership cache
   * hears of each change, and the community's admins (at most ROSTER_ADMINS) get one
   * `member_changed` frame per change on their own topic — O(admins) frames, whatever the members.
   * `self` also hears of its own change (a role it now has).
   */
  private async rosterChanged(
    tx: Tx,
    outbox: Outbox,
    group: GroupRow,
    changes: { userId: string; action: RosterAction; role: Role | null }[],
    self?: string,
  ) {
    for (const c of changes) outbox.accessChanged({ group: group.id, user: c.userId });
    const community = group.communityId ?? group.id;
    const [admins, names] = await Promise.all([
      listAdminIds(tx, group.id, ROSTER_ADMINS),
      userNames(
        tx,
        changes.map((c) => c.userId),
      ),
    ]);
    const frames = changes.map((c) =>
      memberChangedFrame(community, { id: c.userId, name: names.get(c.userId) ?? c.userId }, c.action, c.role),
    );
    const to = new Set(admins);
    if (self) to.add(self);
    for (const admin of to) outbox.notify(admin, { kind: 'frames', frames });
    if (group.communityId) {
      const events = changes.map((c) => ({
        user: { id: c.userId, name: names.get(c.userId) ?? c.userId },
        action: c.action,
        role: c.role,
      }));
      await oweCommunityEvent(tx, group.communityId, 'member', ...events);
    }
  }
}

/** Groups whose members do not see each other: membership changes there are not log events. */
const hasPrivateRoster = (g: Pick<GroupRow, 'kind'>) => g.kind === 'announcement';

type RosterAction = 'added' | 'removed' | 'joined' | 'left' | 'promoted' | 'demoted';

/** Admins told of a private roster's changes; a community has a handful. */
const ROSTER_ADMINS = 1000;

/** A group as `ready` and `/v1/me` list it, from its summary columns (db/groups.ts summaryColumns). */
export function toSummary(row: Awaited<ReturnType<typeof groupSummary>> & {}, notifyAllMax: number): GroupSummary {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    communityId: row.communityId,
    role: row.role,
    lastSeq: Number(row.lastSeq),
    readSeq: Number(row.readSeq),
    memberCount: row.memberCount,
    level: notifyLevelOf(row.notifyLevel, row.kind, row.memberCount, notifyAllMax),
    muteUntil: row.muteUntil ? row.muteUntil.toISOString() : null,
    pins: row.pins,
  };
}
