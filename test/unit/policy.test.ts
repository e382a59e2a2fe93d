import { describe, expect, it } from 'vitest';
import {
  assertAuthorOrGovernor,
  assertMayAdd,
  assertMayBan,
  assertMayBanFromReport,
  assertMayDecideRequest,
  assertMayListMembers,
  assertMayMention,
  assertMayMute,
  assertMayPin,
  assertMayPost,
  assertMayRemove,
  assertMayUpdateGroup,
  assertNotBlockedIn,
  assertNotMuted,
  assertReachable,
  assertRoleChangeable,
  assertSharesPresence,
  authorityOf,
  type AuthorityFacts,
  decideAdd,
  defaultNotifyLevel,
  entryOf,
  groupAddOf,
  handlesReports,
  heirOf,
  lastSeenOf,
  maySeePresence,
  notifyLevelOf,
  type RoleFact,
  requireCommunityAdmin,
  requireCommunityMember,
  requireCommunityOwner,
  requireGovernor,
  requireGroupAdmin,
  requireMemberOrGovernor,
  requireMembership,
  requireModerator,
} from '../../src/platform/policy/index.js';

// platform/policy decides from facts alone: no database here. Each refusal is checked for its
// code, because "not_found" against "forbidden" is itself a privacy decision.

const owner: RoleFact = { role: 'owner' };
const admin: RoleFact = { role: 'admin' };
const member: RoleFact = { role: 'member' };
const community = { id: 'c1', announcementGroupId: 'a1' };

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  return undefined;
};
const codeOf = (fn: () => unknown) => refusal(fn)?.code;

const authority = (facts: Partial<AuthorityFacts<RoleFact>>) =>
  authorityOf<RoleFact>({ member: undefined, kind: 'group', community: undefined, communityRole: undefined, ...facts });

describe('membership', () => {
  it('a group the caller is not in does not exist for them', () => {
    expect(codeOf(() => requireMembership(undefined))).toBe('not_found');
    expect(requireMembership(member)).toBe(member);
  });

  it('group admin actions: an outsider finds nothing, a plain member acting as admin is forbidden', () => {
    expect(codeOf(() => requireGroupAdmin(undefined))).toBe('not_found');
    expect(codeOf(() => requireGroupAdmin(member))).toBe('forbidden');
    expect(requireGroupAdmin(admin)).toBe(admin);
    expect(requireGroupAdmin(owner)).toBe(owner);
  });

  it('announcement groups and adminsOnlyPost groups take posts from admins only', () => {
    const inAnnouncement = { ...member, kind: 'announcement' as const, settings: {} };
    expect(codeOf(() => assertMayPost(inAnnouncement))).toBe('forbidden');
    expect(codeOf(() => assertMayPost({ ...inAnnouncement, role: 'admin' }))).toBeUndefined();
    expect(codeOf(() => assertMayPost({ ...inAnnouncement, settings: { adminsOnlyPost: false } }))).toBeUndefined();
    expect(codeOf(() => assertMayPost({ ...member, kind: 'group', settings: { adminsOnlyPost: true } }))).toBe('forbidden');
    expect(codeOf(() => assertMayPost({ ...member, kind: 'group', settings: {} }))).toBeUndefined();
  });

  it('a muted member is refused until the mute ends, with when it ends', () => {
    const until = new Date(10_000);
    const err = refusal(() => assertNotMuted({ mutedUntil: until }, 9_999));
    expect(err?.code).toBe('forbidden');
    expect(codeOf(() => assertNotMuted({ mutedUntil: until }, 10_000))).toBeUndefined();
    expect(codeOf(() => assertNotMuted({ mutedUntil: null }, 0))).toBeUndefined();
  });

  it('only admins mention in an announcement group, refused as bad_request (never "not a member")', () => {
    const plain = { ...member, kind: 'announcement' as const, settings: {} };
    expect(codeOf(() => assertMayMention(plain, ['u2']))).toBe('bad_request');
    expect(codeOf(() => assertMayMention(plain, []))).toBeUndefined();
    expect(codeOf(() => assertMayMention({ ...plain, role: 'admin' }, ['u2']))).toBeUndefined();
    expect(codeOf(() => assertMayMention({ ...plain, kind: 'group' }, ['u2']))).toBeUndefined();
  });

  it('the owner role is never changed; an unknown target is not_found', () => {
    expect(codeOf(() => assertRoleChangeable(undefined))).toBe('not_found');
    expect(codeOf(() => assertRoleChangeable(owner))).toBe('forbidden');
    expect(codeOf(() => assertRoleChangeable(admin))).toBeUndefined();
  });

  it('the first admin, else the longest-standing member, inherits ownership', () => {
    const m = (role: RoleFact['role'], at: number) => ({ role, joinedAt: new Date(at) });
    expect(heirOf([m('member', 1), m('admin', 5), m('member', 0)])?.role).toBe('admin');
    expect(heirOf([m('member', 3), m('member', 1)])?.joinedAt.getTime()).toBe(1);
    expect(heirOf([])).toBeUndefined();
  });
});

describe('group and community authority', () => {
  it('a group admin governs their group; a plain member does not', () => {
    expect(authority({ member: admin }).governs).toBe(true);
    expect(authority({ member: owner }).governs).toBe(true);
    expect(authority({ member }).governs).toBe(false);
    expect(codeOf(() => requireGovernor(authority({ member })))).toBe('forbidden');
  });

  it('an outsider finds nothing, neither as member nor as governor', () => {
    expect(codeOf(() => requireMemberOrGovernor(undefined))).toBe('not_found');
    expect(codeOf(() => requireMemberOrGovernor(authority({ community, communityRole: member })))).toBe('not_found');
    expect(codeOf(() => requireGovernor(authority({})))).toBe('not_found');
  });

  it('a community admin governs every group of the community without being in it', () => {
    const a = authority({ community, communityRole: admin });
    expect(a).toMatchObject({ communityAdmin: true, governs: true, member: undefined });
    expect(requireGovernor(a)).toBe(a);
  });

  it('an admin of one linked group has no say in another group of the community', () => {
    // In the other group they are a plain member (or not in it), and only a member of the community.
    expect(codeOf(() => requireGovernor(authority({ member, community, communityRole: member })))).toBe('forbidden');
    expect(codeOf(() => requireGovernor(authority({ community, communityRole: member })))).toBe('not_found');
  });

  it('a direct group has no community and no moderators', () => {
    const a = authority({ member, kind: 'direct', community, communityRole: admin });
    expect(a.community).toBeUndefined();
    expect(a.communityAdmin).toBe(false);
    expect(codeOf(() => requireModerator(a))).toBe('forbidden');
    expect(codeOf(() => requireModerator(authority({ member: admin, kind: 'direct' })))).toBe('forbidden');
    expect(codeOf(() => requireModerator(authority({ member: admin })))).toBeUndefined();
  });

  it("reports of a community group are its community admins' alone, not the group admins'", () => {
    expect(handlesReports(authority({ member: admin, community, communityRole: member }))).toBe(false);
    expect(handlesReports(authority({ community, communityRole: admin }))).toBe(true);
    expect(handlesReports(authority({ member: admin }))).toBe(true);
    expect(handlesReports(authority({ member }))).toBe(false);
  });

  it('the author or a governor deletes a message or closes a poll', () => {
    const plain = authority({ member });
    expect(codeOf(() => assertAuthorOrGovernor(plain, 'u1', 'u1', 'no'))).toBeUndefined();
    expect(refusal(() => assertAuthorOrGovernor(plain, 'u2', 'u1', 'only the sender'))).toEqual({
      code: 'forbidden',
      message: 'only the sender',
    });
    expect(codeOf(() => assertAuthorOrGovernor(authority({ community, communityRole: admin }), 'u2', 'u1', 'no'))).toBeUndefined();
  });

  it('governors change a group; in a direct group either member changes the message TTL only', () => {
    expect(codeOf(() => assertMayUpdateGroup(authority({ member }), true))).toBe('forbidden');
    expect(codeOf(() => assertMayUpdateGroup(authority({ member: admin }), false))).toBeUndefined();
    expect(codeOf(() => assertMayUpdateGroup(authority({ member, kind: 'direct' }), true))).toBeUndefined();
    expect(codeOf(() => assertMayUpdateGroup(authority({ member, kind: 'direct' }), false))).toBe('forbidden');
  });

  it('governors pin; in a direct group either member', () => {
    expect(codeOf(() => assertMayPin(authority({ member })))).toBe('forbidden');
    expect(codeOf(() => assertMayPin(authority({ member, kind: 'direct' })))).toBeUndefined();
    expect(codeOf(() => assertMayPin(authority({ community, communityRole: owner })))).toBeUndefined();
  });

  it('members of an announcement group do not list each other', () => {
    expect(codeOf(() => assertMayListMembers(authority({ member, kind: 'announcement', community, communityRole: member })))).toBe(
      'forbidden',
    );
    expect(codeOf(() => assertMayListMembers(authority({ member, kind: 'group' })))).toBeUndefined();
    expect(
      codeOf(() => assertMayListMembers(authority({ member: admin, kind: 'announcement', community, communityRole: admin }))),
    ).toBeUndefined();
  });

  it('adding: never into a direct group, never as owner', () => {
    expect(codeOf(() => assertMayAdd(authority({ member, kind: 'direct' }), 'member'))).toBe('conflict');
    expect(codeOf(() => assertMayAdd(authority({ member: admin }), 'owner'))).toBe('forbidden');
    expect(codeOf(() => assertMayAdd(authority({ member: admin }), undefined))).toBeUndefined();
  });

  it('removing: a group admin cannot remove the owner; a community admin can, but never the community owner', () => {
    const groupAdmin = authority({ member: admin, community, communityRole: member });
    const communityAdmin = authority({ community, communityRole: admin });
    expect(codeOf(() => assertMayRemove(groupAdmin, owner))).toBe('forbidden');
    expect(codeOf(() => assertMayRemove(groupAdmin, member))).toBeUndefined();
    expect(codeOf(() => assertMayRemove(communityAdmin, owner))).toBeUndefined();
    const inAnnouncement = authority({ member: admin, kind: 'announcement', community, communityRole: admin });
    expect(codeOf(() => assertMayRemove(inAnnouncement, owner))).toBe('forbidden');
    expect(codeOf(() => assertMayRemove(groupAdmin, undefined))).toBe('not_found');
    expect(codeOf(() => assertMayRemove(authority({ member, kind: 'direct' }), member))).toBe('forbidden');
  });

  it('muting: a group admin acting on the community is refused (no muting community admins or fellow admins)', () => {
    const groupAdmin = authority({ member: admin, community, communityRole: member });
    expect(codeOf(() => assertMayMute(groupAdmin, member, admin))).toBe('forbidden');
    expect(codeOf(() => assertMayMute(groupAdmin, admin, member))).toBe('forbidden');
    expect(codeOf(() => assertMayMute(groupAdmin, member, member))).toBeUndefined();
    const communityAdmin = authority({ community, communityRole: admin });
    expect(codeOf(() => assertMayMute(communityAdmin, admin, member))).toBeUndefined();
    expect(codeOf(() => assertMayMute(communityAdmin, member, owner))).toBe('forbidden');
    // Outside communities, a group's admin mutes members but not other admins.
    expect(codeOf(() => assertMayMute(authority({ member: owner }), admin, undefined))).toBe('forbidden');
  });
});

describe('communities', () => {
  const standing = (membership: RoleFact | undefined) => ({ community, membership });

  it('a community the caller is not in does not exist for them', () => {
    expect(codeOf(() => requireCommunityMember(undefined))).toBe('not_found');
    expect(codeOf(() => requireCommunityMember(standing(undefined)))).toBe('not_found');
    expect(requireCommunityMember(standing(member)).community).toBe(community);
  });

  it('a plain member acting as community admin is forbidden; an outsider finds nothing', () => {
    expect(codeOf(() => requireCommunityAdmin(standing(member)))).toBe('forbidden');
    expect(codeOf(() => requireCommunityAdmin(standing(undefined)))).toBe('not_found');
    expect(codeOf(() => requireCommunityAdmin(standing(admin)))).toBeUndefined();
  });

  it('only the owner deletes a community', () => {
    expect(codeOf(() => requireCommunityOwner(standing(admin)))).toBe('forbidden');
    expect(codeOf(() => requireCommunityOwner(standing(owner)))).toBeUndefined();
  });

  it("join requests: the community's are its admins'; a group's, its admins' or the community admins'", () => {
    expect(codeOf(() => assertMayDecideRequest(member, true, admin))).toBe('forbidden');
    expect(codeOf(() => assertMayDecideRequest(admin, true, undefined))).toBeUndefined();
    expect(codeOf(() => assertMayDecideRequest(member, false, admin))).toBeUndefined();
    // An admin of another linked group is a plain member here.
    expect(codeOf(() => assertMayDecideRequest(member, false, member))).toBe('forbidden');
    expect(codeOf(() => assertMayDecideRequest(member, false, undefined))).toBe('forbidden');
    expect(codeOf(() => assertMayDecideRequest(admin, false, undefined))).toBeUndefined();
  });

  it('bans: never the owner; from a report, only in a community and only by its admins', () => {
    expect(codeOf(() => assertMayBan(owner))).toBe('forbidden');
    expect(codeOf(() => assertMayBan(admin))).toBeUndefined();
    expect(codeOf(() => assertMayBan(undefined))).toBeUndefined();
    expect(codeOf(() => assertMayBanFromReport(authority({ member: admin })))).toBe('conflict');
    expect(codeOf(() => assertMayBanFromReport(authority({ member: admin, community, communityRole: member })))).toBe('forbidden');
    expect(codeOf(() => assertMayBanFromReport(authority({ community, communityRole: admin })))).toBeUndefined();
  });

  it("entry: banned refused; members admitted; outsiders on an admin's say or an open invite code", () => {
    const base = { banned: false, inCommunity: false, byCommunityAdmin: false, byCode: false, approvalRequired: false };
    expect(entryOf({ ...base, banned: true, inCommunity: true, byCommunityAdmin: true })).toBe('refuse');
    expect(entryOf({ ...base, inCommunity: true })).toBe('admit');
    expect(entryOf(base)).toBe('request');
    expect(entryOf({ ...base, byCommunityAdmin: true })).toBe('admit');
    expect(entryOf({ ...base, byCode: true })).toBe('admit');
    expect(entryOf({ ...base, byCode: true, approvalRequired: true })).toBe('request');
  });
});

describe('privacy', () => {
  const facts = { groupAdd: null, blocksActor: false, sharesVisibly: false };

  it('groupAdd: everyone adds, shared adds who shares a visible group, nobody always invites', () => {
    expect(decideAdd(false, { ...facts, groupAdd: 'everyone' }, 'nobody')).toBe('add');
    expect(decideAdd(false, { ...facts, groupAdd: 'shared' }, 'everyone')).toBe('invite');
    expect(decideAdd(false, { ...facts, groupAdd: 'shared', sharesVisibly: true }, 'everyone')).toBe('add');
    expect(decideAdd(false, { ...facts, groupAdd: 'nobody', sharesVisibly: true }, 'everyone')).toBe('invite');
  });

  it('a user who never chose gets the server default', () => {
    expect(decideAdd(false, facts, 'everyone')).toBe('add');
    expect(decideAdd(false, facts, 'nobody')).toBe('invite');
    expect(groupAddOf(null, 'shared')).toBe('shared');
    expect(groupAddOf('nobody', 'everyone')).toBe('nobody');
  });

  it('a blocked user reaching someone, or an unknown user, is dropped (answered as an invitation)', () => {
    expect(decideAdd(false, { ...facts, groupAdd: 'everyone', blocksActor: true }, 'everyone')).toBe('drop');
    expect(decideAdd(false, { ...facts, groupAdd: undefined }, 'everyone')).toBe('drop');
    expect(decideAdd(true, { ...facts, groupAdd: 'nobody', blocksActor: true }, 'nobody')).toBe('add');
  });

  it('someone either of the two blocked, or who shares no visible group, does not exist for a direct group', () => {
    expect(codeOf(() => assertReachable({ eitherBlocks: true }))).toBe('not_found');
    expect(codeOf(() => assertReachable({ sharesVisibly: false }))).toBe('not_found');
    expect(codeOf(() => assertReachable({ eitherBlocks: false, sharesVisibly: true }))).toBeUndefined();
  });

  it('a block in a direct group stops writing there, without a reason', () => {
    expect(refusal(() => assertNotBlockedIn('direct', true))).toEqual({ code: 'forbidden', message: 'you cannot send here' });
    expect(refusal(() => assertNotBlockedIn('direct', true, 'you cannot pin here'))?.message).toBe('you cannot pin here');
    expect(codeOf(() => assertNotBlockedIn('direct', false))).toBeUndefined();
    expect(codeOf(() => assertNotBlockedIn('group', true))).toBeUndefined();
  });

  it('last seen: shown by default, never to oneself, never across a block, never when set to nobody', () => {
    expect(lastSeenOf(null)).toBe('shared');
    expect(maySeePresence({ self: false, blockedEitherWay: false, subjectLastSeen: null })).toBe(true);
    expect(maySeePresence({ self: false, blockedEitherWay: false, subjectLastSeen: 'nobody' })).toBe(false);
    expect(maySeePresence({ self: false, blockedEitherWay: true, subjectLastSeen: 'everyone' })).toBe(false);
    expect(maySeePresence({ self: true, blockedEitherWay: false })).toBe(false);
    expect(maySeePresence({ self: false, blockedEitherWay: false })).toBe(true);
  });

  it('presence goes through small ordinary and direct groups only', () => {
    expect(codeOf(() => assertSharesPresence({ kind: 'announcement', memberCount: 2 }, 10))).toBe('bad_request');
    expect(codeOf(() => assertSharesPresence({ kind: 'group', memberCount: 11 }, 10))).toBe('bad_request');
    expect(codeOf(() => assertSharesPresence({ kind: 'direct', memberCount: 2 }, 10))).toBeUndefined();
  });
});

describe('notification level', () => {
  it("all in direct, announcement and small groups; mentions past the limit; a member's own choice wins", () => {
    expect(defaultNotifyLevel('direct', 2, 1)).toBe('all');
    expect(defaultNotifyLevel('announcement', 10_000, 1)).toBe('all');
    expect(defaultNotifyLevel('group', 50, 50)).toBe('all');
    expect(defaultNotifyLevel('group', 51, 50)).toBe('mentions');
    expect(notifyLevelOf(null, 'group', 51, 50)).toBe('mentions');
    expect(notifyLevelOf('none', 'direct', 2, 50)).toBe('none');
  });
});
