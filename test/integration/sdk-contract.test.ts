import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BanyanClient, BanyanHttp } from '../../src/client/index.js';
import { waitFor } from '../helpers/bus-contract.js';
import { startServer, uniqueName, type TestServer, type TestUser } from '../helpers/server.js';

// The SDK's HTTP methods against a real server: every answer must parse with the reply schema
// the SDK holds (BanyanHttp.call throws `internal` on any mismatch), for each shape an endpoint
// documents. The server types its replies with the same schemas, so most drift fails tsc; this
// catches what types cannot (a value the types allow but the schema refuses, or a route that
// answers something else).

describe('SDK ↔ server contract (HTTP replies)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const sdk = (user?: TestUser) => new BanyanHttp({ url: server.url, ...(user ? { token: user.token } : {}) });

  it('accounts, groups, members, receipts', async () => {
    const username = uniqueName();
    const signedUp = await sdk().signUp({ username, password: 'password-123', name: 'Asha' });
    expect(signedUp.user.name).toBe('Asha');
    const signedIn = await sdk().signIn({ username, password: 'password-123' });
    const asha: TestUser = { id: signedIn.user.id, name: signedIn.user.name, token: signedIn.token };
    const ben = await server.signUp();

    const { group } = await sdk(asha).createGroup({ name: 'Volunteers', members: [ben.id] });
    expect(group).toMatchObject({ kind: 'group', name: 'Volunteers', memberCount: 2, lastSeq: 2 });
    expect(await sdk(asha).group(group.id)).toMatchObject({ group: { id: group.id }, role: 'owner' });
    const me = await sdk(ben).me();
    expect(me.groups).toContainEqual(expect.objectContaining({ id: group.id, role: 'member', lastSeq: 2, readSeq: 0 }));
    const members = await sdk(asha).members(group.id);
    expect(members.members.map((m) => m.userId).sort()).toEqual([asha.id, ben.id].sort());
    expect(await sdk(asha).receipts(group.id, 1)).toEqual({ readBy: 0, memberCount: 2 });
    await sdk(ben).leaveGroup(group.id, ben.id);
    await sdk(asha).addMember(group.id, ben.id, 'admin');
    await sdk(asha).signOut();
  });

  it("a community's detail lists the groups a member is in and, with role null, those they may join", async () => {
    const [owner, member] = [await server.signUp(), await server.signUp()];
    const { community } = await sdk(owner).createCommunity({ name: 'Harbour', description: 'Boats' });
    expect(community).toMatchObject({ name: 'Harbour', description: 'Boats', memberCount: 1 });
    const open = (await sdk(owner).createCommunityGroup(community.id, { name: 'Open', settings: { open: true } })).group;
    const invite = await sdk(owner).createInvite(community.id, { maxUses: 5 });
    expect(await sdk(member).joinByInvite(invite.code)).toMatchObject({ community: { id: community.id } });

    // The case the SDK used to refuse: `role: null` for a group the member may join.
    const detail = await sdk(member).community(community.id);
    expect(detail.role).toBe('member');
    expect(detail.groups).toEqual([
      expect.objectContaining({ id: community.announcementGroupId, kind: 'announcement', role: 'member', readSeq: 0 }),
      expect.objectContaining({ id: open.id, kind: 'group', role: null, join: 'open', memberCount: 1 }),
    ]);
    expect(detail.nextCursor).toBeNull();

    await sdk(member).joinCommunityGroup(community.id, open.id);
    const after = await sdk(member).community(community.id);
    expect(after.groups[1]).toMatchObject({ id: open.id, role: 'member', lastSeq: expect.any(Number), readSeq: 0 });

    const posted = await sdk(owner).announce(community.id, { clientMsgId: 'a1', text: 'Welcome aboard' });
    expect(posted).toMatchObject({ group: community.announcementGroupId, seq: expect.any(Number) });
  });

  it('pages a community with more groups than its first page, and joins by invite on approval', async () => {
    const [owner, member] = [await server.signUp(), await server.signUp()];
    const { community } = await sdk(owner).createCommunity({ name: 'Big', settings: { approvalRequired: true } });
    for (let i = 0; i < 101; i++) await sdk(owner).createCommunityGroup(community.id, { name: `g${i}`, settings: { open: i % 2 === 0 } });
    const detail = await sdk(owner).community(community.id);
    expect(detail.groups).toHaveLength(101);
    const rest = await sdk(owner).communityGroups(community.id, detail.nextCursor!);
    expect(rest.groups).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();

    const invite = await sdk(owner).createInvite(community.id);
    expect(await sdk(member).joinByInvite(invite.code)).toEqual({ status: 'pending' });
  });
  it('privacy and safety (docs/protocol.md §8): profile, invitations, blocks', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const me = await sdk(ben).updateMe({ name: 'Ben B', privacy: { groupAdd: 'nobody' } });
    expect(me.user).toEqual({ id: ben.id, name: 'Ben B', avatar: null, privacy: { groupAdd: 'nobody', lastSeen: 'shared' } });
    expect((await sdk(ben).me()).user.privacy.groupAdd).toBe('nobody');
    const created = await sdk(asha).createGroup({ name: 'Ask first', members: [ben.id] });
    expect(created.invited).toEqual([ben.id]);
    const other = await sdk(asha).createGroup({ name: 'Second' });
    expect(await sdk(asha).addMember(other.group.id, ben.id)).toEqual({ status: 'invited' });
    const list = await sdk(ben).invitations();
    expect(list.invitations.map((i) => i.group.id).sort()).toEqual([created.group.id, other.group.id].sort());
    expect((await sdk(ben).acceptInvitation(created.group.id)).group).toMatchObject({ id: created.group.id, memberCount: 2 });
    await sdk(ben).declineInvitation(other.group.id);
    await sdk(ben).block(asha.id);
    expect((await sdk(ben).blocks()).blocks.map((b) => b.userId)).toEqual([asha.id]);
    await sdk(ben).unblock(asha.id);
    expect((await sdk(ben).blocks()).blocks).toEqual([]);
  });

  it('moderation: bans, mutes, reports and the live report and join_request frames reach an admin client', async () => {
    const [owner, member, asker] = [await server.signUp(), await server.signUp(), await server.signUp()];
    const { community } = await sdk(owner).createCommunity({ name: 'Safe', settings: { approvalRequired: true } });
    const { group } = await sdk(owner).createCommunityGroup(community.id, { name: 'Talk' });
    expect(await sdk(owner).addMember(group.id, member.id)).toEqual({});
    const admin = new BanyanClient({ url: server.url, token: owner.token, WebSocket });
    const reports: unknown[] = [];
    const requests: unknown[] = [];
    admin.on('report', (f) => reports.push(f.report));
    admin.on('join_request', (f) => requests.push(f));
    await admin.connect();
    try {
      const posted = await server.http('POST', `/v1/groups/${group.id}/messages`, {
        token: member.token,
        body: { clientMsgId: 'm', text: 'rude' },
      });
      const { seq } = posted.body as { seq: number };
      expect(await sdk(owner).report(group.id, seq, { reason: 'abuse', note: 'see above' })).toEqual({ status: 'received' });
      await waitFor(() => reports.length === 1, 'a report frame', 5000);
      const queue = await sdk(owner).groupReports(group.id);
      expect(queue.reports).toHaveLength(1);
      expect(await sdk(owner).communityReports(community.id, { status: 'resolved' })).toEqual({ reports: [], nextCursor: null });
      const { report } = await sdk(owner).resolveReport(queue.reports[0]!.id, { action: 'mute', forS: 60 });
      expect(report).toMatchObject({ status: 'resolved', action: 'mute', snapshot: { text: 'rude', sender: member.id } });
      await sdk(owner).unmute(group.id, member.id);
      await sdk(owner).mute(group.id, member.id, 120);
      await sdk(owner).ban(community.id, member.id, { reason: 'spam' });
      expect((await sdk(owner).bans(community.id)).bans).toEqual([expect.objectContaining({ userId: member.id, reason: 'spam' })]);
      await sdk(owner).unban(community.id, member.id);

      const invite = await sdk(owner).createInvite(community.id);
      await sdk(asker).joinByInvite(invite.code);
      await waitFor(() => requests.length === 1, 'a join_request frame', 5000);
      expect(requests[0]).toMatchObject({ type: 'join_request', community: community.id, user: { id: asker.id } });
    } finally {
      admin.close();
    }
  });
});
