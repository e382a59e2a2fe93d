import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { roundTrip } from '../helpers/markers.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

const memberEvents = (s: TestSocket, group: string) =>
  s
    .events(group)
    .filter((e) => e.kind === 'member')
    .map((e) => ({ member: e.member, action: e.action }));

describe.each(storageModes())('communities (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function community(owner: TestUser, name = 'Org', settings?: Record<string, boolean>) {
    const r = await server.http('POST', '/v1/communities', {
      token: owner.token,
      body: { name, description: 'all of us', ...(settings ? { settings } : {}) },
    });
    expect(r.status).toBe(201);
    return r.body.community as { id: string; announcementGroupId: string; name: string };
  }

  async function inviteAndJoin(c: { id: string }, admin: TestUser, users: TestUser[]) {
    const invite = await server.http('POST', `/v1/communities/${c.id}/invites`, { token: admin.token, body: {} });
    for (const u of users) {
      const r = await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: u.token });
      expect(r.status).toBe(200);
    }
  }

  it('creates a community with its announcement group in one step; the creator owns both', async () => {
    const asha = await server.signUp();
    const socket = await connect(server.wsUrl, asha.token);
    const c = await community(asha);
    expect(c).toMatchObject({ name: 'Org', description: 'all of us', settings: {}, memberCount: 1 });
    const added = await socket.next((f) => f.type === 'group_added');
    expect(added.group).toMatchObject({ id: c.announcementGroupId, kind: 'announcement', name: 'Org', communityId: c.id, role: 'owner' });

    const got = await server.http('GET', `/v1/communities/${c.id}`, { token: asha.token });
    expect(got.status).toBe(200);
    expect(got.body.role).toBe('owner');
    expect(got.body.groups.map((g: Frame) => g.id)).toEqual([c.announcementGroupId]);
    const me = await server.http('GET', '/v1/me', { token: asha.token });
    expect(me.body.communities).toEqual([{ id: c.id, name: 'Org', role: 'owner' }]);

    const patched = await server.http('PATCH', `/v1/communities/${c.id}`, {
      token: asha.token,
      body: { name: 'Org 2', settings: { approvalRequired: true } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.community).toMatchObject({ name: 'Org 2', settings: { approvalRequired: true } });
    const change = await socket.next((f) => f.type === 'event' && f.kind === 'group');
    expect(change).toMatchObject({ group: c.announcementGroupId, changes: { name: 'Org 2', settings: { approvalRequired: true } } });
    // Renaming the announcement group renames the community: one name, one place.
    await server.http('PATCH', `/v1/groups/${c.announcementGroupId}`, { token: asha.token, body: { name: 'Org 3' } });
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: asha.token })).body.community.name).toBe('Org 3');
    expect((await server.http('GET', '/v1/me', { token: asha.token })).body.communities).toEqual([
      { id: c.id, name: 'Org 3', role: 'owner' },
    ]);
    await socket.close();
  });

  it('groups inside: members join the community; unlinking keeps the group but leaves the community', async () => {
    const [owner, ben, cara] = [await server.signUp(), await server.signUp(), await server.signUp()];
    const c = await community(owner);
    const inside = await server.http('POST', `/v1/communities/${c.id}/groups`, {
      token: owner.token,
      body: { name: 'Volunteers', settings: { open: true } },
    });
    expect(inside.status).toBe(201);
    expect(inside.body.group).toMatchObject({ kind: 'group', communityId: c.id, name: 'Volunteers' });

    // Ben owns a group with Cara, and becomes a community admin so he may link it.
    const existing = await createGroup(server, ben, [cara], 'Drivers');
    await inviteAndJoin(c, owner, [ben]);
    expect((await server.http('PUT', `/v1/communities/${c.id}/groups/${existing}`, { token: ben.token })).status).toBe(403);
    expect((await server.http('PUT', `/v1/communities/${c.id}/admins/${ben.id}`, { token: owner.token })).status).toBe(204);

    const caraSocket = await connect(server.wsUrl, cara.token);
    const linked = await server.http('PUT', `/v1/communities/${c.id}/groups/${existing}`, { token: ben.token });
    expect(linked.status).toBe(200);
    expect(linked.body.group).toMatchObject({ id: existing, communityId: c.id });
    const added = await caraSocket.next((f) => f.type === 'group_added' && f.group.id === c.announcementGroupId);
    expect(added.group).toMatchObject({ kind: 'announcement', role: 'member' });
    const linkEvent = await caraSocket.next((f) => f.type === 'event' && f.group === existing && f.kind === 'group');
    expect(linkEvent.changes).toEqual({ communityId: c.id });

    // Cara sees both groups (one she is in, one open) and joins the open one.
    const view = await server.http('GET', `/v1/communities/${c.id}`, { token: cara.token });
    expect(view.body.role).toBe('member');
    const byId = Object.fromEntries(view.body.groups.map((g: Frame) => [g.id, g]));
    expect(byId[existing]).toMatchObject({ role: 'member' });
    expect(byId[inside.body.group.id]).toMatchObject({ role: null, join: 'open' });
    const joined = await server.http('POST', `/v1/communities/${c.id}/groups/${inside.body.group.id}/join`, { token: cara.token });
    expect(joined.status).toBe(200);
    expect(joined.body.group).toMatchObject({ id: inside.body.group.id, role: 'member' });
    expect((await server.http('POST', `/v1/communities/${c.id}/groups/${inside.body.group.id}/join`, { token: cara.token })).status).toBe(
      409,
    );

    // Unlink: Cara is still in Volunteers, so stays in the community; Dan, only in Drivers, leaves it.
    const dan = await server.signUp();
    expect((await server.http('POST', `/v1/groups/${existing}/members`, { token: ben.token, body: { userId: dan.id } })).status).toBe(201);
    const members = async () =>
      (await server.http('GET', `/v1/communities/${c.id}/members`, { token: owner.token })).body.members.map((m: Frame) => m.userId).sort();
    expect(await members()).toEqual([owner.id, ben.id, cara.id, dan.id].sort());
    const danSocket = await connect(server.wsUrl, dan.token);
    expect((await server.http('DELETE', `/v1/communities/${c.id}/groups/${existing}`, { token: owner.token })).status).toBe(204);
    expect(await members()).toEqual([owner.id, ben.id, cara.id].sort());
    await danSocket.next((f) => f.type === 'group_removed' && f.group === c.announcementGroupId);
    // The announcement group's roster is private: no member event, only group_removed (docs/protocol.md §8 "Privacy and safety").
    expect(memberEvents(danSocket, c.announcementGroupId)).toEqual([]);
    expect(caraSocket.frames.some((f) => f.type === 'group_removed')).toBe(false);
    await danSocket.close();
    const drivers = await server.http('GET', `/v1/groups/${existing}`, { token: dan.token });
    expect(drivers.body.group).toMatchObject({ communityId: null, memberCount: 3 });
    await caraSocket.close();
  });

  it('removing a member takes them out of every group at once; their socket gets nothing more', async () => {
    const [owner, ben] = [await server.signUp(), await server.signUp()];
    const c = await community(owner);
    const g1 = (
      await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'One', settings: { open: true } } })
    ).body.group.id;
    const g2 = (
      await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'Two', settings: { open: true } } })
    ).body.group.id;
    await inviteAndJoin(c, owner, [ben]);
    for (const g of [g1, g2])
      expect((await server.http('POST', `/v1/communities/${c.id}/groups/${g}/join`, { token: ben.token })).status).toBe(200);

    const benSocket = await connect(server.wsUrl, ben.token);
    const ownerSocket = await connect(server.wsUrl, owner.token);
    expect(benSocket.frames[0]!.groups.map((g: Frame) => g.id).sort()).toEqual([c.announcementGroupId, g1, g2].sort());

    expect((await server.http('DELETE', `/v1/communities/${c.id}/members/${ben.id}`, { token: owner.token })).status).toBe(204);
    await benSocket.next((f) => f.type === 'group_removed' && f.group === c.announcementGroupId);
    // A private roster: the owner (an admin) hears of it by a member_changed frame, not an event.
    await ownerSocket.next((f) => f.type === 'member_changed' && f.community === c.id && f.user.id === ben.id && f.action === 'removed');
    for (const g of [g1, g2]) {
      await benSocket.next((f) => f.type === 'group_removed' && f.group === g);
      await ownerSocket.next(
        (f) => f.type === 'event' && f.group === g && f.kind === 'member' && f.member === ben.id && f.action === 'removed',
      );
      // The removal event is the last thing Ben's socket gets of that group.
      expect(benSocket.events(g).at(-1)).toMatchObject({ kind: 'member', member: ben.id, action: 'removed' });
    }
    const seen = benSocket.frames.length;
    const announced = await server.http('POST', `/v1/communities/${c.id}/announcements`, {
      token: owner.token,
      body: { clientMsgId: 'a1', text: 'after' },
    });
    expect(announced.status).toBe(201);
    for (const g of [g1, g2]) await ownerSocket.request({ type: 'send', group: g, clientMsgId: `after-${g}`, text: 'after' });
    await ownerSocket.next((f) => f.type === 'event' && f.group === c.announcementGroupId && f.clientMsgId === 'a1');
    // One replica, in-process bus: what those writes published was written to the sockets before their answers.
    await roundTrip(benSocket);
    expect(benSocket.frames.slice(seen).filter((f) => f.type !== 'pong')).toEqual([]);
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: ben.token })).status).toBe(404);
    const me = await server.http('GET', '/v1/me', { token: ben.token });
    expect(me.body.groups).toEqual([]);
    expect(me.body.communities).toEqual([]);
    await Promise.all([benSocket.close(), ownerSocket.close()]);
  });

  it('leaving the announcement group is leaving the community; the owner cannot be removed', async () => {
    const [owner, ben, cara] = [await server.signUp(), await server.signUp(), await server.signUp()];
    const c = await community(owner);
    const g = (
      await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'G', settings: { open: true } } })
    ).body.group.id;
    await inviteAndJoin(c, owner, [ben, cara]);
    await server.http('POST', `/v1/communities/${c.id}/groups/${g}/join`, { token: ben.token });
    await server.http('POST', `/v1/communities/${c.id}/groups/${g}/join`, { token: cara.token });

    expect((await server.http('DELETE', `/v1/groups/${c.announcementGroupId}/members/${ben.id}`, { token: ben.token })).status).toBe(204);
    expect((await server.http('GET', `/v1/groups/${g}`, { token: ben.token })).status).toBe(404);
    expect((await server.http('DELETE', `/v1/communities/${c.id}/members/${cara.id}`, { token: cara.token })).status).toBe(204);
    expect((await server.http('GET', `/v1/groups/${g}`, { token: cara.token })).status).toBe(404);
    const log = await server.http('GET', `/v1/groups/${g}`, { token: owner.token });
    expect(log.body.group.memberCount).toBe(1);

    const dan = await server.signUp();
    await inviteAndJoin(c, owner, [dan]);
    expect((await server.http('DELETE', `/v1/communities/${c.id}/members/${owner.id}`, { token: dan.token })).status).toBe(403);
    expect((await server.http('PUT', `/v1/communities/${c.id}/admins/${dan.id}`, { token: owner.token })).status).toBe(204);
    expect((await server.http('DELETE', `/v1/communities/${c.id}/members/${owner.id}`, { token: dan.token })).status).toBe(403);
    expect((await server.http('DELETE', `/v1/communities/${c.id}`, { token: dan.token })).status).toBe(403);
    expect((await server.http('DELETE', `/v1/communities/${c.id}/admins/${dan.id}`, { token: owner.token })).status).toBe(204);
    const page = await server.http('GET', `/v1/communities/${c.id}/members`, { token: owner.token });
    expect(page.body.members.find((m: Frame) => m.userId === dan.id)).toMatchObject({ role: 'member', name: dan.name });
  });

  it('pages members by cursor, with names and roles and nothing else', async () => {
    const owner = await server.signUp();
    const c = await community(owner);
    const users = await Promise.all(Array.from({ length: 5 }, () => server.signUp()));
    await inviteAndJoin(c, owner, users);
    const all: Frame[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: Frame } = await server.http(
        'GET',
        `/v1/communities/${c.id}/members?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: owner.token },
      );
      expect(r.status).toBe(200);
      expect(r.body.members.length).toBeLessThanOrEqual(2);
      all.push(...r.body.members);
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(all.map((m) => m.userId)).toEqual([owner, ...users].map((u) => u.id).sort());
    for (const m of all) expect(Object.keys(m).sort()).toEqual(['joinedAt', 'name', 'role', 'userId']);
    // Plain members list neither the community nor its announcement group.
    expect((await server.http('GET', `/v1/communities/${c.id}/members`, { token: users[0]!.token })).status).toBe(403);
    expect((await server.http('GET', `/v1/groups/${c.announcementGroupId}/members`, { token: users[0]!.token })).status).toBe(403);
  });

  it('deleting a community closes its announcement group on every socket and frees its groups', async () => {
    const [owner, ben] = [await server.signUp(), await server.signUp()];
    const c = await community(owner);
    const g = (
      await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'G', settings: { open: true } } })
    ).body.group.id;
    await inviteAndJoin(c, owner, [ben]);
    await server.http('POST', `/v1/communities/${c.id}/groups/${g}/join`, { token: ben.token });
    const socket = await connect(server.wsUrl, ben.token);
    expect((await server.http('DELETE', `/v1/communities/${c.id}`, { token: owner.token })).status).toBe(204);
    await socket.next((f) => f.type === 'group_removed' && f.group === c.announcementGroupId);
    const detached = await socket.next((f) => f.type === 'event' && f.group === g && f.kind === 'group');
    expect(detached.changes).toEqual({ communityId: null });
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: owner.token })).status).toBe(404);
    expect((await server.http('GET', `/v1/groups/${g}`, { token: ben.token })).body.group.communityId).toBeNull();
    expect(memberEvents(socket, g)).toEqual([]);
    await socket.close();
  });
});

describe('community member limit', () => {
  it('MAX_GROUP_MEMBERS holds for the announcement group with conflict, and nothing is half-joined', async () => {
    const server = await startServer({ env: { MAX_GROUP_MEMBERS: '3' } });
    try {
      const owner = await server.signUp();
      const c = (await server.http('POST', '/v1/communities', { token: owner.token, body: { name: 'Small' } })).body.community;
      const { code } = (await server.http('POST', `/v1/communities/${c.id}/invites`, { token: owner.token, body: { maxUses: 10 } })).body;
      const users = [await server.signUp(), await server.signUp(), await server.signUp()];
      const statuses = [];
      for (const u of users) statuses.push((await server.http('POST', `/v1/invites/${code}/join`, { token: u.token })).status);
      expect(statuses).toEqual([200, 200, 409]);
      const view = await server.http('GET', `/v1/communities/${c.id}`, { token: owner.token });
      expect(view.body.community.memberCount).toBe(3);
      expect((await server.http('GET', `/v1/communities/${c.id}`, { token: users[2]!.token })).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
