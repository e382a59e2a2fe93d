import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanHttp } from '../../src/client/index.js';
import { startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';

// What the coordinator's screens need of the server, tried as an attacker would: the member
// directory's name search, the overview of every group, and adding people by username.

const ADD_BY_USERNAME = 12;

describe.each(storageModes())('coordinator endpoints (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode, env: { DEFAULT_GROUP_ADD: 'shared', ADD_BY_USERNAME_RATE: `${ADD_BY_USERNAME}/3600` } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const users = (n: number) => Promise.all(Array.from({ length: n }, () => server.signUp()));
  const rename = async (u: TestUser, name: string) =>
    expect((await server.http('PATCH', '/v1/me', { token: u.token, body: { name } })).status).toBe(200);
  const community = async (owner: TestUser, members: TestUser[]) => {
    const c = (await server.http('POST', '/v1/communities', { token: owner.token, body: { name: 'Riverside' } })).body.community as {
      id: string;
      announcementGroupId: string;
    };
    const invite = await server.http('POST', `/v1/communities/${c.id}/invites`, { token: owner.token, body: {} });
    for (const u of members)
      expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: u.token })).status).toBe(200);
    return c;
  };
  const search = (u: TestUser, communityId: string, params: string) =>
    server.http('GET', `/v1/communities/${communityId}/members?${params}`, { token: u.token });

  it('members?q= finds members by part of their name, any case and any script, paged; admins only', async () => {
    const [owner, asha, ashok, meera, outsider] = await users(5);
    const c = await community(owner!, [asha!, ashok!, meera!]);
    await rename(asha!, 'Asha Kumari');
    await rename(ashok!, 'ASHOK 100%_sure');
    await rename(meera!, 'मीरा देवी');
    await rename(outsider!, 'Asha Outside'); // not a member: never listed

    const names = (r: Awaited<ReturnType<typeof search>>) => (r.body.members as { name: string }[]).map((m) => m.name).sort();
    expect(names(await search(owner!, c.id, 'q=ash'))).toEqual(['ASHOK 100%_sure', 'Asha Kumari']);
    expect(names(await search(owner!, c.id, 'q=%20kUMAri%20'))).toEqual(['Asha Kumari']);
    expect(names(await search(owner!, c.id, `q=${encodeURIComponent('मीरा')}`))).toEqual(['मीरा देवी']);
    // LIKE's wildcards are plain characters here.
    expect(names(await search(owner!, c.id, 'q=%25_s'))).toEqual(['ASHOK 100%_sure']);
    expect(names(await search(owner!, c.id, 'q=1_0'))).toEqual([]);
    expect(names(await search(owner!, c.id, 'q=%25%25%25'))).toEqual([]);
    expect(names(await search(owner!, c.id, 'q=nobody'))).toEqual([]);

    // Paged like the full list: a cursor, then the rest, nothing twice.
    const first = await search(owner!, c.id, 'q=ash&limit=1');
    expect(first.body.members).toHaveLength(1);
    const rest = await search(owner!, c.id, `q=ash&limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(rest.body.nextCursor).toBeNull();
    const ids = [...first.body.members, ...rest.body.members].map((m: { userId: string }) => m.userId);
    expect(ids.sort()).toEqual([asha!.id, ashok!.id].sort());

    // Bounded input; plain members and strangers learn nothing.
    expect((await search(owner!, c.id, `q=${'a'.repeat(65)}`)).status).toBe(400);
    expect((await search(owner!, c.id, 'q=%20')).status).toBe(400);
    expect((await search(owner!, c.id, 'q=as')).status).toBe(400); // too short for the name index
    expect((await search(asha!, c.id, 'q=mee')).status).toBe(403);
    expect((await search(outsider!, c.id, 'q=mee')).status).toBe(404);
  });

  it('overview: every group with counts, settings and last activity, private ones too; admins only', async () => {
    const [owner, member, outsider] = await users(3);
    const c = await community(owner!, [member!]);
    const create = async (name: string, settings: Record<string, boolean>) =>
      (await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner!.token, body: { name, settings } })).body.group
        .id as string;
    const open = await create('Open', { open: true });
    const secret = await create('Secret', {});
    // The owner leaves the private group: admins still oversee it.
    expect((await server.http('DELETE', `/v1/groups/${secret}/members/${owner!.id}`, { token: owner!.token })).status).toBe(204);
    expect((await server.http('POST', `/v1/communities/${c.id}/groups/${open}/join`, { token: member!.token })).status).toBe(200);
    const before = Date.now();
    expect(
      (await server.http('POST', `/v1/groups/${open}/messages`, { token: member!.token, body: { clientMsgId: 'm1', text: 'hello' } }))
        .status,
    ).toBe(201);

    const r = await server.http('GET', `/v1/communities/${c.id}/overview`, { token: owner!.token });
    expect(r.status).toBe(200);
    const byName = Object.fromEntries((r.body.groups as { name: string; lastActivityAt: string }[]).map((g) => [g.name, g]));
    expect(Object.keys(byName).sort()).toEqual(['Open', 'Secret']);
    expect(byName.Open).toMatchObject({ id: open, memberCount: 2, settings: { open: true }, role: 'owner', lastSeq: 3 });
    expect(Date.parse(byName.Open!.lastActivityAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(byName.Secret).toMatchObject({ id: secret, memberCount: 0, role: null });
    expect(r.body.nextCursor).toBeNull();
    // The member's own list still hides the private group.
    const mine = await server.http('GET', `/v1/communities/${c.id}`, { token: member!.token });
    expect((mine.body.groups as { name: string }[]).map((g) => g.name)).not.toContain('Secret');

    expect((await server.http('GET', `/v1/communities/${c.id}/overview`, { token: member!.token })).status).toBe(403);
    expect((await server.http('GET', `/v1/communities/${c.id}/overview`, { token: outsider!.token })).status).toBe(404);
  });

  it('adds by username: as by id, and unknown, blocking and private users are answered alike', async () => {
    const [admin, open, shy, blocker, existing] = await users(5);
    const c = await community(admin!, [existing!]);
    const group = (await server.http('POST', `/v1/communities/${c.id}/groups`, { token: admin!.token, body: { name: 'Cleanup' } })).body
      .group.id as string;
    expect((await server.http('PATCH', '/v1/me', { token: open!.token, body: { privacy: { groupAdd: 'everyone' } } })).status).toBe(200);
    expect((await server.http('PATCH', '/v1/me', { token: shy!.token, body: { privacy: { groupAdd: 'nobody' } } })).status).toBe(200);
    expect((await server.http('PUT', `/v1/blocks/${admin!.id}`, { token: blocker!.token })).status).toBe(204);
    const add = (by: TestUser, username: string) =>
      server.http('POST', `/v1/groups/${group}/members`, { token: by.token, body: { username } });

    // Typed as people type it: any case, a leading @, spaces around.
    expect(await add(admin!, ` @${open!.name.toUpperCase()} `)).toEqual({ status: 201, body: {} });
    expect(await add(admin!, existing!.name)).toEqual({ status: 201, body: {} });
    expect((await add(admin!, existing!.name)).status).toBe(409);

    const invited = { status: 202, body: { status: 'invited' } };
    expect(await add(admin!, shy!.name)).toEqual(invited);
    expect(await add(admin!, blocker!.name)).toEqual(invited);
    expect(await add(admin!, 'no-such-user-here')).toEqual(invited);
    const invitations = async (u: TestUser) => (await server.http('GET', '/v1/invitations', { token: u.token })).body.invitations;
    expect(await invitations(shy!)).toHaveLength(1);
    expect(await invitations(blocker!)).toHaveLength(0);
    const members = (await server.http('GET', `/v1/groups/${group}/members`, { token: admin!.token })).body.members as { userId: string }[];
    expect(members.map((m) => m.userId).sort()).toEqual([admin!.id, open!.id, existing!.id].sort());

    // Both fields, or neither, or a malformed username: refused before any lookup.
    for (const body of [{}, { userId: open!.id, username: open!.name }, { username: 'a b' }, { username: 'ab' }]) {
      expect((await server.http('POST', `/v1/groups/${group}/members`, { token: admin!.token, body })).status).toBe(400);
    }
  });

  it('a plain member cannot use adds by username to learn who exists, and trying is rate limited', async () => {
    const [admin, prober, target] = await users(3);
    const c = await community(admin!, [prober!]);
    const communityGroup = (await server.http('POST', `/v1/communities/${c.id}/groups`, { token: admin!.token, body: { name: 'G' } })).body
      .group.id as string;
    const add = (group: string, username: string) =>
      server.http('POST', `/v1/groups/${group}/members`, { token: prober!.token, body: { username } });
    // Not in the community's group nor governing it: not found, whoever is named.
    expect((await add(communityGroup, target!.name)).status).toBe(404);
    expect((await add(communityGroup, 'no-such-user-1')).status).toBe(404);

    // Their own group: a user with the default privacy (shared: they share nothing visible) and
    // an unknown username get the same answer, and the target gets only an invitation.
    const own = (await server.http('POST', '/v1/groups', { token: prober!.token, body: { name: 'Mine' } })).body.group.id as string;
    const real = await add(own, target!.name);
    const unknown = await add(own, 'no-such-user-2');
    expect(real).toEqual(unknown);
    expect(real).toEqual({ status: 202, body: { status: 'invited' } });
    const roster = (await server.http('GET', `/v1/groups/${own}/members`, { token: prober!.token })).body.members as { userId: string }[];
    expect(roster.map((m) => m.userId)).toEqual([prober!.id]);

    // 4 tries above; the rest of the hour's budget, then 429 whatever the name.
    for (let i = 4; i < ADD_BY_USERNAME; i++) expect((await add(own, `guess-${i}`)).status).toBe(202);
    const limited = await add(own, target!.name);
    expect(limited.status).toBe(429);
    expect(limited.body.error.details.retryAfterMs).toBeGreaterThan(0);
    expect((await add(own, 'guess-x')).status).toBe(429);
    // Adds by id are not counted against it.
    expect((await server.http('POST', `/v1/groups/${own}/members`, { token: prober!.token, body: { userId: 'u_nobody' } })).status).toBe(
      202,
    );
  });
  it('an invite link per group joins the group and the community; on approval it asks for the group', async () => {
    const [admin, member, newcomer, late, banned, other] = await users(6);
    const c = await community(admin!, [member!]);
    const group = (await server.http('POST', `/v1/communities/${c.id}/groups`, { token: admin!.token, body: { name: 'Private' } })).body
      .group.id as string;
    const invite = (body: Record<string, unknown>, by = admin!) =>
      server.http('POST', `/v1/communities/${c.id}/invites`, { token: by.token, body });
    const join = (u: TestUser, code: string) => server.http('POST', `/v1/invites/${code}/join`, { token: u.token });
    const inGroup = async (u: TestUser) =>
      ((await server.http('GET', `/v1/groups/${group}/members`, { token: admin!.token })).body.members as { userId: string }[]).some(
        (m) => m.userId === u.id,
      );

    // Only community admins, only for an ordinary group of this community.
    expect((await invite({ groupId: group }, member!)).status).toBe(403);
    expect((await invite({ groupId: c.announcementGroupId })).status).toBe(404);
    const elsewhere = (await server.http('POST', '/v1/groups', { token: admin!.token, body: { name: 'Not linked' } })).body.group.id;
    expect((await invite({ groupId: elsewhere })).status).toBe(404);

    const link = await invite({ groupId: group, maxUses: 2 });
    expect(link).toMatchObject({ status: 201, body: { groupId: group, maxUses: 2 } });
    const code = link.body.code as string;
    // A newcomer: into the group and the community, in one step.
    const first = await join(newcomer!, code);
    expect(first).toMatchObject({ status: 200, body: { groupId: group, community: { id: c.id } } });
    expect(await inGroup(newcomer!)).toBe(true);
    // Again: no use taken. A community member: into the group.
    expect((await join(newcomer!, code)).status).toBe(200);
    expect((await join(member!, code)).status).toBe(200);
    expect(await inGroup(member!)).toBe(true);
    // Both uses taken: the next newcomer is refused, and is in neither.
    expect((await join(late!, code)).status).toBe(409);
    expect(await inGroup(late!)).toBe(false);
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: late!.token })).status).toBe(404);

    // A banned user is answered as on approval, and nothing is stored.
    expect((await server.http('PUT', `/v1/communities/${c.id}/bans/${banned!.id}`, { token: admin!.token, body: {} })).status).toBe(204);
    const open = (await invite({ groupId: group })).body.code as string;
    expect(await join(banned!, open)).toEqual({ status: 202, body: { status: 'pending' } });
    expect((await server.http('GET', `/v1/communities/${c.id}/requests`, { token: admin!.token })).body.requests).toEqual([]);

    // On approval: a request to join the group; a community admin's approval brings them into both.
    expect(
      (await server.http('PATCH', `/v1/communities/${c.id}`, { token: admin!.token, body: { settings: { approvalRequired: true } } }))
        .status,
    ).toBe(200);
    expect(await join(other!, open)).toEqual({ status: 202, body: { status: 'pending' } });
    const requests = (await server.http('GET', `/v1/communities/${c.id}/requests`, { token: admin!.token })).body.requests;
    expect(requests).toMatchObject([{ userId: other!.id, groupId: group }]);
    const approved = await server.http('POST', `/v1/communities/${c.id}/requests/${other!.id}/approve`, {
      token: admin!.token,
      body: { groupId: group },
    });
    expect(approved.status).toBe(200);
    expect(await inGroup(other!)).toBe(true);
    expect((await server.http('GET', `/v1/communities/${c.id}`, { token: other!.token })).status).toBe(200);
  });
  it("the SDK's coordinator methods parse every reply", async () => {
    const [admin, member] = await users(2);
    const sdk = (u: TestUser) => new BanyanHttp({ url: server.url, token: u.token });
    const { community } = await sdk(admin!).createCommunity({ name: 'SDK' });
    const { group } = await sdk(admin!).createCommunityGroup(community.id, { name: 'Open', settings: { open: true } });
    const link = await sdk(admin!).createInvite(community.id, { groupId: group.id });
    expect(link.groupId).toBe(group.id);
    expect(await sdk(member!).joinByInvite(link.code)).toMatchObject({ community: { id: community.id }, groupId: group.id });
    expect((await sdk(admin!).communityOverview(community.id)).groups).toMatchObject([{ id: group.id, memberCount: 2, role: 'owner' }]);
    expect((await sdk(admin!).communityMembers(community.id, { q: member!.name })).members).toMatchObject([{ userId: member!.id }]);
    expect(await sdk(admin!).updateGroup(group.id, { settings: { approvalRequired: true } })).toMatchObject({
      group: { settings: { approvalRequired: true } },
    });
    expect(await sdk(admin!).updateCommunity(community.id, { description: 'Ours' })).toMatchObject({ community: { description: 'Ours' } });
    await sdk(admin!).setCommunityAdmin(community.id, member!.id, true);
    await sdk(admin!).setCommunityAdmin(community.id, member!.id, false);
    expect(await sdk(admin!).addMemberByUsername(group.id, 'nobody-at-all')).toEqual({ status: 'invited' });
    const posted = await sdk(admin!).announce(community.id, { clientMsgId: 'a1', text: 'Hello all' });
    expect((await sdk(admin!).history(community.announcementGroupId, { limit: 5 })).messages).toMatchObject([
      { seq: posted.seq, text: 'Hello all' },
    ]);
    await sdk(member!).leaveGroup(group.id, member!.id);
    await sdk(member!).joinCommunityGroup(community.id, group.id); // on approval now: a request
    expect((await sdk(admin!).joinRequests(community.id)).requests).toMatchObject([{ userId: member!.id, groupId: group.id }]);
    await sdk(admin!).decideRequest(community.id, member!.id, false, group.id);
    expect((await sdk(admin!).joinRequests(community.id)).requests).toEqual([]);
    await sdk(admin!).removeFromCommunity(community.id, member!.id);
    expect((await sdk(admin!).communityMembers(community.id)).members).toHaveLength(1);
  });
});
