import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROFILE_ANNOUNCE_INTERVAL_MS } from '../../src/features/profiles-presence/profiles.js';
import { storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { sharedServer } from '../helpers/shared-server.js';
import { controlMarker, ownGroup } from '../helpers/markers.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Profiles and presence" as an attacker tries it: who may read a profile or an avatar, who
// hears of a change, and that names are looked up (history, members, search, ready) not copied.

const png = () =>
  sharp({ create: { width: 40, height: 30, channels: 4, background: '#f00' } })
    .png()
    .toBuffer();

describe.each(storageModes())('profiles (%s)', (mode) => {
  const shared = sharedServer(() => ({ mode }));
  const { open, users } = shared;
  let server: TestServer;
  beforeAll(() => {
    server = shared.server;
  });
  const newGroup = async (owner: TestUser, members: TestUser[], name = 'G') => {
    const r = await server.http('POST', '/v1/groups', { token: owner.token, body: { name, members: members.map((m) => m.id) } });
    expect(r.status).toBe(201);
    return r.body.group.id as string;
  };
  const community = async (owner: TestUser, joiners: TestUser[]) => {
    const c = (await server.http('POST', '/v1/communities', { token: owner.token, body: { name: 'Parents' } })).body.community;
    const invite = await server.http('POST', `/v1/communities/${c.id}/invites`, { token: owner.token, body: {} });
    for (const u of joiners)
      expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: u.token })).status).toBe(200);
    return c as { id: string; announcementGroupId: string };
  };
  const profile = (viewer: TestUser, id: string) => server.http('GET', `/v1/users/${id}`, { token: viewer.token });
  const rename = async (u: TestUser, name: string) =>
    expect((await server.http('PATCH', '/v1/me', { token: u.token, body: { name } })).status).toBe(200);
  const upload = async (u: TestUser, data: Buffer, type: string) => {
    const res = await fetch(`${server.url}/v1/attachments?name=file`, {
      method: 'POST',
      headers: { authorization: `Bearer ${u.token}`, 'content-type': type },
      body: data,
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { attachment: { id: string } }).attachment.id;
  };
  const fetchFile = (u: TestUser, path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${u.token}` } });
  const userFrames = (s: TestSocket, id: string) => s.frames.filter((f) => f.type === 'user' && f.user.id === id);

  it("a stranger's GET /v1/users/:id is not_found exactly like an unknown id; a co-member and the user see it", async () => {
    const [asha, bela, stranger] = await users(3);
    await newGroup(asha!, [bela!]);
    const hidden = await profile(stranger!, asha!.id);
    const unknown = await profile(stranger!, 'u_nobody_has_this_id');
    expect(hidden).toEqual(unknown);
    expect(hidden.status).toBe(404);
    expect(await profile(bela!, asha!.id)).toEqual({ status: 200, body: { user: { id: asha!.id, name: asha!.name, avatar: null } } });
    expect((await profile(asha!, asha!.id)).body.user.id).toBe(asha!.id);
  });

  it("an announcement group's plain members see neither each other's profile nor its changes; its admin sees both ways", async () => {
    const [admin, plainA, plainB] = await users(3);
    await community(admin!, [plainA!, plainB!]);
    expect((await profile(plainA!, plainB!.id)).status).toBe(404);
    expect((await profile(plainA!, admin!.id)).status).toBe(200);
    expect((await profile(admin!, plainA!.id)).status).toBe(200);
    const [sa, sb] = await Promise.all([open(admin!), open(plainB!)]);
    await rename(plainA!, 'A renamed');
    await sa.next((f) => f.type === 'user' && f.user.id === plainA!.id && f.user.name === 'A renamed');
    // The admin's change travels on plainB's control topic after plainA's would have: the marker.
    await rename(admin!, 'Admin renamed');
    await sb.next((f) => f.type === 'user' && f.user.id === admin!.id);
    expect(userFrames(sb, plainA!.id)).toEqual([]);
  });

  it('a change reaches co-members and the user’s other sockets, never a user the changer blocked or a stranger', async () => {
    const [asha, bela, blocked, stranger] = await users(4);
    const g = await newGroup(asha!, [bela!, blocked!]);
    expect((await server.http('PUT', `/v1/blocks/${blocked!.id}`, { token: asha!.token })).status).toBe(204);
    const [own, sb, sblocked, sstranger] = await Promise.all([open(asha!), open(bela!), open(blocked!), open(stranger!)]);
    await rename(asha!, 'Asha K');
    const seen = await sb.next((f) => f.type === 'user' && f.user.id === asha!.id);
    expect(seen).toEqual({ type: 'user', user: { id: asha!.id, name: 'Asha K', avatar: null } });
    await own.next((f) => f.type === 'user' && f.user.name === 'Asha K');
    await controlMarker(server.wsUrl, blocked!, sblocked, g);
    await controlMarker(server.wsUrl, stranger!, sstranger, await ownGroup(server, stranger!));
    expect(userFrames(sblocked, asha!.id)).toEqual([]);
    expect(userFrames(sstranger, asha!.id)).toEqual([]);
  });

  it('a blocked user sees what a stranger sees: GET /v1/users/:id and the avatar are not_found; the blocker still sees them', async () => {
    const [asha, bela, blocked] = await users(3);
    await newGroup(asha!, [bela!, blocked!]);
    const image = await upload(asha!, await png(), 'image/png');
    expect((await server.http('PATCH', '/v1/me', { token: asha!.token, body: { avatar: image } })).status).toBe(200);
    expect((await profile(blocked!, asha!.id)).status).toBe(200);
    expect((await fetchFile(blocked!, `/v1/attachments/${image}`)).status).toBe(200);

    expect((await server.http('PUT', `/v1/blocks/${blocked!.id}`, { token: asha!.token })).status).toBe(204);
    await rename(asha!, 'Asha after the block');
    const unknown = await profile(blocked!, 'u_nobody_has_this_id');
    expect(await profile(blocked!, asha!.id)).toEqual(unknown);
    const unknownFile = await fetchFile(blocked!, '/v1/attachments/a_nobody_has_this_id');
    for (const path of [`/v1/attachments/${image}`, `/v1/attachments/${image}/thumbnail`]) {
      const r = await fetchFile(blocked!, path);
      expect([r.status, await r.text()]).toEqual([unknownFile.status, await unknownFile.clone().text()]);
    }
    // A co-member still sees it all; the block is the blocker's: they still see the one they blocked.
    expect((await profile(bela!, asha!.id)).body.user).toEqual({ id: asha!.id, name: 'Asha after the block', avatar: image });
    expect((await fetchFile(bela!, `/v1/attachments/${image}`)).status).toBe(200);
    expect((await profile(asha!, blocked!.id)).status).toBe(200);
    // Unblocked: seen again.
    expect((await server.http('DELETE', `/v1/blocks/${blocked!.id}`, { token: asha!.token })).status).toBe(204);
    expect((await profile(blocked!, asha!.id)).body.user.name).toBe('Asha after the block');
  });

  it('renaming in a loop is not a flood: at most one user frame per interval, the last name after it', async () => {
    const [asha, bela] = await users(2);
    await newGroup(asha!, [bela!]);
    const sb = await open(bela!);
    for (let i = 0; i < 10; i++) await rename(asha!, `Asha ${i}`);
    await sb.next((f) => f.type === 'user' && f.user.name === 'Asha 9', PROFILE_ANNOUNCE_INTERVAL_MS + 3000);
    expect(userFrames(sb, asha!.id).map((f) => f.user.name)).toEqual(['Asha 0', 'Asha 9']);
  });

  it('a rename shows in history, member lists, search results and the next ready: names are looked up', async () => {
    const [asha, bela] = await users(2);
    const g = await newGroup(asha!, [bela!]);
    const old = asha!.name;
    await server.http('POST', `/v1/groups/${g}/messages`, {
      token: asha!.token,
      body: { clientMsgId: 'm1', text: 'pumpkin soup tonight' },
    });
    await rename(asha!, 'Asha Renamed');
    const members = await server.http('GET', `/v1/groups/${g}/members`, { token: bela!.token });
    expect(members.body.members.find((m: { userId: string }) => m.userId === asha!.id).name).toBe('Asha Renamed');
    const history = await server.http('GET', `/v1/groups/${g}/messages`, { token: bela!.token });
    expect(history.body.messages[0]).toMatchObject({ sender: asha!.id, text: 'pumpkin soup tonight' });
    expect(JSON.stringify(history.body)).not.toContain(old);
    const search = await server.http('GET', `/v1/search?q=pumpkin&group=${g}`, { token: bela!.token });
    expect(search.body.results[0]).toMatchObject({ sender: asha!.id });
    expect(JSON.stringify(search.body)).not.toContain(old);
    const sync = await (await open(bela!)).request({ type: 'sync', groups: { [g]: 0 } });
    expect(JSON.stringify(sync)).not.toContain(old);
    // The token still carries the old name: ready says the current one.
    const again = await open(asha!);
    expect(again.frames.find((f) => f.type === 'ready')!.user).toEqual({ id: asha!.id, name: 'Asha Renamed' });
    expect((await profile(bela!, asha!.id)).body.user.name).toBe('Asha Renamed');
  });

  it('an avatar is an image the caller uploaded; those who may see the profile fetch it, nobody else; the one replaced is swept', async () => {
    const [asha, bela, stranger] = await users(3);
    await newGroup(asha!, [bela!]);
    const image = await upload(asha!, await png(), 'image/png');
    const text = await upload(asha!, Buffer.from('not an image'), 'text/plain');
    const belasImage = await upload(bela!, await png(), 'image/png');
    for (const avatar of [text, belasImage, 'a_unknown'])
      expect((await server.http('PATCH', '/v1/me', { token: asha!.token, body: { avatar } })).status).toBe(404);
    const sb = await open(bela!);
    const set = await server.http('PATCH', '/v1/me', { token: asha!.token, body: { avatar: image } });
    expect(set.body.user.avatar).toBe(image);
    expect(await sb.next((f) => f.type === 'user' && f.user.id === asha!.id)).toMatchObject({ user: { avatar: image } });
    expect((await profile(bela!, asha!.id)).body.user.avatar).toBe(image);
    expect((await fetchFile(bela!, `/v1/attachments/${image}`)).status).toBe(200);
    expect((await fetchFile(bela!, `/v1/attachments/${image}/thumbnail`)).status).toBe(200);
    expect((await fetchFile(stranger!, `/v1/attachments/${image}`)).status).toBe(404);
    // The avatar is never swept; the one it replaces is, once nothing refers to it.
    const next = await upload(asha!, await png(), 'image/png');
    await server.http('PATCH', '/v1/me', { token: asha!.token, body: { avatar: next } });
    await server.app.chat.attachments.sweep();
    expect((await fetchFile(asha!, `/v1/attachments/${image}`)).status).toBe(404);
    expect((await fetchFile(bela!, `/v1/attachments/${next}`)).status).toBe(200);
    expect((await server.http('PATCH', '/v1/me', { token: asha!.token, body: { avatar: null } })).body.user.avatar).toBeNull();
    expect((await fetchFile(bela!, `/v1/attachments/${next}`)).status).toBe(404);
  });

  it("an external identity service's changed name claim renames the user at the next session start, once", async () => {
    const [bela] = await users(1);
    const sub = `ext${Date.now().toString(36)}`;
    const first = await connect(server.wsUrl, await server.token(sub, { name: 'Chandra' }));
    shared.track(first);
    expect(first.frames[0]!.user).toEqual({ id: sub, name: 'Chandra' });
    const g = (await server.http('POST', '/v1/groups', { token: bela!.token, body: { name: 'G', members: [sub] } })).body.group.id;
    expect(g).toBeTruthy();
    const sb = await open(bela!);
    const second = await connect(server.wsUrl, await server.token(sub, { name: 'Chandra M' }));
    shared.track(second);
    expect(second.frames[0]!.user).toEqual({ id: sub, name: 'Chandra M' });
    expect(await sb.next((f: Frame) => f.type === 'user' && f.user.id === sub)).toMatchObject({ user: { name: 'Chandra M' } });
    // A name set here stays until the service's claim changes again.
    const token = await server.token(sub, { name: 'Chandra M' });
    await server.http('PATCH', '/v1/me', { token, body: { name: 'CM' } });
    const third = await connect(server.wsUrl, token);
    shared.track(third);
    expect(third.frames[0]!.user.name).toBe('CM');
    // A local account's token carries its sign-in name: a rename is never undone by it.
    await rename(bela!, 'Bela New');
    const local = await open(bela!);
    expect(local.frames[0]!.user.name).toBe('Bela New');
  });
});
