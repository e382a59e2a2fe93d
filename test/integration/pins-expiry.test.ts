import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import WebSocket from 'ws';
import { BanyanClient } from '../../src/client/index.js';
import { attachmentRefs, attachments, eventReminders, eventRsvps, events, pollVotes, reactions } from '../../src/platform/db/schema.js';
import { ownDatabase } from '../helpers/own-database.js';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { tokenUser, tokenUsers, sleep } from '../helpers/users.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Pins and disappearing messages" and "Disappearing messages", from an attacker's side: who may pin and
// change the TTL, the pin limit, and an expired message gone from storage, not only hidden.
// On PostgreSQL each server has a database of its own: every server sweeps what its database
// holds, and another test file's server (another bus) would erase these messages unseen here.

// Long enough to edit, react and pin a message before it goes, on a loaded machine.
const TTL_S = 2;

describe.each(storageModes())('pins and disappearing messages (%s)', (mode) => {
  let server: TestServer;
  let admin: TestUser, member: TestUser, stranger: TestUser;
  const sockets: TestSocket[] = [];
  const databases: { drop(): Promise<void> }[] = [];
  const start = async (env: Record<string, string>) => {
    if (mode === 'pglite') return startServer({ mode, env });
    const database = await ownDatabase('pins');
    databases.push(database);
    return startServer({ mode, env: { ...env, DATABASE_URL: database.url } });
  };

  const open = async (user: TestUser) => {
    const s = await connect(server.wsUrl, user.token);
    sockets.push(s);
    return s;
  };
  const post = async (user: TestUser, group: string, text: string, extra: Record<string, unknown> = {}) => {
    const r = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: user.token,
      body: { clientMsgId: `c-${Math.random()}`, text, ...extra },
    });
    expect(r.status).toBe(201);
    return r.body.seq as number;
  };
  const pin = (user: TestUser, group: string, seq: number | string) =>
    server.http('PUT', `/v1/groups/${group}/pins/${seq}`, { token: user.token });
  const unpin = (user: TestUser, group: string, seq: number) =>
    server.http('DELETE', `/v1/groups/${group}/pins/${seq}`, { token: user.token });
  const setTtl = (user: TestUser, group: string, messageTtlS: number | null) =>
    server.http('PATCH', `/v1/groups/${group}`, { token: user.token, body: { settings: { messageTtlS } } });
  const rows = async (query: ReturnType<typeof sql>) => {
    const result: unknown = await server.app.storage.db.execute(query);
    return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, unknown>[];
  };
  const upload = async (user: TestUser, text: string) => {
    const res = await fetch(`${server.url}/v1/attachments?name=notes.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'text/plain' },
      body: text,
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { attachment: { id: string } }).attachment.id;
  };

  beforeAll(async () => {
    server = await start({ MESSAGE_TTL_ALLOWED: String(TTL_S), EXPIRY_SWEEP_MS: '200' });
    [admin, member, stranger] = (await tokenUsers(server, 3, 'pin')) as [TestUser, TestUser, TestUser];
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
    for (const d of databases) await d.drop();
  });

  describe('pins', () => {
    it('an admin pins: a `group` event with changes.pins, and pins in the group resource and summary', async () => {
      const group = await createGroup(server, admin, [member], 'Week 3');
      const ms = await open(member);
      const seq = await post(member, group, 'Reading for the week');
      const r = await pin(admin, group, seq);
      expect(r.status).toBe(200);
      expect(r.body.group).toMatchObject({ id: group, pins: [seq] });
      const event = await ms.next((f) => f.type === 'event' && f.group === group && f.kind === 'group');
      expect(event).toMatchObject({ sender: admin.id, changes: { pins: [seq] } });
      expect((await server.http('GET', `/v1/groups/${group}`, { token: member.token })).body.group.pins).toEqual([seq]);
      const me = await server.http('GET', '/v1/me', { token: member.token });
      expect(me.body.groups.find((g: { id: string }) => g.id === group).pins).toEqual([seq]);

      // Pinning again changes nothing and logs nothing.
      const last = (await server.http('GET', `/v1/groups/${group}`, { token: admin.token })).body.group.lastSeq;
      expect((await pin(admin, group, seq)).status).toBe(200);
      expect((await server.http('GET', `/v1/groups/${group}`, { token: admin.token })).body.group.lastSeq).toBe(last);

      // Unpinning: the list without it.
      const off = await unpin(admin, group, seq);
      expect(off.body.group.pins).toEqual([]);
      expect((await ms.next((f) => f.kind === 'group' && f.seq > event.seq)).changes).toEqual({ pins: [] });
    });

    it('a plain member may not pin outside direct groups (HTTP and WS); a stranger finds no group', async () => {
      const group = await createGroup(server, admin, [member], 'No pins for you');
      const seq = await post(admin, group, 'Rules');
      expect(await pin(member, group, seq)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      expect(await unpin(member, group, seq)).toMatchObject({ status: 403 });
      const ms = await open(member);
      expect(await ms.request({ type: 'pin', group, target: seq })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await pin(stranger, group, seq)).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
      expect((await server.http('GET', `/v1/groups/${group}`, { token: admin.token })).body.group.pins).toEqual([]);
    });

    it('at most 5 pins: the 6th is a conflict naming the limit; nothing is stored for it', async () => {
      const group = await createGroup(server, admin, [member], 'Five');
      const seqs: number[] = [];
      for (let i = 0; i < 6; i++) seqs.push(await post(admin, group, `Lesson ${i}`));
      for (const seq of seqs.slice(0, 5)) expect((await pin(admin, group, seq)).status).toBe(200);
      const sixth = await pin(admin, group, seqs[5]!);
      expect(sixth).toMatchObject({ status: 409, body: { error: { code: 'conflict', details: { limit: 5 } } } });
      const pins = (await server.http('GET', `/v1/groups/${group}`, { token: admin.token })).body.group.pins;
      expect(pins).toEqual(seqs.slice(0, 5).reverse());
      // Over WS likewise.
      const as = await open(admin);
      expect(await as.request({ type: 'pin', group, target: seqs[5] })).toMatchObject({ type: 'error', code: 'conflict' });
    });

    it('only live messages: a deleted one is a conflict, a non-message seq or one past the log not_found; bad seqs bad_request', async () => {
      const group = await createGroup(server, admin, [member], 'Live only');
      const seq = await post(admin, group, 'Oops');
      const as = await open(admin);
      expect((await as.request({ type: 'delete', group, target: seq })).type).toBe('ack');
      expect(await pin(admin, group, seq)).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
      expect(await pin(admin, group, 1)).toMatchObject({ status: 404 }); // the creator's `member joined`
      expect(await pin(admin, group, 999)).toMatchObject({ status: 404 });
      expect((await pin(admin, group, 'x')).status).toBe(404);
      expect((await as.request({ type: 'pin', group, target: 0 })).code).toBe('bad_request');
    });

    it('a deleted pinned message is unpinned: a `group` event right after the `delete`', async () => {
      const group = await createGroup(server, admin, [member], 'Unpin on delete');
      const [a, b] = [await post(member, group, 'keep'), await post(member, group, 'remove')];
      await pin(admin, group, a);
      await pin(admin, group, b);
      const ms = await open(member);
      const ack = await ms.request({ type: 'delete', group, target: b });
      expect(ack.type).toBe('ack');
      const next = await ms.next((f) => f.type === 'event' && f.group === group && f.seq === ack.seq + 1);
      expect(next).toMatchObject({ kind: 'group', sender: member.id, changes: { pins: [a] } });
    });

    it('in a direct group either member pins', async () => {
      const r = await server.http('POST', '/v1/direct', { token: admin.token, body: { userId: member.id } });
      const direct = r.body.group.id as string;
      const seq = await post(admin, direct, 'our address');
      const ms = await open(member);
      const ack = await ms.request({ type: 'pin', group: direct, target: seq });
      expect(ack).toMatchObject({ type: 'ack', group: direct, seq: expect.any(Number) });
      expect((await unpin(admin, direct, seq)).body.group.pins).toEqual([]);
    });

    it('in a direct group where one blocked the other, neither pins nor changes the TTL (no reason given)', async () => {
      const [x, y] = (await tokenUsers(server, 2, 'blk')) as [TestUser, TestUser];
      await createGroup(server, x, [y], 'Shared first');
      const direct = (await server.http('POST', '/v1/direct', { token: x.token, body: { userId: y.id } })).body.group.id as string;
      const seq = await post(x, direct, 'hello');
      expect((await server.http('PUT', `/v1/blocks/${x.id}`, { token: y.token })).status).toBe(204);
      for (const u of [x, y]) {
        const pinned = await pin(u, direct, seq);
        expect(pinned).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
        expect(pinned.body.error.details).toBeUndefined();
        expect((await setTtl(u, direct, 86_400)).status).toBe(403);
      }
    });

    it('a community admin who is not in the group pins; a plain community member does not', async () => {
      const owner = await tokenUser(server, 'owner');
      const [cadmin, plain, groupie] = (await tokenUsers(server, 3, 'c')) as [TestUser, TestUser, TestUser];
      const c = (await server.http('POST', '/v1/communities', { token: owner.token, body: { name: 'School' } })).body.community;
      const code = (await server.http('POST', `/v1/communities/${c.id}/invites`, { token: owner.token, body: {} })).body.code;
      for (const u of [cadmin, plain]) expect((await server.http('POST', `/v1/invites/${code}/join`, { token: u.token })).status).toBe(200);
      expect((await server.http('PUT', `/v1/communities/${c.id}/admins/${cadmin.id}`, { token: owner.token })).status).toBe(204);
      const g = (await server.http('POST', `/v1/communities/${c.id}/groups`, { token: owner.token, body: { name: 'Class 5' } })).body.group
        .id;
      expect((await server.http('POST', `/v1/groups/${g}/members`, { token: owner.token, body: { userId: groupie.id } })).status).toBe(201);
      const seq = await post(groupie, g, 'Homework');
      expect(await pin(plain, g, seq)).toMatchObject({ status: 404 });
      expect(await pin(groupie, g, seq)).toMatchObject({ status: 403 });
      const r = await pin(cadmin, g, seq);
      expect(r).toMatchObject({ status: 200, body: { group: { pins: [seq] } } });
      // In the announcement group: community admins only.
      const ann = await post(owner, c.announcementGroupId, 'Welcome');
      expect(await pin(plain, c.announcementGroupId, ann)).toMatchObject({ status: 403 });
      expect((await pin(cadmin, c.announcementGroupId, ann)).status).toBe(200);
    });
  });

  describe('disappearing messages', () => {
    it('a plain member may not change messageTtlS; values outside the allowed ones are bad_request', async () => {
      const group = await createGroup(server, admin, [member], 'TTL rules');
      expect(await setTtl(member, group, TTL_S)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      expect(await setTtl(stranger, group, TTL_S)).toMatchObject({ status: 404 });
      expect(await setTtl(admin, group, 5)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
      expect((await setTtl(admin, group, -1)).status).toBe(400);
      const ok = await setTtl(admin, group, 604_800);
      expect(ok).toMatchObject({ status: 200, body: { group: { settings: { messageTtlS: 604_800 } } } });
      expect((await setTtl(admin, group, null)).body.group.settings.messageTtlS).toBeNull();
    });

    it('in a direct group either member turns it on or off, and changes nothing else', async () => {
      const r = await server.http('POST', '/v1/direct', { token: member.token, body: { userId: admin.id } });
      const direct = r.body.group.id as string;
      expect((await setTtl(admin, direct, 86_400)).status).toBe(200);
      expect(await setTtl(stranger, direct, 86_400)).toMatchObject({ status: 404 });
      expect((await setTtl(member, direct, null)).status).toBe(200);
      const rename = await server.http('PATCH', `/v1/groups/${direct}`, {
        token: member.token,
        body: { name: 'x', settings: { messageTtlS: null } },
      });
      expect(rename.status).toBe(403);
    });

    it('an expired message is erased from storage (text, mentions, reactions, edits, search, files) and its seq stays', async () => {
      const group = await createGroup(server, admin, [member], 'Vanishing');
      const ms = await open(member);
      const as = await open(admin);
      const before = await post(admin, group, 'stays forever: marigold');
      const keptFile = await upload(admin, 'shared file');
      const goneFile = await upload(admin, 'secret file');
      // A file also posted while disappearing messages were off stays for that message.
      const keeper = await post(admin, group, '', { attachments: [keptFile] });
      const on = await setTtl(admin, group, TTL_S);
      expect(on.status).toBe(200);
      const setting = await ms.next((f) => f.kind === 'group' && f.group === group && f.changes.settings?.messageTtlS === TTL_S);
      expect(setting.sender).toBe(admin.id);

      const sent = await as.request({ type: 'send', group, clientMsgId: 'v1', text: 'meet at the sunflower gate', mentions: [member.id] });
      expect(sent.type).toBe('ack');
      const live = await ms.next((f) => f.type === 'event' && f.seq === sent.seq);
      expect(live.expiresAt).toEqual(expect.any(String));
      expect(Date.parse(live.expiresAt) - Date.parse(live.ts)).toBe(TTL_S * 1000);
      const filesBody = { clientMsgId: 'files-1', text: 'files', attachments: [goneFile, keptFile] };
      const withFiles = await post(admin, group, 'files', filesBody);
      const edited = await as.request({ type: 'edit', group, target: sent.seq, text: 'meet at the sunflower gate at 9' });
      expect(edited.type).toBe('ack');
      expect((await ms.request({ type: 'react', group, target: sent.seq, emoji: '👍' })).type).toBe('ack');
      expect((await pin(admin, group, sent.seq)).status).toBe(200);
      const search = async () => (await server.http('GET', '/v1/search?q=sunflower', { token: member.token })).body.results;
      expect(await search()).toHaveLength(1);

      // The sweeper erases them and tells the sockets.
      await ms.next((f) => f.type === 'expired' && f.group === group && f.seqs.includes(withFiles), 10_000);
      const noticed = ms.frames.filter((f) => f.type === 'expired' && f.group === group).flatMap((f) => f.seqs);
      expect(noticed.sort((x: number, y: number) => x - y)).toEqual([sent.seq, withFiles]);
      const unpinned = await ms.next(
        (f) => f.kind === 'group' && f.group === group && Array.isArray(f.changes.pins) && f.changes.pins.length === 0,
      );
      expect(unpinned.sender).toBe('');

      // Storage: the rows stay (no gap), their content is gone.
      const row = await rowsOf(server, group, sent.seq);
      expect(row).toMatchObject({ kind: 'message', text: null, data: null, expired: true });
      const edit = await rowsOf(server, group, edited.seq);
      expect(edit).toMatchObject({ kind: 'edit', text: null, expired: true });
      expect(await server.app.storage.db.select().from(reactions).where(eq(reactions.groupId, group))).toEqual([]);
      const searchable = await rows(sql`select seq from ${events} where group_id = ${group} and search is not null`);
      expect(searchable.map((r) => Number(r.seq)).sort()).toEqual([before, keeper].sort());
      expect(await search()).toEqual([]);
      // The file only the expired message had is gone, row and blob; the other stays for `keeper`.
      await expect.poll(async () => server.app.storage.db.select().from(attachments).where(eq(attachments.id, goneFile))).toEqual([]);
      expect(await server.app.blobs.get(`a/${goneFile}`)).toBeUndefined();
      expect(await server.app.storage.db.select().from(attachmentRefs).where(eq(attachmentRefs.attachmentId, goneFile))).toEqual([]);
      expect(await server.app.blobs.get(`a/${keptFile}`)).toBeDefined();
      expect(
        (await fetch(`${server.url}/v1/attachments/${keptFile}`, { headers: { authorization: `Bearer ${member.token}` } })).status,
      ).toBe(200);
      expect(
        (await fetch(`${server.url}/v1/attachments/${goneFile}`, { headers: { authorization: `Bearer ${admin.token}` } })).status,
      ).toBe(404);

      // History: expired, no text; earlier messages untouched.
      const history = (await server.http('GET', `/v1/groups/${group}/messages`, { token: member.token })).body.messages as Frame[];
      const bySeq = new Map(history.map((m) => [m.seq, m]));
      expect(bySeq.get(sent.seq)).toMatchObject({ text: null, mentions: [], reactions: {}, expired: true, expiresAt: expect.any(String) });
      expect(bySeq.get(withFiles)).not.toHaveProperty('attachments');
      expect(bySeq.get(before)).toMatchObject({ text: 'stays forever: marigold' });
      expect(bySeq.get(before)).not.toHaveProperty('expired');
      expect(bySeq.get(keeper)!.attachments).toHaveLength(1);
      // Sync: gapless, the message there with expired: true and nothing else.
      const synced = await ms.request({ type: 'sync', groups: { [group]: 0 } });
      const seqs = synced.groups[group].events.map((e: Frame) => e.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      const syncedMessage = synced.groups[group].events.find((e: Frame) => e.seq === sent.seq);
      expect(syncedMessage).toMatchObject({ kind: 'message', text: null, mentions: [], expired: true });
      // Its sender's retry of the same send gets the first ack, and stores nothing.
      const retry = await as.request({ type: 'send', group, clientMsgId: 'v1', text: 'meet at the sunflower gate', mentions: [member.id] });
      expect(retry).toMatchObject({ type: 'ack', seq: sent.seq });
      const filesRetry = await server.http('POST', `/v1/groups/${group}/messages`, { token: admin.token, body: filesBody });
      expect(filesRetry).toMatchObject({ status: 201, body: { seq: withFiles } });
      // Pinning it now is a conflict; the pins lost it.
      expect(await pin(admin, group, sent.seq)).toMatchObject({ status: 409 });
      expect((await server.http('GET', `/v1/groups/${group}`, { token: admin.token })).body.group.pins).toEqual([]);
    });

    it('a disappearing poll and event take their votes, RSVPs and reminder with them; answering one past its time is refused', async () => {
      const group = await createGroup(server, admin, [member], 'Vanishing plans');
      expect((await setTtl(admin, group, TTL_S)).status).toBe(200);
      const ms = await open(member);
      const poll = await post(admin, group, '', { poll: { question: 'Which Saturday?', options: ['5th', '12th'] } });
      const startsAt = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();
      const event = await post(admin, group, '', { event: { title: 'Clean-up at the old bridge', startsAt } });
      expect((await ms.request({ type: 'vote', group, target: poll, options: [1] })).type).toBe('ack');
      expect((await ms.request({ type: 'rsvp', group, target: event, answer: 'going' })).type).toBe('ack');
      expect(await server.app.storage.db.select().from(eventReminders).where(eq(eventReminders.groupId, group))).toHaveLength(1);

      await ms.next((f) => f.type === 'expired' && f.group === group && f.seqs.includes(event), 10_000);
      for (const table of [pollVotes, eventRsvps, eventReminders]) {
        expect(await server.app.storage.db.select().from(table).where(eq(table.groupId, group))).toEqual([]);
      }
      expect(await rowsOf(server, group, poll)).toMatchObject({ data: null, expired: true });
      // Who answered is gone from the log too: those events keep their seq as `hidden`.
      const answers = await rows(
        sql`select kind, sender_id, data from ${events} where group_id = ${group} and target in (${poll}, ${event})`,
      );
      expect(answers.map((a) => a.kind).sort()).toEqual(['hidden', 'hidden']);
      for (const a of answers) expect(a).toMatchObject({ sender_id: '', data: null });
      const synced = await ms.request({ type: 'sync', groups: { [group]: 0 } });
      expect(synced.groups[group].events.filter((e: Frame) => e.kind === 'hidden')).toHaveLength(2);
      expect(await ms.request({ type: 'vote', group, target: poll, options: [0] })).toMatchObject({ type: 'error', code: 'conflict' });
      const votes = await server.http('GET', `/v1/groups/${group}/messages/${poll}/votes`, { token: member.token });
      expect(votes.status).toBe(404);
      ms.terminate(); // a user's sockets are limited: leave room for the next test's
    });

    it('SDK: pin, unpin and setMessageTtl, with pins in the group state and `expired` from the tracker', async () => {
      const group = await createGroup(server, admin, [member], 'SDK');
      const make = (user: TestUser) => {
        const c = new BanyanClient({ url: server.url, token: user.token, WebSocket, reconnect: { baseMs: 20, maxMs: 200 } });
        c.on('error', () => undefined);
        return c;
      };
      const [a, m] = [make(admin), make(member)];
      const expired: { group: string; seqs: number[] }[] = [];
      m.on('expired', (e) => expired.push(e));
      try {
        await Promise.all([a.connect(), m.connect()]);
        const first = await a.send(group, 'pinned forever');
        await a.pin(group, first.seq);
        await expect.poll(() => m.group(group)?.pins).toEqual([first.seq]);
        await expect(m.pin(group, first.seq)).rejects.toMatchObject({ code: 'forbidden' });
        expect((await a.setMessageTtl(group, TTL_S)).group.settings.messageTtlS).toBe(TTL_S);
        const gone = await a.send(group, 'gone soon');
        await expect.poll(() => expired.flatMap((e) => e.seqs), { timeout: 10_000 }).toEqual([gone.seq]);
        expect(expired[0]!.group).toBe(group);
        const page = await m.history(group, { limit: 5 });
        expect(page.messages.find((x) => x.seq === gone.seq)).toMatchObject({ text: null, expired: true });
        await a.unpin(group, first.seq);
        await expect.poll(() => m.group(group)?.pins).toEqual([]);
        expect((await a.http.updateGroup(group, { settings: { messageTtlS: null } })).group.settings.messageTtlS).toBeNull();
      } finally {
        a.close();
        m.close();
      }
    });

    it('content past its time is withheld before the sweep reaches it; messages from before the setting stay', async () => {
      const paused = await start({ MESSAGE_TTL_ALLOWED: String(TTL_S), EXPIRY_SWEEP_MS: '3600000' });
      try {
        const [a, b] = (await tokenUsers(paused, 2, 'w')) as [TestUser, TestUser];
        const group = await createGroup(paused, a, [b], 'Withheld');
        const old = (
          await paused.http('POST', `/v1/groups/${group}/messages`, { token: a.token, body: { clientMsgId: 'o', text: 'old lantern' } })
        ).body.seq;
        await paused.http('PATCH', `/v1/groups/${group}`, { token: a.token, body: { settings: { messageTtlS: TTL_S } } });
        const seq = (
          await paused.http('POST', `/v1/groups/${group}/messages`, { token: a.token, body: { clientMsgId: 'n', text: 'new lantern' } })
        ).body.seq;
        const socket = await connect(paused.wsUrl, b.token);
        sockets.push(socket);
        const as = await connect(paused.wsUrl, a.token);
        sockets.push(as);
        const edit = await as.request({ type: 'edit', group, target: seq, text: 'new lantern, brighter' });
        expect(edit.type).toBe('ack');
        // Kept: about time, past the message's expiry.
        await sleep(TTL_S * 1000 + 100);
        // Sync withholds the message and its edit alike; neither edits nor reactions reach it.
        const synced = (await socket.request({ type: 'sync', groups: { [group]: seq - 1 } })).groups[group].events as Frame[];
        expect(synced.map((e) => [e.seq, e.kind, e.text, e.expired])).toEqual([
          [seq, 'message', null, true],
          [edit.seq, 'edit', null, true],
        ]);
        expect((await as.request({ type: 'edit', group, target: seq, text: 'again' })).code).toBe('conflict');
        expect((await socket.request({ type: 'react', group, target: seq, emoji: '👍' })).code).toBe('conflict');
        const history = (await paused.http('GET', `/v1/groups/${group}/messages`, { token: b.token })).body.messages as Frame[];
        expect(history.find((m) => m.seq === seq)).toMatchObject({ text: null, expired: true });
        expect(history.find((m) => m.seq === old)).toMatchObject({ text: 'old lantern' });
        const found = (await paused.http('GET', '/v1/search?q=lantern', { token: b.token })).body.results.map((r: Frame) => r.seq);
        expect(found).toEqual([old]);
        // Nothing erased yet; one sweep does it, and a second finds nothing to do.
        expect((await rowsOf(paused, group, seq)).text).toBe('new lantern, brighter');
        expect(await paused.app.chat.expiry.sweep(100)).toMatchObject({ erased: 1 });
        expect(await paused.app.chat.expiry.sweep(100)).toMatchObject({ erased: 0 });
        expect(await rowsOf(paused, group, seq)).toMatchObject({ text: null, expired: true });
        expect(await rowsOf(paused, group, edit.seq)).toMatchObject({ kind: 'edit', text: null, expired: true });
      } finally {
        await paused.stop();
      }
    });

    it("an expired message's files, thumbnails and ranges are refused at request time, before the sweep (docs/protocol.md §8)", async () => {
      const HOUR_S = 3600;
      const paused = await start({ MESSAGE_TTL_ALLOWED: String(HOUR_S), EXPIRY_SWEEP_MS: '3600000' });
      try {
        const [a, b] = (await tokenUsers(paused, 2, 'f')) as [TestUser, TestUser];
        const group = await createGroup(paused, a, [b], 'Fading files');
        const uploadAs = async (type: string, body: Uint8Array | string) => {
          const res = await fetch(`${paused.url}/v1/attachments?name=f`, {
            method: 'POST',
            headers: { authorization: `Bearer ${a.token}`, 'content-type': type },
            body,
          });
          expect(res.status).toBe(201);
          return ((await res.json()) as { attachment: { id: string } }).attachment.id;
        };
        const sendWith = async (clientMsgId: string, files: string[]) =>
          (
            await paused.http('POST', `/v1/groups/${group}/messages`, {
              token: a.token,
              body: { clientMsgId, text: 'f', attachments: files },
            })
          ).body.seq as number;
        const image = await uploadAs(
          'image/png',
          await sharp({ create: { width: 40, height: 30, channels: 3, background: '#0a0' } })
            .png()
            .toBuffer(),
        );
        const notes = await uploadAs('text/plain', '0123456789'.repeat(10));
        const kept = await uploadAs('text/plain', 'kept');
        await sendWith('before', [kept]);
        expect(
          (await paused.http('PATCH', `/v1/groups/${group}`, { token: a.token, body: { settings: { messageTtlS: HOUR_S } } })).status,
        ).toBe(200);
        const fading = await sendWith('fading', [image, notes, kept]);
        const get = (user: TestUser, path: string, headers: Record<string, string> = {}) =>
          fetch(`${paused.url}/v1/attachments/${path}`, { headers: { authorization: `Bearer ${user.token}`, ...headers } });
        const statuses = async (user: TestUser) => [
          (await get(user, image)).status,
          (await get(user, `${image}/thumbnail`)).status,
          (await get(user, notes, { range: 'bytes=0-9' })).status,
          (await get(user, kept)).status,
        ];
        expect(await statuses(b)).toEqual([200, 200, 206, 200]);
        // An hour and a minute later by the server's clock; the sweeper has not run.
        paused.app.chat.attachments.now = () => Date.now() + (HOUR_S + 60) * 1000;
        expect(await statuses(b)).toEqual([404, 404, 404, 200]);
        expect(await statuses(a)).toEqual([404, 404, 404, 200]);
        const refused = await get(b, notes);
        expect(await refused.json()).toEqual({ error: { code: 'not_found', message: 'attachment not found' } });
        const refs = await paused.app.storage.db.select().from(attachmentRefs).where(eq(attachmentRefs.attachmentId, notes));
        expect(refs.map((r) => Number(r.seq))).toEqual([fading]);
      } finally {
        await paused.stop();
      }
    });
  });
});

const rowsOf = async (server: TestServer, group: string, seq: number) =>
  (
    await server.app.storage.db
      .select()
      .from(events)
      .where(and(eq(events.groupId, group), eq(events.seq, seq)))
  )[0]!;
