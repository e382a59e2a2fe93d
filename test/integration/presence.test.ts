import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BanyanClient, type ClientEvents } from '../../src/client/index.js';
import { presenceAudience } from '../../src/features/profiles-presence/queries.js';
import { storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { sharedServer } from '../helpers/shared-server.js';
import { presenceMarker } from '../helpers/markers.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Profiles and presence" as an attacker tries it: presence goes only through small ordinary
// and direct groups, honours `privacy.lastSeen`, blocks and removals, never announcement groups.

const COALESCE_MS = 50;
const MAX_MEMBERS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(storageModes())('presence (%s)', (mode) => {
  const shared = sharedServer(() => ({
    mode,
    env: { PRESENCE_COALESCE_MS: String(COALESCE_MS), PRESENCE_MAX_MEMBERS: String(MAX_MEMBERS) },
  }));
  const { open, users } = shared;
  let server: TestServer;
  beforeAll(() => {
    server = shared.server;
  });
  const newGroup = async (owner: TestUser, members: TestUser[]) => {
    const r = await server.http('POST', '/v1/groups', { token: owner.token, body: { name: 'G', members: members.map((m) => m.id) } });
    expect(r.status).toBe(201);
    return r.body.group.id as string;
  };
  const presenceOf = (s: TestSocket, id: string) => s.frames.filter((f) => f.type === 'presence' && f.user === id);
  /** Connects and disconnects `u`: two changes anyone allowed to would see. */
  const blink = async (u: TestUser) => {
    const s = await connect(server.wsUrl, u.token);
    // Kept: about time. Past one coalescing window, the online and the offline go in two flushes.
    await sleep(COALESCE_MS * 3);
    await s.close();
  };
  const groupPresence = (u: TestUser, g: string) => server.http('GET', `/v1/groups/${g}/presence`, { token: u.token });

  it('a co-member sees another come online and go offline with a last-seen time; GET …/presence tells the state', async () => {
    const [asha, bela, cara] = await users(3);
    const g = await newGroup(asha!, [bela!, cara!]);
    const sa = await open(asha!);
    const sb = await open(bela!);
    expect(await sa.next((f) => f.type === 'presence' && f.user === bela!.id)).toEqual({
      type: 'presence',
      user: bela!.id,
      online: true,
      lastSeen: null,
    });
    const now = await groupPresence(asha!, g);
    expect(now.status).toBe(200);
    expect(now.body.presence).toEqual(
      expect.arrayContaining([
        { user: bela!.id, online: true, lastSeen: null },
        { user: cara!.id, online: false, lastSeen: null },
      ]),
    );
    expect(now.body.presence).toHaveLength(2);
    const before = Date.now();
    await sb.close();
    const off = await sa.next((f) => f.type === 'presence' && f.user === bela!.id && f.online === false);
    expect(Date.parse(off.lastSeen)).toBeGreaterThanOrEqual(before - 1000);
    expect((await groupPresence(asha!, g)).body.presence).toContainEqual({ user: bela!.id, online: false, lastSeen: off.lastSeen });
    // A stranger learns nothing of the group, as for any group they are not in.
    const [stranger] = await users(1);
    expect((await groupPresence(stranger!, g)).status).toBe(404);
  });

  it('lastSeen: nobody hides presence (frames and GET); choosing it while online tells viewers once, without a time', async () => {
    const [asha, bela, marker] = await users(3);
    const g = await newGroup(asha!, [bela!]);
    const sa = await open(asha!);
    const sb = await open(bela!);
    await sa.next((f) => f.type === 'presence' && f.user === bela!.id && f.online);
    expect((await server.http('PATCH', '/v1/me', { token: bela!.token, body: { privacy: { lastSeen: 'nobody' } } })).status).toBe(200);
    expect(await sa.next((f) => f.type === 'presence' && f.user === bela!.id && !f.online)).toMatchObject({ lastSeen: null });
    const seen = presenceOf(sa, bela!.id).length;
    await sb.close();
    await blink(bela!);
    await presenceMarker(server, marker!, [{ user: asha!, socket: sa }]);
    expect(presenceOf(sa, bela!.id).length).toBe(seen);
    expect((await groupPresence(asha!, g)).body.presence).toEqual([]);
  });

  it('a block stops presence both ways, whoever blocked', async () => {
    const [asha, bela, cara, marker] = await users(4);
    await newGroup(asha!, [bela!, cara!]);
    expect((await server.http('PUT', `/v1/blocks/${bela!.id}`, { token: asha!.token })).status).toBe(204);
    const sc = await open(cara!);
    const [sa, sb] = await Promise.all([open(asha!), open(bela!)]);
    await sc.next((f) => f.type === 'presence' && f.user === asha!.id && f.online);
    await sb.close();
    await sc.next((f) => f.type === 'presence' && f.user === bela!.id && !f.online);
    // sb's frames of asha would have come with its others (asha's online flush, before sc heard bela leave).
    await presenceMarker(server, marker!, [{ user: asha!, socket: sa }]);
    expect(presenceOf(sb, asha!.id)).toEqual([]);
    expect(presenceOf(sa, bela!.id)).toEqual([]);
  });

  it('a removed member stops seeing the members’ presence and being seen at once', async () => {
    const [asha, bela, cara, marker] = await users(4);
    const g = await newGroup(asha!, [bela!, cara!]);
    const [sb, sc] = await Promise.all([open(bela!), open(cara!)]);
    await blink(asha!);
    await sb.next((f) => f.type === 'presence' && f.user === asha!.id && !f.online);
    expect((await server.http('DELETE', `/v1/groups/${g}/members/${bela!.id}`, { token: asha!.token })).status).toBe(204);
    await sb.next((f) => f.type === 'group_removed' || (f.type === 'event' && f.kind === 'member'));
    const seenByB = presenceOf(sb, asha!.id).length;
    const seenByC = presenceOf(sc, bela!.id).length;
    await blink(asha!);
    await sc.next((f) => f.type === 'presence' && f.user === asha!.id && !f.online, 5000, 0);
    // sb's frame of that offline would have come with sc's, before sb closed.
    await sb.close();
    await presenceMarker(server, marker!, [{ user: cara!, socket: sc }]);
    expect(presenceOf(sb, asha!.id).length).toBe(seenByB);
    expect(presenceOf(sc, bela!.id).length).toBe(seenByC);
    expect((await groupPresence(bela!, g)).status).toBe(404);
  });

  it('the SDK: profile(), updateProfile(), presence() and the user and presence events', async () => {
    const [asha, bela] = await users(2);
    const g = await newGroup(asha!, [bela!]);
    const client = (u: TestUser) => new BanyanClient({ url: server.url, token: u.token, WebSocket, reconnect: { baseMs: 20, maxMs: 200 } });
    const a = client(asha!);
    const b = client(bela!);
    try {
      await a.connect();
      const online = new Promise<ClientEvents['presence']>((resolve) => a.on('presence', resolve));
      const renamed = new Promise<ClientEvents['user']>((resolve) => a.on('user', resolve));
      await b.connect();
      expect(await online).toMatchObject({ user: bela!.id, online: true, lastSeen: null });
      expect(await a.presence(g)).toEqual([{ user: bela!.id, online: true, lastSeen: null }]);
      expect(await b.updateProfile({ name: 'Bela SDK' })).toEqual({ id: bela!.id, name: 'Bela SDK', avatar: null });
      expect(b.user?.name).toBe('Bela SDK');
      expect(await renamed).toEqual({ id: bela!.id, name: 'Bela SDK', avatar: null });
      expect(await a.profile(bela!.id)).toEqual({ id: bela!.id, name: 'Bela SDK', avatar: null });
      await expect(a.profile('u_unknown')).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      a.close();
      b.close();
    }
  });

  // The read behind every presence flush, asked directly. (Blocks either way, announcement groups,
  // groups past the limit and a hidden subject's frames are the tests above and below.)
  it('presenceAudience: one pair per subject and viewer however many groups they share; several subjects in one read; evenIfHidden', async () => {
    const [asha, bela, cara, dan] = await users(4);
    await newGroup(asha!, [bela!]);
    await newGroup(bela!, [asha!, cara!]);
    const audience = async (subjects: TestUser[], evenIfHidden = false) =>
      (
        await presenceAudience(
          server.app.storage.db,
          subjects.map((u) => u.id),
          MAX_MEMBERS,
          { evenIfHidden },
        )
      )
        .map((p) => `${p.subject}>${p.viewer}`)
        .sort();
    const pair = (subject: TestUser, viewer: TestUser) => `${subject.id}>${viewer.id}`;
    expect(await audience([asha!])).toEqual([pair(asha!, bela!), pair(asha!, cara!)].sort());
    // Dan shares no group: in the same read as others, he adds nothing.
    expect(await audience([asha!, bela!, dan!])).toEqual(
      [pair(asha!, bela!), pair(asha!, cara!), pair(bela!, asha!), pair(bela!, cara!)].sort(),
    );
    expect(await audience([dan!])).toEqual([]);
    expect((await server.http('PATCH', '/v1/me', { token: cara!.token, body: { privacy: { lastSeen: 'nobody' } } })).status).toBe(200);
    expect(await audience([cara!])).toEqual([]);
    // Telling viewers once that a hidden user went away needs them all the same.
    expect(await audience([cara!], true)).toEqual([pair(cara!, asha!), pair(cara!, bela!)].sort());
  });

  it('never through announcement groups, nor groups past PRESENCE_MAX_MEMBERS; a direct group shares it', async () => {
    const [admin, plainA, plainB, x, y, marker] = await users(6);
    const c = (await server.http('POST', '/v1/communities', { token: admin!.token, body: { name: 'C' } })).body.community;
    const invite = await server.http('POST', `/v1/communities/${c.id}/invites`, { token: admin!.token, body: {} });
    for (const u of [plainA!, plainB!]) await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: u.token });
    const big = await newGroup(x!, [y!, admin!, plainA!, plainB!]); // 5 members > MAX_MEMBERS
    const [sadmin, sa, sy] = await Promise.all([open(admin!), open(plainA!), open(y!)]);
    await blink(plainB!);
    await blink(x!);
    await presenceMarker(server, marker!, [
      { user: admin!, socket: sadmin },
      { user: plainA!, socket: sa },
      { user: y!, socket: sy },
    ]);
    expect(presenceOf(sa, plainB!.id)).toEqual([]);
    expect(presenceOf(sadmin, plainB!.id)).toEqual([]);
    expect(presenceOf(sy, x!.id)).toEqual([]);
    const ann = await groupPresence(plainA!, c.announcementGroupId);
    expect(ann.status).toBe(400);
    expect((await groupPresence(x!, big)).status).toBe(400);
    // The admin may open a direct group with a plain member: presence goes through it.
    const dm = await server.http('POST', '/v1/direct', { token: plainB!.token, body: { userId: admin!.id } });
    expect(dm.status).toBe(201);
    await blink(plainB!);
    await sadmin.next((f) => f.type === 'presence' && f.user === plainB!.id && !f.online);
    expect(presenceOf(sa, plainB!.id)).toEqual([]);
  });
});
