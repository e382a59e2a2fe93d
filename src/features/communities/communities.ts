import type { z } from 'zod';
import type { Principal } from '../../platform/auth/tokens.js';
import {
  consumeInvite,
  countCommunityGroups,
  deleteCommunityRow,
  deleteJoinRequest,
  detachCommunityGroups,
  findCommunity,
  findInvite,
  insertCommunity,
  insertInvite,
  listAllCommunityGroups,
  listCommunityGroups,
  listJoinRequests,
  listMembersWithNames,
  membersOnlyThrough,
  revokeInvite,
  type CommunityWithAnnouncement,
} from './queries.js';
import type { Tx } from '../../platform/db/connect.js';
import { draft, lockGroupLog } from '../messages/index.js';
import { closeGroup, findGroup, findMembership, listMembers, updateGroup } from '../groups/index.js';
import { newId, newInviteCode } from '../../platform/ids.js';
import { badRequest, conflict, notFound } from '../../protocol/errors.js';
import type { communitySettings, groupSettings } from '../../protocol/http-bodies.js';
import type { Community, CommunityGroup, HttpReply } from '../../protocol/http-replies.js';
import { bannedAmong, deleteCommunityJoinRequests } from '../governance/index.js';
import {
  assertMayDecideRequest,
  requireCommunityAdmin,
  requireCommunityMember,
  requireCommunityOwner,
  requireGroupAdmin,
} from '../../platform/policy/index.js';
import { findCommunityStanding } from './standing.js';
import { decideEntry, fileJoinRequest } from '../groups/index.js';
import type { ChatDeps } from '../../platform/deps.js';
import { assertMessageTtl } from '../messages/index.js';
import { groupFields, groupView, type Groups } from '../groups/index.js';
import type { Messages } from '../messages/index.js';
import { commit } from '../../platform/db/outbox.js';

type CommunitySettings = z.output<typeof communitySettings>;

export type CommunityView = Community;

const communityView = (c: CommunityWithAnnouncement): CommunityView => ({
  id: c.id,
  name: c.name,
  description: c.description,
  announcementGroupId: c.announcementGroupId,
  settings: c.settings,
  memberCount: c.memberCount,
});

const PAGE = 1000;

/** What joining by an invite did: joined (the community, and the group a group's link names), or asked. */
export type InviteJoin = { status: 'joined'; community: CommunityView; groupId?: string } | { status: 'pending' };

/** A new account joining through an invite (joinByInvite): created in the join's transaction. */
export interface SignUpThrough {
  createAccount(tx: Tx): Promise<void>;
  /** Its use of the invite was taken before the password was hashed (takeSignUpUse). */
  useTaken: boolean;
}

/** The answer for a code that exists but no longer works; the same whoever asks. */
const inviteUnusable = () => conflict('this invite has expired, been used up or been revoked');

/**
 * Communities: an umbrella over groups whose members are exactly the members of its
 * announcement group, with their roles (owner, admin = community admins). A community the
 * caller is not in does not exist for them (not_found).
 */
export class Communities {
  constructor(
    private readonly deps: ChatDeps,
    private readonly groups: Groups,
    private readonly messages: Messages,
  ) {}

  /** The creator owns the community and its announcement group, created in one transaction. */
  async create(userId: string, input: { name: string; description?: string | undefined; settings?: CommunitySettings | undefined }) {
    return commit(this.deps, async (tx, outbox) => {
      const id = newId('c');
      const announcement = await this.groups.createIn(tx, outbox, {
        id: newId('g'),
        kind: 'announcement',
        name: input.name,
        description: input.description ?? '',
        communityId: id,
        settings: input.settings ?? {},
        createdBy: userId,
      });
      await insertCommunity(tx, {
        id,
        name: input.name,
        description: input.description ?? '',
        announcementGroupId: announcement.id,
        createdBy: userId,
      });
      return communityView((await findCommunity(tx, id))!);
    });
  }

  async get(userId: string, communityId: string): Promise<HttpReply<'communityDetail'>> {
    const { community, membership } = await this.requireMember(communityId, userId);
    const [announcement, page] = await Promise.all([
      this.groups.summary(community.announcementGroupId, userId),
      this.listGroups(community.id, userId, undefined, 100),
    ]);
    return {
      community: communityView(community),
      role: membership.role,
      groups: [
        { ...announcement!, description: community.description, settings: community.settings, memberCount: community.memberCount },
        ...page.groups,
      ],
      nextCursor: page.nextCursor,
    };
  }

  /**
   * For community admins: a page of every ordinary group of the community (private ones too) with
   * its member count, settings, last seq and the time of its last event, and the caller's role.
   */
  async overview(userId: string, communityId: string, cursor: string | undefined, limit: number): Promise<HttpReply<'communityOverview'>> {
    await this.requireAdmin(communityId, userId);
    const page = await listAllCommunityGroups(this.deps.db, communityId, userId, cursor, limit);
    return {
      groups: page.rows.map((g) => ({
        id: g.id,
        name: g.name,
        description: g.description,
        settings: g.settings,
        memberCount: g.memberCount,
        lastSeq: Number(g.lastSeq),
        lastActivityAt: g.lastActivityAt?.toISOString() ?? null,
        role: g.role,
      })),
      nextCursor: page.nextCursor,
    };
  }

  /** A page of the community's groups the caller is in or may join (open or on approval). */
  async groupPage(userId: string, communityId: string, cursor: string | undefined, limit: number): Promise<HttpReply<'communityGroups'>> {
    await this.requireMember(communityId, userId);
    return this.listGroups(communityId, userId, cursor, limit);
  }

  async update(
    userId: string,
    communityId: string,
    input: { name?: string | undefined; description?: string | undefined; settings?: CommunitySettings | undefined },
  ) {
    const { community } = await this.requireAdmin(communityId, userId);
    return commit(this.deps, async (tx, outbox) => {
      // The announcement group carries the community's name and settings (updateIn keeps the
      // community row in step): one `group` event tells every member.
      await this.groups.updateIn(tx, outbox, userId, community.announcementGroupId, input);
      return communityView((await findCommunity(tx, communityId))!);
    });
  }

  /**
   * The owner deletes the community: its groups carry on on their own, and its announcement
   * group closes with one `group` event (`changes.deleted`) that unsubscribes every member socket.
   */
  async delete(userId: string, communityId: string) {
    const { community } = requireCommunityOwner(await this.standing(communityId, userId));
    await commit(this.deps, async (tx, outbox) => {
      for (const groupId of await detachCommunityGroups(tx, communityId)) {
        await outbox.append(tx, groupId, [draft(userId, 'group', { data: { changes: { communityId: null } } })]);
      }
      const announcementId = community.announcementGroupId;
      await outbox.append(tx, announcementId, [draft(userId, 'group', { data: { changes: { deleted: true } } })]);
      await closeGroup(tx, announcementId);
      await deleteCommunityRow(tx, communityId);
    });
  }

  async createGroup(
    userId: string,
    communityId: string,
    input: { name: string; description?: string | undefined; settings?: z.output<typeof groupSettings> | undefined },
  ) {
    const { community } = await this.requireAdmin(communityId, userId);
    assertMessageTtl(input.settings?.messageTtlS, this.deps.config.messages.extraTtls);
    return commit(this.deps, async (tx, outbox) => {
      // Serialises group creation and linking in this community, so the limit holds.
      await lockGroupLog(tx, community.announcementGroupId);
      await this.assertRoomForGroup(tx, communityId);
      const group = await this.groups.createIn(tx, outbox, {
        id: newId('g'),
        kind: 'group',
        name: input.name,
        description: input.description ?? '',
        communityId,
        settings: input.settings ?? {},
        createdBy: userId,
      });
      return groupView(group);
    });
  }

  /** Links a group the caller administers; its members join the community (its announcement group). */
  async linkGroup(userId: string, communityId: string, groupId: string) {
    const { community } = await this.requireAdmin(communityId, userId);
    const groupMembership = requireGroupAdmin(await findMembership(this.deps.db, groupId, userId));
    if (groupMembership.kind !== 'group') throw conflict('only ordinary groups can be linked to a community');
    return commit(this.deps, async (tx, outbox) => {
      // Locks the group, then the announcement group: the order every membership change takes.
      await lockGroupLog(tx, groupId);
      const group = (await findGroup(tx, groupId))!;
      if (group.communityId === communityId) return groupView(group);
      if (group.communityId) throw conflict('the group belongs to another community');
      await lockGroupLog(tx, community.announcementGroupId);
      await this.assertRoomForGroup(tx, communityId);
      await updateGroup(tx, groupId, { communityId });
      await outbox.append(tx, groupId, [draft(userId, 'group', { data: { changes: { communityId } } })]);
      for (let cursor: string | undefined; ; ) {
        const page = await listMembers(tx, groupId, cursor, PAGE);
        const ids = page.rows.map((r) => r.userId);
        // Users banned from the community do not come in with the group: they leave it.
        const banned = await bannedAmong(tx, communityId, ids);
        if (banned.size > 0) await this.groups.removeManyIn(tx, outbox, groupId, [...banned], userId);
        await this.groups.addManyIn(
          tx,
          outbox,
          community.announcementGroupId,
          ids.filter((id) => !banned.has(id)),
          'member',
          userId,
        );
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      return groupView((await findGroup(tx, groupId))!);
    });
  }

  /**
   * Unlinks a group: its members keep the group; plain members who are in no other group of the
   * community leave the community.
   */
  async unlinkGroup(userId: string, communityId: string, groupId: string) {
    const { community } = await this.requireAdmin(communityId, userId);
    await this.requireCommunityGroup(communityId, groupId);
    await commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      await updateGroup(tx, groupId, { communityId: null });
      await outbox.append(tx, groupId, [draft(userId, 'group', { data: { changes: { communityId: null } } })]);
      for (let cursor: string | undefined; ; ) {
        const page = await membersOnlyThrough(tx, groupId, community, cursor, PAGE);
        const removed = await this.groups.removeManyIn(tx, outbox, community.announcementGroupId, page.userIds, userId);
        await deleteCommunityJoinRequests(tx, community, removed);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
    });
  }

  /** A community member joins an open group, or asks to join one that needs approval. */
  async joinGroup(userId: string, communityId: string, groupId: string) {
    const { community } = await this.requireMember(communityId, userId);
    const group = await this.requireCommunityGroup(communityId, groupId);
    if (await findMembership(this.deps.db, groupId, userId)) throw conflict('already a member');
    const approval = group.settings.approvalRequired === true;
    if (!approval && group.settings.open !== true) throw notFound('group');
    const joined = await commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, groupId);
      // Banned or removed since the check above: as anyone outside (docs/protocol.md §8 "Joining").
      if ((await decideEntry(tx, group, userId, { by: userId })) !== 'admit') return undefined;
      if (approval) await fileJoinRequest(tx, outbox, community, groupId, userId);
      else await this.groups.addIn(tx, outbox, groupId, userId, 'member', userId);
      return !approval;
    });
    if (joined === undefined) throw notFound('community');
    if (!joined) return { status: 'pending' as const };
    return { status: 'joined' as const, group: (await this.groups.summary(groupId, userId))! };
  }

  /** One page of members with names and roles, for community admins; never usernames. */
  /** With `nameContains`, only members whose display name contains it (any case). */
  async members(userId: string, communityId: string, cursor: string | undefined, limit: number, nameContains?: string) {
    const { community } = await this.requireAdmin(communityId, userId);
    const page = await listMembersWithNames(this.deps.db, community.announcementGroupId, cursor, limit, nameContains);
    return {
      members: page.rows.map((r) => ({ userId: r.userId, name: r.name, role: r.role, joinedAt: r.joinedAt.toISOString() })),
      nextCursor: page.nextCursor,
    };
  }

  async setAdmin(actorId: string, communityId: string, targetId: string, admin: boolean) {
    const { community } = await this.requireAdmin(communityId, actorId);
    await this.groups.setRole(actorId, community.announcementGroupId, targetId, admin ? 'admin' : 'member');
  }

  /** An admin removes a user from the community and all its groups, or a member leaves. */
  async removeMember(actorId: string, communityId: string, targetId: string) {
    const { community } = await this.requireMember(communityId, actorId);
    await this.groups.removeMember(actorId, community.announcementGroupId, targetId);
  }

  /** A code to join the community; with `groupId` (an ordinary group of it), to join that group too. */
  async createInvite(
    userId: string,
    communityId: string,
    input: { expiresInS?: number | undefined; maxUses?: number | undefined; groupId?: string | undefined },
  ) {
    await this.requireAdmin(communityId, userId);
    if (input.groupId !== undefined) await this.requireCommunityGroup(communityId, input.groupId);
    const invite = await insertInvite(this.deps.db, {
      code: newInviteCode(),
      communityId,
      groupId: input.groupId ?? null,
      createdBy: userId,
      expiresAt: input.expiresInS ? new Date(Date.now() + input.expiresInS * 1000) : null,
      maxUses: input.maxUses ?? null,
    });
    return { code: invite.code, expiresAt: invite.expiresAt?.toISOString() ?? null, maxUses: invite.maxUses, groupId: invite.groupId };
  }

  async revokeInvite(userId: string, communityId: string, code: string) {
    await this.requireAdmin(communityId, userId);
    if (!(await revokeInvite(this.deps.db, communityId, code))) throw notFound('invite');
  }

  /**
   * What an invite link leads to, before joining: the community's name, description and size,
   * and whether joining asks the admins. A code that no longer works is not_found, like one that
   * never did; the caller's own status (banned, already in) shows only when they join.
   */
  async previewInvite(code: string) {
    const invite = await findInvite(this.deps.db, code);
    const usable =
      invite &&
      !invite.revokedAt &&
      (!invite.expiresAt || invite.expiresAt.getTime() > Date.now()) &&
      (invite.maxUses === null || invite.uses < invite.maxUses);
    const community = usable ? await findCommunity(this.deps.db, invite.communityId) : undefined;
    if (!community) throw notFound('invite');
    return {
      community: { name: community.name, description: community.description, memberCount: community.memberCount },
      approvalRequired: community.settings.approvalRequired === true,
    };
  }

  /**
   * A sign-up through an invite (docs/protocol.md §2), before its password is hashed: a working
   * invite with a use limit gives one of its uses now, atomically, whatever the sign-up's outcome
   * (as the address's sign-up limit counts every attempt, so an invite buys no more tries than
   * `maxUses`): `taken`. A working one without a limit: `unlimited` (the address's limit counts it).
   * Else what joining by it answers: not_found (unknown or revoked), conflict (expired or used up).
   */
  async takeSignUpUse(code: string): Promise<'taken' | 'unlimited'> {
    if (await consumeInvite(this.deps.db, code, { limitedOnly: true })) return 'taken';
    const invite = await findInvite(this.deps.db, code);
    if (!invite || invite.revokedAt) throw notFound('invite');
    if (invite.maxUses !== null || (invite.expiresAt && invite.expiresAt.getTime() <= Date.now())) throw inviteUnusable();
    return 'unlimited';
  }

  /**
   * Joins by code: the use is taken in the same transaction as the join (or the request, when
   * the community needs approval), so concurrent joins never pass `maxUses`. Joining again as
   * a member, or asking again while a request is pending, takes no use. With `signUp`, the
   * joiner is a new account: it is created in the join's transaction (both are stored or neither),
   * and its use was already taken when `useTaken` (takeSignUpUse).
   */
  async joinByInvite(userId: string, code: string, signUp?: SignUpThrough): Promise<InviteJoin> {
    const invite = await findInvite(this.deps.db, code);
    const community = invite && !invite.revokedAt ? await findCommunity(this.deps.db, invite.communityId) : undefined;
    if (!community) throw notFound('invite');
    const joined = { status: 'joined' as const, community: communityView(community) };
    if (invite!.groupId) {
      const group = await findGroup(this.deps.db, invite!.groupId);
      // A group unlinked from the community since: the code still joins the community.
      if (group?.communityId === community.id && group.kind === 'group')
        return this.joinGroupByInvite(userId, code, community, group.id, signUp);
    }
    if (!signUp && (await findMembership(this.deps.db, community.announcementGroupId, userId))) return joined;
    return commit(this.deps, async (tx, outbox) => {
      await signUp?.createAccount(tx);
      await lockGroupLog(tx, community.announcementGroupId);
      // The join check (docs/protocol.md §8 "Joining"): a banned user is answered as if the
      // community approved joins, and nothing is stored.
      const admission = { by: userId, code: true };
      const entry = await decideEntry(
        tx,
        { id: community.announcementGroupId, kind: 'announcement', communityId: community.id },
        userId,
        admission,
      );
      if (entry === 'refuse') return { status: 'pending' as const };
      if (entry === 'request') {
        if (await fileJoinRequest(tx, outbox, community, community.announcementGroupId, userId, code))
          await this.useInvite(tx, code, signUp);
        return { status: 'pending' as const };
      }
      if (!(await this.groups.addIn(tx, outbox, community.announcementGroupId, userId, 'member', userId, admission))) return joined;
      await this.useInvite(tx, code, signUp);
      return { ...joined, community: communityView((await findCommunity(tx, community.id))!) };
    });
  }

  /**
   * Joins by a group's code: the group, and with it the community. When the community approves
   * joins, a newcomer's request is to join the group (a community admin's approval brings them into
   * both). A member of the community joins the group at once; one already in it takes no use.
   */
  private async joinGroupByInvite(
    userId: string,
    code: string,
    community: CommunityWithAnnouncement,
    groupId: string,
    signUp: SignUpThrough | undefined,
  ) {
    const joined = { status: 'joined' as const, groupId };
    if (!signUp && (await findMembership(this.deps.db, groupId, userId))) return { ...joined, community: communityView(community) };
    return commit(this.deps, async (tx, outbox) => {
      await signUp?.createAccount(tx);
      // Ordinary group first, then the announcement group: the order every membership change locks in.
      await lockGroupLog(tx, groupId);
      const admission = { by: userId, code: true };
      const entry = await decideEntry(tx, { id: groupId, kind: 'group', communityId: community.id }, userId, admission);
      if (entry === 'refuse') return { status: 'pending' as const };
      if (entry === 'request') {
        if (await fileJoinRequest(tx, outbox, community, groupId, userId, code)) await this.useInvite(tx, code, signUp);
        return { status: 'pending' as const };
      }
      if (await this.groups.addIn(tx, outbox, groupId, userId, 'member', userId, admission)) await this.useInvite(tx, code, signUp);
      return { ...joined, community: communityView((await findCommunity(tx, community.id))!) };
    });
  }

  /** Pending requests to join the community or one of its groups, for community admins. */
  async requests(userId: string, communityId: string, cursor: string | undefined, limit: number) {
    const { community } = await this.requireAdmin(communityId, userId);
    const page = await listJoinRequests(this.deps.db, community, cursor === undefined ? undefined : decodeCursor(cursor), limit);
    return {
      requests: page.rows.map((r) => ({ userId: r.userId, name: r.name, groupId: r.groupId, createdAt: r.createdAt.toISOString() })),
      nextCursor: page.next ? encodeCursor(page.next) : null,
    };
  }

  /** Approves (the user joins, added by the approver) or rejects a pending request. */
  async decideRequest(actorId: string, communityId: string, targetId: string, groupId: string | undefined, approve: boolean) {
    const { community, membership } = await this.requireMember(communityId, actorId);
    const target = groupId ?? community.announcementGroupId;
    const toCommunity = target === community.announcementGroupId;
    if (!toCommunity) await this.requireCommunityGroup(communityId, target);
    const groupRole = toCommunity ? undefined : await findMembership(this.deps.db, target, actorId);
    assertMayDecideRequest(membership, toCommunity, groupRole);
    await commit(this.deps, async (tx, outbox) => {
      await lockGroupLog(tx, target);
      const kind = target === community.announcementGroupId ? 'announcement' : 'group';
      // The join check with the approver's say (docs/protocol.md §8 "Joining"): bringing someone into
      // the community is for its admins alone (a group admin's request for a non-member, or a member
      // removed since they asked); a banned user's request goes, and nobody joins.
      const entry = approve ? await decideEntry(tx, { id: target, kind, communityId }, targetId, { by: actorId }) : 'refuse';
      if (entry === 'request') throw notFound('request');
      if (!(await deleteJoinRequest(tx, target, targetId))) throw notFound('request');
      if (entry === 'admit') await this.groups.addIn(tx, outbox, target, targetId, 'member', actorId);
    });
  }

  /**
   * Posts to the announcement group: as a member allowed to post there (community admins, or
   * anyone when the community opens it), or as a backend service with a `scope: server` token,
   * which is not a member. Either way one event and one publish, whatever the member count.
   */
  async announce(principal: Principal, communityId: string, input: { clientMsgId: string; text: string }) {
    if (principal.scope === 'server') {
      const community = await findCommunity(this.deps.db, communityId);
      if (!community) throw notFound('community');
      return this.messages.sendAs(principal.userId, { group: community.announcementGroupId, ...input });
    }
    const { community } = await this.requireMember(communityId, principal.userId);
    return this.messages.send(principal.userId, { group: community.announcementGroupId, ...input });
  }

  // Helpers

  private standing(communityId: string, userId: string) {
    return findCommunityStanding(this.deps.db, communityId, userId);
  }

  private async requireMember(communityId: string, userId: string) {
    return requireCommunityMember(await this.standing(communityId, userId));
  }

  private async requireAdmin(communityId: string, userId: string) {
    return requireCommunityAdmin(await this.standing(communityId, userId));
  }

  /** An ordinary group of the community, or not_found. */
  private async requireCommunityGroup(communityId: string, groupId: string) {
    const group = await findGroup(this.deps.db, groupId);
    if (!group || group.communityId !== communityId || group.kind !== 'group') throw notFound('group');
    return group;
  }

  private async assertRoomForGroup(tx: Tx, communityId: string) {
    const max = this.deps.config.communities.maxGroups;
    if ((await countCommunityGroups(tx, communityId)) >= max) throw conflict(`a community has at most ${max} groups`);
  }

  /** Takes the join's use of the code, unless a sign-up took it already. */
  private async useInvite(tx: Tx, code: string, signUp?: SignUpThrough) {
    if (signUp?.useTaken) return;
    if (!(await consumeInvite(tx, code))) throw inviteUnusable();
  }

  private async listGroups(communityId: string, userId: string, cursor: string | undefined, limit: number) {
    const page = await listCommunityGroups(this.deps.db, communityId, userId, cursor, limit);
    return {
      groups: page.rows.map((g): CommunityGroup => {
        const base = groupFields(g);
        return g.role
          ? { ...base, role: g.role, lastSeq: Number(g.lastSeq), readSeq: Number(g.readSeq) }
          : { ...base, role: null, join: g.settings.approvalRequired === true ? ('approval' as const) : ('open' as const) };
      }),
      nextCursor: page.nextCursor,
    };
  }
}

const encodeCursor = (c: { groupId: string; userId: string }) => Buffer.from(JSON.stringify([c.groupId, c.userId])).toString('base64url');

function decodeCursor(cursor: string): { groupId: string; userId: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('invalid cursor');
  }
  const [groupId, userId] = Array.isArray(parsed) ? (parsed as unknown[]) : [];
  if (typeof groupId !== 'string' || typeof userId !== 'string') throw badRequest('invalid cursor');
  return { groupId, userId };
}
