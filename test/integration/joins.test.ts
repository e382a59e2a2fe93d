import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { tokenUser } from '../helpers/users.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Moderation" ("Joining"): every way into a group or a community passes one
// check at the moment of joining. Tried as the banned or removed user does: with an invitation
// made before the ban or the removal, and through every other way in.

interface Community {
  id: string;
  announcementGroupId: string;
}

describe.each(storageModes())('every way in passes the same check (%s)', (mode) => {
  let server: TestServer;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    // `shared`, the protocol's default: strangers' adds become invitations.
    server = await startServer({ mode, env: { DEFAULT_GROUP_ADD: 'shared' } });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await server?.stop();
  });

  const users = async <const L extends readonly string[]>(...labels: L) =>
    (await Promise.all(labels.map((l) => tokenUser(server, l)))) as { [K in keyof L]: TestUser };
  const socket = async (u: TestUser) => {
    const s = await connect(server.wsUrl, u.token);
    sockets.push(s);
    return s;
  };
  const http = (method: string, path: string, u: TestUser, body?: unknown) =>
    server.http(method, path, { token: u.token, ...(body === undefined ? {} : { body }) });
  const ok = async (method: string, path: string, u: TestUser, status: number, body?: unknown) => {
    const r = await http(method, path, u, body);
    expect({ method, path, status: r.status, body: r.body }).toMatchObject({ method, path, status });
    return r.body;
  };
  const setGroupAdd = (u: TestUser, groupAdd: string) => ok('PATCH', '/v1/me', u, 200, { privacy: { groupAdd } });
  const community = async (owner: TestUser, settings?: Record<string, boolean>): Promise<Community> =>
    (await ok('POST', '/v1/communities', owner, 201, { name: 'Parents', ...(settings ? { settings } : {}) })).community;
  const join = async (c: Community, admin: TestUser, ...joiners: TestUser[]) => {
    const { code } = await ok('POST', `/v1/communities/${c.id}/invites`, admin, 201, {});
    for (const u of joiners) await ok('POST', `/v1/invites/${code}/join`, u, 200);
    return code as string;
  };
  const communityGroup = async (c: Community, admin: TestUser, settings?: Record<string, boolean>): Promise<string> =>
    (await ok('POST', `/v1/communities/${c.id}/groups`, admin, 201, { name: 'Class 3B', ...(settings ? { settings } : {}) })).group.id;
  const add = (group: string, actor: TestUser, userId: string, role?: string) =>
    http('POST', `/v1/groups/${group}/members`, actor, { userId, ...(role ? { role } : {}) });
  const accept = (group: string, u: TestUser) => http('POST', `/v1/groups/${group}/invitation`, u);
  const invitedTo = async (u: TestUser) =>
    ((await ok('GET', '/v1/invitations', u, 200)).invitations as Frame[]).map((i) => i.group.id as string);
  const inCommunity = async (c: Community, admin: TestUser, userId: string) =>
    ((await ok('GET', `/v1/communities/${c.id}/members?limit=1000`, admin, 200)).members as Frame[]).some((m) => m.userId === userId);
  const inGroup = async (group: string, admin: TestUser, userId: string) =>
    ((await ok('GET', `/v1/groups/${group}/members?limit=1000`, admin, 200)).members as Frame[]).some((m) => m.userId === userId);
  const requests = async (c: Community, admin: TestUser) =>
    ((await ok('GET', `/v1/communities/${c.id}/requests`, admin, 200)).requests as Frame[]).map((r) => [r.userId, r.groupId]);
  /** The answer to accepting an invitation that never was: what a refused one must look like. */
  const noInvitation = async (u: TestUser, group: string) => {
    const r = await accept(group, u);
    return { status: r.status, body: r.body };
  };
  /**
   * Nothing reached `s` for `groups`: a group the user joins afterwards announces itself on the
   * same socket, and no `group_added` of those groups came before it.
   */
  const heardOfNone = async (s: TestSocket, u: TestUser, groups: string[]) => {
    const [marker] = await users('marker');
    await setGroupAdd(u, 'everyone');
    const g = (await ok('POST', '/v1/groups', marker, 201, { name: 'marker', members: [u.id] })).group.id;
    await s.next((f) => f.type === 'group_added' && f.group.id === g);
    expect(s.frames.filter((f) => f.type === 'group_added' && groups.includes(f.group.id))).toEqual([]);
  };

  it('a ban undoes an invitation made before it: accepting is answered as an invitation that never was', async () => {
    const [owner, target, control] = await users('owner', 'target', 'control');
    await setGroupAdd(target, 'nobody');
    const c = await community(owner);
    const g = await communityGroup(c, owner);
    // The community admin's adds become invitations, to a group and to the community itself.
    expect((await add(g, owner, target.id)).status).toBe(202);
    expect((await add(c.announcementGroupId, owner, target.id)).status).toBe(202);
    expect((await invitedTo(target)).sort()).toEqual([g, c.announcementGroupId].sort());
    const targetSocket = await socket(target);

    await ok('PUT', `/v1/communities/${c.id}/bans/${target.id}`, owner, 204, { reason: 'spam' });
    // The ban took the invitations with it.
    expect(await invitedTo(target)).toEqual([]);
    const never = await noInvitation(target, await communityGroup(c, owner));
    expect(never.status).toBe(404);
    for (const group of [g, c.announcementGroupId]) {
      const r = await accept(group, target);
      expect({ status: r.status, body: r.body }).toEqual(never);
    }
    expect(await inCommunity(c, owner, target.id)).toBe(false);
    expect(await inGroup(g, owner, target.id)).toBe(false);
    await heardOfNone(targetSocket, target, [g, c.announcementGroupId]);

    // The same invitation without a ban still joins (the control).
    await setGroupAdd(control, 'nobody');
    expect((await add(g, owner, control.id)).status).toBe(202);
    expect((await accept(g, control)).status).toBe(200);
    expect(await inCommunity(c, owner, control.id)).toBe(true);
  });

  it('an invitation to a group linked afterwards into a community that bans the user does not bring them in', async () => {
    const [owner, target] = await users('owner', 'target');
    await setGroupAdd(target, 'nobody');
    const c = await community(owner);
    await ok('PUT', `/v1/communities/${c.id}/bans/${target.id}`, owner, 204, {});
    // A group outside the community invites the user, and then joins the community.
    const g = (await ok('POST', '/v1/groups', owner, 201, { name: 'Choir', members: [target.id] })).group.id;
    expect(await invitedTo(target)).toEqual([g]);
    await ok('PUT', `/v1/communities/${c.id}/groups/${g}`, owner, 200);
    const targetSocket = await socket(target);

    const never = await noInvitation(target, await communityGroup(c, owner));
    const r = await accept(g, target);
    expect({ status: r.status, body: r.body }).toEqual(never);
    expect(await inCommunity(c, owner, target.id)).toBe(false);
    expect(await inGroup(g, owner, target.id)).toBe(false);
    // Refused once, the invitation is gone.
    expect(await invitedTo(target)).toEqual([]);
    await heardOfNone(targetSocket, target, [g, c.announcementGroupId]);
  });

  it('a member removed from an approval-only community is not let back in by an old invitation', async () => {
    const [owner, groupAdmin, target] = await users('owner', 'gadmin', 'target');
    const c = await community(owner, { approvalRequired: true });
    const { code } = await ok('POST', `/v1/communities/${c.id}/invites`, owner, 201, {});
    for (const u of [groupAdmin, target]) {
      await ok('POST', `/v1/invites/${code}/join`, u, 202);
      await ok('POST', `/v1/communities/${c.id}/requests/${u.id}/approve`, owner, 200, {});
    }
    const g = await communityGroup(c, owner);
    expect((await add(g, owner, groupAdmin.id, 'admin')).status).toBe(201);
    await setGroupAdd(target, 'nobody');
    // The group admin invites a member of the community; an admin then removes them.
    expect((await add(g, groupAdmin, target.id)).status).toBe(202);
    expect(await invitedTo(target)).toEqual([g]);
    await ok('DELETE', `/v1/communities/${c.id}/members/${target.id}`, owner, 204);
    const targetSocket = await socket(target);

    const r = await accept(g, target);
    expect(r.status).toBe(404);
    expect(await inCommunity(c, owner, target.id)).toBe(false);
    expect(await inGroup(g, owner, target.id)).toBe(false);
    expect(await requests(c, owner)).toEqual([]);
    await heardOfNone(targetSocket, target, [g, c.announcementGroupId]);
  });

  it('an invitation by someone who is not a community admin becomes a join request in an approval-only community', async () => {
    const [owner, groupOwner, target] = await users('owner', 'gowner', 'target');
    await setGroupAdd(target, 'nobody');
    await setGroupAdd(owner, 'everyone');
    // A group's owner invites someone before the group is linked into an approval-only community:
    // after the link the inviter is a plain member of it, and no admin said yes.
    const g = (await ok('POST', '/v1/groups', groupOwner, 201, { name: 'Choir', members: [target.id] })).group.id;
    expect(await invitedTo(target)).toEqual([g]);
    expect((await add(g, groupOwner, owner.id, 'admin')).status).toBe(201);
    const c = await community(owner, { approvalRequired: true });
    await ok('PUT', `/v1/communities/${c.id}/groups/${g}`, owner, 200);
    const targetSocket = await socket(target);
    const ownerSocket = await socket(owner);

    const r = await accept(g, target);
    expect({ status: r.status, body: r.body }).toEqual({ status: 202, body: { status: 'pending' } });
    expect(await inCommunity(c, owner, target.id)).toBe(false);
    expect(await inGroup(g, owner, target.id)).toBe(false);
    expect(await requests(c, owner)).toEqual([[target.id, g]]);
    await ownerSocket.next((f) => f.type === 'join_request' && f.user.id === target.id && f.group === g);
    expect(await invitedTo(target)).toEqual([]);
    // An admin's approval brings them in.
    await ok('POST', `/v1/communities/${c.id}/requests/${target.id}/approve`, owner, 200, { groupId: g });
    expect(await inCommunity(c, owner, target.id)).toBe(true);
    await targetSocket.next((f) => f.type === 'group_added' && f.group.id === g);
  });

  it('an invitation by a community admin demoted since becomes a join request', async () => {
    const [owner, admin, target] = await users('owner', 'admin', 'target');
    await setGroupAdd(target, 'nobody');
    const c = await community(owner, { approvalRequired: true });
    const { code } = await ok('POST', `/v1/communities/${c.id}/invites`, owner, 201, {});
    await ok('POST', `/v1/invites/${code}/join`, admin, 202);
    await ok('POST', `/v1/communities/${c.id}/requests/${admin.id}/approve`, owner, 200, {});
    await ok('PUT', `/v1/communities/${c.id}/admins/${admin.id}`, owner, 204);
    const g = await communityGroup(c, owner);
    expect((await add(g, admin, target.id)).status).toBe(202);
    await ok('DELETE', `/v1/communities/${c.id}/admins/${admin.id}`, owner, 204);

    expect((await accept(g, target)).body).toEqual({ status: 'pending' });
    expect(await inCommunity(c, owner, target.id)).toBe(false);
    expect(await requests(c, owner)).toEqual([[target.id, g]]);
  });

  it('a ban racing the acceptance of an invitation: whichever commits first, the banned user ends up in nothing', async () => {
    const [owner] = await users('owner');
    const c = await community(owner);
    const g = await communityGroup(c, owner);
    const rounds = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const [target] = await users(`target${i}`);
        await setGroupAdd(target, 'nobody');
        expect((await add(g, owner, target.id)).status).toBe(202);
        const [accepted] = await Promise.all([accept(g, target), ok('PUT', `/v1/communities/${c.id}/bans/${target.id}`, owner, 204, {})]);
        return { target, status: accepted.status };
      }),
    );
    // Joined before the ban (200) or refused after it (404): never a member afterwards.
    for (const { target, status } of rounds) {
      expect([200, 404]).toContain(status);
      expect(await inCommunity(c, owner, target.id)).toBe(false);
      expect(await inGroup(g, owner, target.id)).toBe(false);
    }
  });

  it('a removal racing a join to an open group: whichever commits first, the removed user ends up in no group of it', async () => {
    const [owner] = await users('owner');
    const c = await community(owner);
    const open = await communityGroup(c, owner, { open: true });
    const rounds = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const [target] = await users(`target${i}`);
        await join(c, owner, target);
        const [joined] = await Promise.all([
          http('POST', `/v1/communities/${c.id}/groups/${open}/join`, target),
          ok('DELETE', `/v1/communities/${c.id}/members/${target.id}`, owner, 204),
        ]);
        return { target, status: joined.status };
      }),
    );
    for (const { target, status } of rounds) {
      expect([200, 404]).toContain(status);
      expect(await inCommunity(c, owner, target.id)).toBe(false);
      expect(await inGroup(open, owner, target.id)).toBe(false);
    }
  });

  it('a banned user gets in by no other way: codes, requests, adds, links, open groups', async () => {
    const [owner, target, member] = await users('owner', 'target', 'member');
    await setGroupAdd(target, 'everyone');
    const c = await community(owner);
    const code = await join(c, owner, member);
    const open = await communityGroup(c, owner, { open: true });
    const { code: groupCode } = await ok('POST', `/v1/communities/${c.id}/invites`, owner, 201, { groupId: open });
    const approval = await community(owner, { approvalRequired: true });
    const { code: approvalCode } = await ok('POST', `/v1/communities/${approval.id}/invites`, owner, 201, {});
    // A request filed before the ban.
    await ok('POST', `/v1/invites/${approvalCode}/join`, target, 202);
    for (const x of [c, approval]) await ok('PUT', `/v1/communities/${x.id}/bans/${target.id}`, owner, 204, {});
    const targetSocket = await socket(target);

    // Codes: answered as if the community approved joins, and nothing stored.
    expect((await http('POST', `/v1/invites/${code}/join`, target)).body).toEqual({ status: 'pending' });
    expect((await http('POST', `/v1/invites/${groupCode}/join`, target)).body).toEqual({ status: 'pending' });
    // The request went with the ban: nothing to approve.
    expect((await http('POST', `/v1/communities/${approval.id}/requests/${target.id}/approve`, owner, {})).status).toBe(404);
    // An admin's direct adds, to the community and to a group of it, by id and by username alike.
    expect((await add(c.announcementGroupId, owner, target.id)).body).toEqual({ status: 'invited' });
    expect((await add(open, owner, target.id)).body).toEqual({ status: 'invited' });
    // A group whose member is banned joins the community without them.
    const linked = (await ok('POST', '/v1/groups', owner, 201, { name: 'Choir', members: [target.id] })).group.id;
    expect(await inGroup(linked, owner, target.id)).toBe(true);
    await ok('PUT', `/v1/communities/${c.id}/groups/${linked}`, owner, 200);
    expect(await inGroup(linked, owner, target.id)).toBe(false);
    // Once outside, the group cannot be joined by hand either.
    expect((await http('POST', `/v1/communities/${c.id}/groups/${open}/join`, target)).status).toBe(404);

    for (const x of [c, approval]) expect(await inCommunity(x, owner, target.id)).toBe(false);
    expect(await inGroup(open, owner, target.id)).toBe(false);
    expect(await invitedTo(target)).toEqual([]);
    await heardOfNone(targetSocket, target, [c.announcementGroupId, approval.announcementGroupId, open]);
  });
});
