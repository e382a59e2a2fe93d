import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { connect, type Frame } from '../helpers/ws-client.js';

describe.each(storageModes())('community invites, announcements and privacy (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode, env: { MAX_COMMUNITY_GROUPS: '2' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function community(owner: TestUser, settings?: Record<string, boolean>) {
    const r = await server.http('POST', '/v1/communities', {
      token: owner.token,
      body: { name: 'Org', ...(settings ? { settings } : {}) },
    });
    expect(r.status).toBe(201);
    return r.body.community as { id: string; announcementGroupId: string };
  }

  const invite = async (c: { id: string }, admin: TestUser, body: Record<string, unknown> = {}) => {
    const r = await server.http('POST', `/v1/communities/${c.id}/invites`, { token: admin.token, body });
    expect(r.status).toBe(201);
    return r.body as { code: string; expiresAt: string | null; maxUses: number | null };
  };

  it('invite codes are unguessable, limited, revocable; concurrent joins respect maxUses', async () => {
    const owner = await server.signUp();
    const c = await community(owner);
    const inv = await invite(c, owner, { maxUses: 3, expiresInS: 3600 });
    expect(Buffer.from(inv.code, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(inv.maxUses).toBe(3);
    expect(Date.parse(inv.expiresAt!) - Date.now()).toBeGreaterThan(3500_000);

    const users = await Promise.all(Array.from({ length: 8 }, () => server.signUp()));
    const results = await Promise.all(users.map((u) => server.http('POST', `/v1/invites/${inv.code}/join`, { token: u.token })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(results.filter((r) => r.status === 409)).toHaveLength(5);
    const members = await server.http('GET', `/v1/communities/${c.id}/members`, { token: owner.token });
    expect(members.body.members).toHaveLength(4);

    // A member using the code again takes no use; a revoked code stops working.
    const joined = users[results.findIndex((r) => r.status === 200)]!;
    expect((await server.http('POST', `/v1/invites/${inv.code}/join`, { token: joined.token })).status).toBe(200);
    const second = await invite(c, owner);
    expect(second.maxUses).toBeNull();
    expect((await server.http('DELETE', `/v1/communities/${c.id}/invites/${second.code}`, { token: owner.token })).status).toBe(204);
    const late = await server.signUp();
    expect((await server.http('POST', `/v1/invites/${second.code}/join`, { token: late.token })).status).toBe(404);
    expect((await server.http('POST', `/v1/invites/not-a-code/join`, { token: late.token })).status).toBe(404);
    expect((await server.http('POST', `/v1/communities/${c.id}/invites`, { token: joined.token, body: {} })).status).toBe(403);
  });

  it('with approvalRequired a join is a request that admins list, approve or reject', async () => {
    const owner = await server.signUp();
    const c = await community(owner, { approvalRequired: true });
    const inv = await invite(c, owner);
    const [ben, cara] = [await server.signUp(), await server.signUp()];
    const benSocket = await connect(server.wsUrl, ben.token);
    for (const u of [ben, cara]) {
      const r = await server.http('POST', `/v1/invites/${inv.code}/join`, { token: u.token });
      expect(r).toEqual({ status: 202, body: { status: 'pending' } });
    }
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: ben.token })).status).toBe(404);
    const listed = await server.http('GET', `/v1/communities/${c.id}/requests`, { token: owner.token });
    expect(listed.body.requests.map((r: Frame) => r.userId).sort()).toEqual([ben.id, cara.id].sort());
    expect(listed.body.requests[0]).toMatchObject({ groupId: c.announcementGroupId });

    expect((await server.http('POST', `/v1/communities/${c.id}/requests/${ben.id}/approve`, { token: owner.token })).status).toBe(200);
    const added = await benSocket.next((f) => f.type === 'group_added');
    expect(added.group).toMatchObject({ id: c.announcementGroupId, role: 'member' });
    expect((await server.http('POST', `/v1/communities/${c.id}/requests/${cara.id}/reject`, { token: owner.token })).status).toBe(204);
    expect((await server.http('POST', `/v1/communities/${c.id}/requests/${cara.id}/approve`, { token: owner.token })).status).toBe(404);
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: cara.token })).status).toBe(404);
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: ben.token })).body.role).toBe('member');
    expect((await server.http('GET', `/v1/communities/${c.id}/requests`, { token: owner.token })).body.requests).toEqual([]);

    // A group of the community can require approval too.
    const g = (
      await server.http('POST', `/v1/communities/${c.id}/groups`, {
        token: owner.token,
        body: { name: 'Closed', settings: { approvalRequired: true } },
      })
    ).body.group.id;
    const hidden = (await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'Hidden' } })).body
      .group.id;
    const view = await server.http('GET', `/v1/communities/${c.id}`, { token: ben.token });
    expect(view.body.groups.map((x: Frame) => x.id)).toEqual([c.announcementGroupId, g]);
    expect(view.body.groups[1]).toMatchObject({ role: null, join: 'approval' });
    expect((await server.http('POST', `/v1/communities/${c.id}/groups/${hidden}/join`, { token: ben.token })).status).toBe(404);
    expect((await server.http('POST', `/v1/communities/${c.id}/groups/${g}/join`, { token: ben.token })).status).toBe(202);
    expect(
      (await server.http('POST', `/v1/communities/${c.id}/requests/${ben.id}/approve`, { token: owner.token, body: { groupId: g } }))
        .status,
    ).toBe(200);
    await benSocket.next((f) => f.type === 'group_added' && f.group.id === g);
    // The configured limit (2 groups) holds.
    const third = await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'Third' } });
    expect(third.status).toBe(409);
    await benSocket.close();
  });

  it('announcements: admins and server tokens post, members do not; one event reaches every member', async () => {
    const owner = await server.signUp();
    const c = await community(owner);
    const inv = await invite(c, owner);
    const members = await Promise.all(Array.from({ length: 3 }, () => server.signUp()));
    for (const m of members) await server.http('POST', `/v1/invites/${inv.code}/join`, { token: m.token });
    const sockets = await Promise.all(members.map((m) => connect(server.wsUrl, m.token)));

    const byAdmin = await server.http('POST', `/v1/communities/${c.id}/announcements`, {
      token: owner.token,
      body: { clientMsgId: 'a1', text: 'Meeting at 5' },
    });
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.body).toMatchObject({ group: c.announcementGroupId });
    const byMember = await server.http('POST', `/v1/communities/${c.id}/announcements`, {
      token: members[0]!.token,
      body: { clientMsgId: 'a2', text: 'me too' },
    });
    expect(byMember.status).toBe(403);
    const ws = await sockets[0]!.request({ type: 'send', group: c.announcementGroupId, clientMsgId: 'a3', text: 'me too' });
    expect(ws).toMatchObject({ type: 'error', code: 'forbidden' });

    const service = await server.token('ngo-backend', { scope: 'server', name: 'NGO system' });
    const byService = await server.http('POST', `/v1/communities/${c.id}/announcements`, {
      token: service,
      body: { clientMsgId: 's1', text: 'From HQ' },
    });
    expect(byService.status).toBe(201);
    expect(byService.body.seq).toBe(byAdmin.body.seq + 1);
    const plain = await server.token('not-a-service');
    expect(
      (await server.http('POST', `/v1/communities/${c.id}/announcements`, { token: plain, body: { clientMsgId: 's2', text: 'x' } })).status,
    ).toBe(404);
    expect(
      (await server.http('POST', `/v1/communities/c_nope/announcements`, { token: service, body: { clientMsgId: 's3', text: 'x' } }))
        .status,
    ).toBe(404);

    for (const s of sockets) {
      const got = await s.next((f) => f.type === 'event' && f.clientMsgId === 's1');
      expect(got).toMatchObject({ group: c.announcementGroupId, seq: byService.body.seq, sender: 'ngo-backend', text: 'From HQ' });
      expect(
        s
          .events(c.announcementGroupId)
          .filter((e) => e.kind === 'message')
          .map((e) => e.clientMsgId),
      ).toEqual(['a1', 's1']);
    }
    // A setting opens the announcement group to members.
    await server.http('PATCH', `/v1/communities/${c.id}`, { token: owner.token, body: { settings: { adminsOnlyPost: false } } });
    expect(
      (
        await server.http('POST', `/v1/communities/${c.id}/announcements`, {
          token: members[0]!.token,
          body: { clientMsgId: 'a4', text: 'now I may' },
        })
      ).status,
    ).toBe(201);
    await Promise.all(sockets.map((s) => s.close()));
  });

  it('a member answers an announcement privately in a direct group, only with someone they share a group with', async () => {
    const [owner, ben, stranger] = [await server.signUp(), await server.signUp(), await server.signUp()];
    const c = await community(owner);
    const inv = await invite(c, owner);
    await server.http('POST', `/v1/invites/${inv.code}/join`, { token: ben.token });
    const ownerSocket = await connect(server.wsUrl, owner.token);

    const opened = await server.http('POST', '/v1/direct', { token: ben.token, body: { userId: owner.id } });
    expect(opened.status).toBe(201);
    expect(opened.body.group).toMatchObject({ kind: 'direct', memberCount: 2, communityId: null });
    const again = await server.http('POST', '/v1/direct', { token: owner.token, body: { userId: ben.id } });
    expect(again).toMatchObject({ status: 200, body: { group: { id: opened.body.group.id } } });
    const added = await ownerSocket.next((f) => f.type === 'group_added' && f.group.id === opened.body.group.id);
    expect(added.group.kind).toBe('direct');
    const sent = await server.http('POST', `/v1/groups/${opened.body.group.id}/messages`, {
      token: ben.token,
      body: { clientMsgId: 'r1', text: 'about the meeting' },
    });
    expect(sent.status).toBe(201);
    await ownerSocket.next((f) => f.type === 'event' && f.group === opened.body.group.id && f.clientMsgId === 'r1');

    expect((await server.http('POST', '/v1/direct', { token: stranger.token, body: { userId: owner.id } })).status).toBe(404);
    expect((await server.http('POST', '/v1/direct', { token: ben.token, body: { userId: 'u_nobody' } })).status).toBe(404);
    expect((await server.http('DELETE', `/v1/groups/${opened.body.group.id}/members/${owner.id}`, { token: ben.token })).status).toBe(403);
    await ownerSocket.close();
  });

  it('an outsider probing every community endpoint gets 404', async () => {
    const [owner, member, outsider] = [await server.signUp(), await server.signUp(), await server.signUp()];
    const c = await community(owner);
    const g = (
      await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'Open', settings: { open: true } } })
    ).body.group.id;
    const inv = await invite(c, owner);
    await server.http('POST', `/v1/invites/${inv.code}/join`, { token: member.token });
    const own = await createGroup(server, outsider, [], 'Mine');
    const probes: [string, string, unknown?][] = [
      ['GET', `/v1/communities/${c.id}`],
      ['PATCH', `/v1/communities/${c.id}`, { name: 'x' }],
      ['DELETE', `/v1/communities/${c.id}`],
      ['GET', `/v1/communities/${c.id}/groups`],
      ['POST', `/v1/communities/${c.id}/groups`, { name: 'x' }],
      ['PUT', `/v1/communities/${c.id}/groups/${own}`],
      ['DELETE', `/v1/communities/${c.id}/groups/${g}`],
      ['POST', `/v1/communities/${c.id}/groups/${g}/join`],
      ['GET', `/v1/communities/${c.id}/members`],
      ['DELETE', `/v1/communities/${c.id}/members/${member.id}`],
      ['PUT', `/v1/communities/${c.id}/admins/${outsider.id}`],
      ['DELETE', `/v1/communities/${c.id}/admins/${member.id}`],
      ['POST', `/v1/communities/${c.id}/invites`, {}],
      ['DELETE', `/v1/communities/${c.id}/invites/${inv.code}`],
      ['GET', `/v1/communities/${c.id}/requests`],
      ['POST', `/v1/communities/${c.id}/requests/${member.id}/approve`],
      ['POST', `/v1/communities/${c.id}/requests/${member.id}/reject`],
      ['POST', `/v1/communities/${c.id}/announcements`, { clientMsgId: 'x', text: 'x' }],
      ['GET', `/v1/groups/${c.announcementGroupId}`],
      ['GET', `/v1/groups/${c.announcementGroupId}/members`],
      ['GET', `/v1/groups/${c.announcementGroupId}/messages`],
      ['GET', `/v1/groups/${g}`],
      ['GET', `/v1/groups/${g}/messages`],
      ['POST', `/v1/groups/${g}/messages`, { clientMsgId: 'x', text: 'x' }],
      ['POST', '/v1/direct', { userId: member.id }],
    ];
    for (const [method, path, body] of probes) {
      const r = await server.http(method, path, { token: outsider.token, ...(body !== undefined ? { body } : {}) });
      expect({ method, path, status: r.status, code: r.body?.error?.code }).toEqual({ method, path, status: 404, code: 'not_found' });
    }
    const socket = await connect(server.wsUrl, outsider.token);
    const reply = await socket.request({ type: 'sync', groups: { [c.announcementGroupId]: 0 } });
    expect(reply).toMatchObject({ type: 'error', code: 'not_found' });
    await socket.close();
    // Nothing changed.
    const after = await server.http('GET', `/v1/communities/${c.id}`, { token: owner.token });
    expect(after.body.community).toMatchObject({ name: 'Org', memberCount: 2 });
  });
});
