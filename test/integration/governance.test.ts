import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { controlMarker, groupMarker } from '../helpers/markers.js';
import { tokenUser } from '../helpers/users.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Moderation", "Bans", "Mutes", "Reports", "Join requests live", tried
// as the people it protects against: a group admin who is not a community admin, a banned or
// removed member, a plain member reporting or probing, an outsider.

interface Community {
  id: string;
  announcementGroupId: string;
}

describe.each(storageModes())('governance (%s)', (mode) => {
  let server: TestServer;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    server = await startServer({ mode, env: { REPORT_RATE: '8/3600' } });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await server?.stop();
  });

  const user = (label: string) => tokenUser(server, label);
  /** Fresh users named by their labels, as a tuple. */
  const users = async <const L extends readonly string[]>(...labels: L) =>
    (await Promise.all(labels.map((l) => user(l)))) as { [K in keyof L]: TestUser };
  const socketsOf = async <const U extends readonly TestUser[]>(...us: U) =>
    (await Promise.all(us.map((u) => socket(u)))) as { [K in keyof U]: TestSocket };
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

  async function community(owner: TestUser, settings?: Record<string, boolean>): Promise<Community> {
    return (await ok('POST', '/v1/communities', owner, 201, { name: 'Parents', ...(settings ? { settings } : {}) })).community;
  }
  async function join(c: Community, admin: TestUser, ...users: TestUser[]) {
    const { code } = await ok('POST', `/v1/communities/${c.id}/invites`, admin, 201, {});
    for (const u of users) await ok('POST', `/v1/invites/${code}/join`, u, 200);
    return code as string;
  }
  async function communityGroup(c: Community, admin: TestUser, settings?: Record<string, boolean>): Promise<string> {
    return (await ok('POST', `/v1/communities/${c.id}/groups`, admin, 201, { name: 'Class 3B', ...(settings ? { settings } : {}) })).group
      .id;
  }
  const add = (group: string, actor: TestUser, userId: string, role?: string) =>
    http('POST', `/v1/groups/${group}/members`, actor, { userId, ...(role ? { role } : {}) });
  const post = async (group: string, u: TestUser, text: string): Promise<number> =>
    (await ok('POST', `/v1/groups/${group}/messages`, u, 201, { clientMsgId: `c-${Math.random()}`, text })).seq;
  const inCommunity = async (c: Community, admin: TestUser, userId: string) => {
    const members = await ok('GET', `/v1/communities/${c.id}/members?limit=1000`, admin, 200);
    return members.members.some((m: Frame) => m.userId === userId);
  };
  const requests = async (c: Community, admin: TestUser) =>
    (await ok('GET', `/v1/communities/${c.id}/requests`, admin, 200)).requests as Frame[];

  it('a group admin who is not a community admin cannot pull a stranger, an unknown id or a banned user into the community', async () => {
    const [owner, groupAdmin, member, stranger, banned] = await users('owner', 'gadmin', 'member', 'stranger', 'banned');
    const c = await community(owner);
    await join(c, owner, groupAdmin, member, banned);
    const g = await communityGroup(c, owner);
    expect((await add(g, owner, groupAdmin.id, 'admin')).status).toBe(201);
    await ok('PUT', `/v1/communities/${c.id}/bans/${banned.id}`, owner, 204, { reason: 'spam' });
    const ownerSocket = await socket(owner);
    const strangerSocket = await socket(stranger);

    // Three users the group admin may not add, and one made-up id: one answer for all.
    const answers = [];
    for (const id of [stranger.id, 'u_does_not_exist', banned.id]) {
      const r = await add(g, groupAdmin, id);
      answers.push({ status: r.status, body: r.body });
    }
    expect(answers).toEqual(Array(3).fill({ status: 202, body: { status: 'invited' } }));
    // Nobody was added: not to the group, not to the community.
    expect(await inCommunity(c, owner, stranger.id)).toBe(false);
    expect(await inCommunity(c, owner, banned.id)).toBe(false);
    expect(strangerSocket.frames.some((f) => f.type === 'group_added')).toBe(false);
    // The stranger became a request to join the group that community admins hear of at once; the banned user did not.
    const frame = await ownerSocket.next((f) => f.type === 'join_request');
    expect(frame).toEqual({ type: 'join_request', community: c.id, group: g, user: { id: stranger.id, name: 'stranger' } });
    expect((await requests(c, owner)).map((r) => [r.userId, r.groupId])).toEqual([[stranger.id, g]]);
    await controlMarker(server.wsUrl, owner, ownerSocket, g);
    expect(ownerSocket.frames.filter((f) => f.type === 'join_request')).toHaveLength(1);

    // The group admin cannot approve it; a community admin can.
    expect((await http('POST', `/v1/communities/${c.id}/requests/${stranger.id}/approve`, groupAdmin, { groupId: g })).status).toBe(404);
    expect(await inCommunity(c, owner, stranger.id)).toBe(false);
    await ok('POST', `/v1/communities/${c.id}/requests/${stranger.id}/approve`, owner, 200, { groupId: g });
    expect(await inCommunity(c, owner, stranger.id)).toBe(true);
    await strangerSocket.next((f) => f.type === 'group_added' && f.group.id === g);

    // An existing community member is added at once.
    expect((await add(g, groupAdmin, member.id)).status).toBe(201);
  });

  it('with approvalRequired, a group admin cannot let in a user who has no invite', async () => {
    const [owner, groupAdmin, outsider] = await users('owner', 'gadmin', 'outsider');
    const c = await community(owner, { approvalRequired: true });
    const g = await communityGroup(c, owner);
    expect((await add(g, owner, groupAdmin.id, 'admin')).status).toBe(201);
    expect((await add(g, groupAdmin, outsider.id)).status).toBe(202);
    expect(await inCommunity(c, owner, outsider.id)).toBe(false);
    expect((await http('GET', `/v1/groups/${g}`, outsider)).status).toBe(404);
  });

  it('a member removed by the owner is not brought back by a group admin or by a stale join request', async () => {
    const [owner, groupAdmin, removed] = await users('owner', 'gadmin', 'removed');
    const c = await community(owner);
    await join(c, owner, groupAdmin, removed);
    const g = await communityGroup(c, owner);
    const askable = await communityGroup(c, owner, { approvalRequired: true });
    expect((await add(g, owner, groupAdmin.id, 'admin')).status).toBe(201);
    expect((await add(askable, owner, groupAdmin.id, 'admin')).status).toBe(201);
    // The member asks to join a group, then is removed from the community.
    expect((await http('POST', `/v1/communities/${c.id}/groups/${askable}/join`, removed)).status).toBe(202);
    await ok('DELETE', `/v1/communities/${c.id}/members/${removed.id}`, owner, 204);
    // The request went with them: approving it now finds nothing, for either admin.
    expect(await requests(c, owner)).toEqual([]);
    for (const admin of [groupAdmin, owner]) {
      const r = await http('POST', `/v1/communities/${c.id}/requests/${removed.id}/approve`, admin, { groupId: askable });
      expect(r.status).toBe(404);
    }
    // The group admin's add becomes a request, not a way back.
    expect((await add(g, groupAdmin, removed.id)).status).toBe(202);
    expect(await inCommunity(c, owner, removed.id)).toBe(false);
  });

  it('a ban removes at once from every group, keeps the user out (invite, request, add) and can be lifted', async () => {
    const [owner, target, other] = await users('owner', 'target', 'other');
    const c = await community(owner);
    const code = await join(c, owner, target, other);
    const g = await communityGroup(c, owner, { open: true });
    await ok('POST', `/v1/communities/${c.id}/groups/${g}/join`, target, 200);
    const targetSocket = await socket(target);
    const otherSocket = await socket(other);

    await ok('PUT', `/v1/communities/${c.id}/bans/${target.id}`, owner, 204, { reason: 'harassment' });
    await targetSocket.next((f) => f.type === 'group_removed' && f.group === g);
    await targetSocket.next((f) => f.type === 'group_removed' && f.group === c.announcementGroupId);
    expect((await http('GET', `/v1/communities/${c.id}`, target)).status).toBe(404);
    expect((await http('POST', `/v1/groups/${g}/messages`, target, { clientMsgId: 'x', text: 'back?' })).status).toBe(404);

    // The invite that let them in now answers as for a community that approves joins, and stores nothing.
    expect(await http('POST', `/v1/invites/${code}/join`, target)).toEqual({ status: 202, body: { status: 'pending' } });
    expect(await requests(c, owner)).toEqual([]);
    expect(await inCommunity(c, owner, target.id)).toBe(false);
    // A community admin's add does nothing either, with the answer any not-added user gets.
    expect(await add(g, owner, target.id)).toEqual({ status: 202, body: { status: 'invited' } });
    expect(await inCommunity(c, owner, target.id)).toBe(false);

    const listed = await ok('GET', `/v1/communities/${c.id}/bans`, owner, 200);
    expect(listed).toEqual({
      bans: [{ userId: target.id, name: 'target', reason: 'harassment', bannedBy: owner.id, createdAt: expect.any(String) }],
      nextCursor: null,
    });
    // Banning an id nobody has is answered the same (no enumeration); the owner cannot be banned.
    await ok('PUT', `/v1/communities/${c.id}/bans/u_nobody_here`, owner, 204, {});
    expect((await http('PUT', `/v1/communities/${c.id}/bans/${owner.id}`, owner, {})).status).toBe(409);

    await ok('DELETE', `/v1/communities/${c.id}/bans/${target.id}`, owner, 204);
    expect((await http('POST', `/v1/invites/${code}/join`, target)).status).toBe(200);
    expect(otherSocket.closeInfo).toBeUndefined();
  });

  it('community admins moderate a group of the community that they are not in', async () => {
    const [owner, admin, poster, quiet, plain] = await users('owner', 'cadmin', 'poster', 'quiet', 'plain');
    const c = await community(owner);
    await join(c, owner, admin, poster, quiet, plain);
    await ok('PUT', `/v1/communities/${c.id}/admins/${admin.id}`, owner, 204);
    // A group the owner is not in.
    const g = await communityGroup(c, admin);
    for (const u of [poster, quiet]) expect((await add(g, admin, u.id)).status).toBe(201);
    const ownerSocket = await socket(owner);
    const posterSocket = await socket(poster);
    const seq = await post(g, poster, 'something awful');

    // They see the group and its members, to know whom to act on.
    expect(await ok('GET', `/v1/groups/${g}`, owner, 200)).toMatchObject({ group: { id: g, memberCount: 3 }, role: null });
    const listed = await ok('GET', `/v1/groups/${g}/members`, owner, 200);
    expect(listed.members.map((m: Frame) => m.userId).sort()).toEqual([admin.id, poster.id, quiet.id].sort());
    expect((await http('GET', `/v1/groups/${g}`, plain)).status).toBe(404);
    expect((await http('GET', `/v1/groups/${g}/members`, plain)).status).toBe(404);
    // Settings.
    const patched = await ok('PATCH', `/v1/groups/${g}`, owner, 200, { settings: { adminsOnlyPost: false, open: true } });
    expect(patched.group.settings).toMatchObject({ open: true });
    // Delete a message (over the socket, as any client does).
    const deleted = await ownerSocket.request({ type: 'delete', group: g, target: seq });
    expect(deleted).toMatchObject({ type: 'ack', group: g });
    await posterSocket.next((f) => f.type === 'event' && f.kind === 'delete' && f.target === seq);
    // Mute.
    await ok('PUT', `/v1/groups/${g}/mutes/${poster.id}`, owner, 204, { forS: 600 });
    expect(await posterSocket.request({ type: 'send', group: g, clientMsgId: 'm1', text: 'hi' })).toMatchObject({
      type: 'error',
      code: 'forbidden',
      details: { reason: 'muted' },
    });
    // Remove.
    await ok('DELETE', `/v1/groups/${g}/members/${quiet.id}`, owner, 204);
    // Reports of the group.
    expect((await ok('GET', `/v1/groups/${g}/reports`, owner, 200)).reports).toEqual([]);

    // A plain community member outside the group finds nothing; a plain member inside is forbidden.
    expect((await http('PATCH', `/v1/groups/${g}`, plain, { name: 'mine' })).status).toBe(404);
    expect((await http('PUT', `/v1/groups/${g}/mutes/${poster.id}`, plain, { forS: 600 })).status).toBe(404);
    expect((await http('DELETE', `/v1/groups/${g}/members/${poster.id}`, plain)).status).toBe(404);
    await ok('DELETE', `/v1/groups/${g}/mutes/${poster.id}`, owner, 204);
    expect((await http('PUT', `/v1/groups/${g}/mutes/${admin.id}`, poster, { forS: 600 })).status).toBe(403);
    expect((await http('GET', `/v1/groups/${g}/reports`, poster)).status).toBe(403);
  });

  it('a muted member cannot send, react, edit or type until the mute is lifted; admins above them cannot be muted', async () => {
    const [owner, admin, muted] = await users('owner', 'gadmin', 'muted');
    const c = await community(owner);
    await join(c, owner, admin, muted);
    const g = await communityGroup(c, owner, { open: true });
    expect((await add(g, owner, admin.id, 'admin')).status).toBe(201);
    await ok('POST', `/v1/communities/${c.id}/groups/${g}/join`, muted, 200);
    const mutedSocket = await socket(muted);
    const adminSocket = await socket(admin);
    const own = await post(g, muted, 'before the mute');
    // Cached before the mute: the cache must learn it.
    expect(await mutedSocket.request({ type: 'react', group: g, target: own, emoji: '👍' })).toMatchObject({ type: 'ack' });

    const before = Date.now();
    await ok('PUT', `/v1/groups/${g}/mutes/${muted.id}`, admin, 204, { forS: 3600 });
    const sent = await mutedSocket.request({ type: 'send', group: g, clientMsgId: 'after', text: 'muted?' });
    expect(sent).toMatchObject({ type: 'error', code: 'forbidden', details: { reason: 'muted' } });
    const until = Date.parse(sent.details.until);
    expect(until).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
    const viaHttp = await http('POST', `/v1/groups/${g}/messages`, muted, { clientMsgId: 'after2', text: 'muted?' });
    expect(viaHttp).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden', details: { reason: 'muted', until: sent.details.until } } },
    });
    for (const command of [
      { type: 'react', group: g, target: own, emoji: '👎' },
      { type: 'edit', group: g, target: own, text: 'edited' },
      { type: 'typing', group: g },
    ]) {
      expect(await mutedSocket.request(command)).toMatchObject({ type: 'error', code: 'forbidden', details: { reason: 'muted' } });
    }
    // A typing frame would travel on the group's topic, ahead of a later message of the group.
    await groupMarker(server, owner, g, [adminSocket]);
    expect(adminSocket.frames.some((f) => f.type === 'typing')).toBe(false);

    // Nobody mutes the owner or a community admin; a group admin only by a community admin.
    expect((await http('PUT', `/v1/groups/${g}/mutes/${owner.id}`, admin, { forS: 60 })).status).toBe(403);
    expect((await http('PUT', `/v1/groups/${g}/mutes/${admin.id}`, admin, { forS: 60 })).status).toBe(409);
    expect((await http('PUT', `/v1/groups/${g}/mutes/u_nobody`, admin, { forS: 60 })).status).toBe(404);
    expect((await http('PUT', `/v1/groups/${g}/mutes/${muted.id}`, admin, { forS: 5 })).status).toBe(400);
    await ok('PUT', `/v1/groups/${g}/mutes/${admin.id}`, owner, 204, { forS: 60 });
    await ok('DELETE', `/v1/groups/${g}/mutes/${admin.id}`, owner, 204);

    await ok('DELETE', `/v1/groups/${g}/mutes/${muted.id}`, admin, 204);
    expect(await mutedSocket.request({ type: 'send', group: g, clientMsgId: 'free', text: 'back' })).toMatchObject({ type: 'ack' });
  });

  it('reports: one per reporter, a snapshot that survives deletion, live to admins only, never naming reporters to others', async () => {
    const [owner, groupAdmin, sender, r1, r2] = await users('owner', 'gadmin', 'sender', 'r1', 'r2');
    const c = await community(owner);
    await join(c, owner, groupAdmin, sender, r1, r2);
    const g = await communityGroup(c, owner, { open: true });
    expect((await add(g, owner, groupAdmin.id, 'admin')).status).toBe(201);
    for (const u of [sender, r1, r2]) await ok('POST', `/v1/communities/${c.id}/groups/${g}/join`, u, 200);
    const [ownerSocket, adminSocket, senderSocket, r1Socket, r2Socket] = await socketsOf(owner, groupAdmin, sender, r1, r2);
    const seq = await post(g, sender, 'you know where I live');

    const first = await http('POST', `/v1/groups/${g}/messages/${seq}/report`, r1, { reason: 'harassment', note: 'threat' });
    expect(first).toEqual({ status: 202, body: { status: 'received' } });
    // The same report again: the same answer, no second report.
    expect(await http('POST', `/v1/groups/${g}/messages/${seq}/report`, r1, { reason: 'spam' })).toEqual(first);
    expect(await http('POST', `/v1/groups/${g}/messages/${seq}/report`, r2, { reason: 'harassment' })).toEqual(first);

    // Community admins hear of each report once (a group admin of a community group does not: reports name their reporter).
    for (const s of [ownerSocket]) {
      await s.next((f) => f.type === 'report' && f.report.reporter.id === r2.id);
      const frames = s.frames.filter((f) => f.type === 'report');
      expect(frames.map((f) => f.report.reporter.id)).toEqual([r1.id, r2.id]);
      expect(frames[0]!.report).toMatchObject({
        community: c.id,
        group: g,
        seq,
        reason: 'harassment',
        note: 'threat',
        reporter: { id: r1.id, name: 'r1' },
        snapshot: { sender: sender.id, text: 'you know where I live' },
        status: 'open',
        action: null,
      });
    }
    // Nobody else's socket learns of any report: not the sender, not the other reporter.
    for (const [u, s] of [
      [groupAdmin, adminSocket],
      [sender, senderSocket],
      [r1, r1Socket],
      [r2, r2Socket],
    ] as const) {
      await controlMarker(server.wsUrl, u, s, g);
      expect(s.frames.some((f) => f.type === 'report')).toBe(false);
    }
    // A reporter cannot read the queue.
    expect((await http('GET', `/v1/groups/${g}/reports`, r1)).status).toBe(403);
    expect((await http('GET', `/v1/communities/${c.id}/reports`, r1)).status).toBe(403);

    // The sender deletes it; the snapshot stays for the admins.
    expect(await senderSocket.request({ type: 'delete', group: g, target: seq })).toMatchObject({ type: 'ack' });
    const queue = await ok('GET', `/v1/communities/${c.id}/reports?status=open`, owner, 200);
    expect(queue.reports).toHaveLength(2);
    expect(queue.reports.map((r: Frame) => r.snapshot.text)).toEqual(['you know where I live', 'you know where I live']);
    expect((await ok('GET', `/v1/groups/${g}/reports`, owner, 200)).reports).toHaveLength(2);
    expect((await http('GET', `/v1/groups/${g}/reports`, groupAdmin)).status).toBe(403);
    // A deleted message can no longer be reported.
    expect((await http('POST', `/v1/groups/${g}/messages/${seq}/report`, owner, { reason: 'x' })).status).toBe(404);

    // Resolving one resolves the message's other reports; only governors find a report.
    const reportId = queue.reports[1].id as string;
    for (const u of [r1, sender, groupAdmin]) {
      expect((await http('POST', `/v1/reports/${reportId}/resolve`, u, { action: 'dismiss' })).status).toBe(404);
    }
    const resolved = await ok('POST', `/v1/reports/${reportId}/resolve`, owner, 200, { action: 'dismiss' });
    expect(resolved.report).toMatchObject({ id: reportId, status: 'resolved', action: 'dismiss', resolvedBy: owner.id });
    expect((await http('POST', `/v1/reports/${reportId}/resolve`, owner, { action: 'dismiss' })).status).toBe(409);
    // The other community admins' queues follow: the resolution reaches them as report frames.
    await ownerSocket.next((f) => f.type === 'report' && f.report.status === 'resolved');
    expect((await ok('GET', `/v1/communities/${c.id}/reports`, owner, 200)).reports).toEqual([]);
    expect((await ok('GET', `/v1/communities/${c.id}/reports?status=resolved`, owner, 200)).reports).toHaveLength(2);
  });

  it('a reported admin never learns of the report; resolve deletes, mutes, removes or bans', async () => {
    const [owner, admin, spammer, reporter] = await users('owner', 'cadmin', 'spammer', 'reporter');
    const c = await community(owner);
    await join(c, owner, admin, spammer, reporter);
    await ok('PUT', `/v1/communities/${c.id}/admins/${admin.id}`, owner, 204);
    const g = await communityGroup(c, owner, { open: true });
    for (const u of [admin, spammer, reporter]) await ok('POST', `/v1/communities/${c.id}/groups/${g}/join`, u, 200);
    const adminSocket = await socket(admin);
    const spammerSocket = await socket(spammer);
    const report = async (seq: number, group = g) => {
      await ok('POST', `/v1/groups/${group}/messages/${seq}/report`, reporter, 202, { reason: 'abuse' });
      const queue = await ok('GET', `/v1/communities/${c.id}/reports`, owner, 200);
      return (queue.reports as Frame[]).find((r) => r.seq === seq)!.id as string;
    };

    // The admin's own message is reported: the owner sees it, the admin does not, anywhere.
    const adminSeq = await post(g, admin, 'admin says');
    const aboutAdmin = await report(adminSeq);
    await controlMarker(server.wsUrl, admin, adminSocket, g);
    expect(adminSocket.frames.some((f) => f.type === 'report')).toBe(false);
    expect((await ok('GET', `/v1/communities/${c.id}/reports`, admin, 200)).reports).toEqual([]);
    expect((await http('POST', `/v1/reports/${aboutAdmin}/resolve`, admin, { action: 'dismiss' })).status).toBe(404);
    await ok('POST', `/v1/reports/${aboutAdmin}/resolve`, owner, 200, { action: 'dismiss' });

    const s1 = await post(g, spammer, 'buy now');
    await ok('POST', `/v1/reports/${await report(s1)}/resolve`, admin, 200, { action: 'delete' });
    await spammerSocket.next((f) => f.type === 'event' && f.kind === 'delete' && f.target === s1);

    const s2 = await post(g, spammer, 'buy again');
    await ok('POST', `/v1/reports/${await report(s2)}/resolve`, admin, 200, { action: 'mute', forS: 120 });
    expect(await spammerSocket.request({ type: 'send', group: g, clientMsgId: 's3', text: 'x' })).toMatchObject({
      code: 'forbidden',
      details: { reason: 'muted' },
    });
    await ok('DELETE', `/v1/groups/${g}/mutes/${spammer.id}`, admin, 204);

    const s3 = await post(g, spammer, 'and again');
    await ok('POST', `/v1/reports/${await report(s3)}/resolve`, admin, 200, { action: 'remove' });
    await spammerSocket.next((f) => f.type === 'group_removed' && f.group === g);
    expect(await inCommunity(c, owner, spammer.id)).toBe(true);

    // Announcements can be reported too; the announcing admin does not see it, the owner does.
    const s4 = await post(c.announcementGroupId, admin, 'announcement');
    const annReport = await report(s4, c.announcementGroupId);
    expect((await ok('GET', `/v1/communities/${c.id}/reports`, admin, 200)).reports.map((r: Frame) => r.id)).not.toContain(annReport);
    await ok('POST', `/v1/reports/${annReport}/resolve`, owner, 200, { action: 'dismiss' });

    await ok('POST', `/v1/communities/${c.id}/groups/${g}/join`, spammer, 200);
    const s5 = await post(g, spammer, 'last one');
    await ok('POST', `/v1/reports/${await report(s5)}/resolve`, admin, 200, { action: 'ban' });
    await spammerSocket.next((f) => f.type === 'group_removed' && f.group === c.announcementGroupId);
    const bans = await ok('GET', `/v1/communities/${c.id}/bans`, owner, 200);
    expect(bans.bans.map((b: Frame) => b.userId)).toEqual([spammer.id]);
  });

  it('reports are rate limited per user (REPORT_RATE), so one member cannot flood the queue', async () => {
    const [owner, announcer, flooder] = await users('owner', 'announcer', 'flooder');
    const c = await community(owner);
    await join(c, owner, announcer, flooder);
    await ok('PUT', `/v1/communities/${c.id}/admins/${announcer.id}`, owner, 204);
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) seqs.push(await post(c.announcementGroupId, announcer, `notice ${i}`));
    const statuses: number[] = [];
    for (const seq of seqs) {
      statuses.push((await http('POST', `/v1/groups/${c.announcementGroupId}/messages/${seq}/report`, flooder, { reason: 'spam' })).status);
    }
    expect(statuses).toEqual([...Array(8).fill(202), 429, 429]);
    // The queue pages newest first, by cursor, with nothing twice.
    const first = await ok('GET', `/v1/communities/${c.id}/reports?limit=5`, owner, 200);
    expect(first.nextCursor).not.toBeNull();
    const second = await ok('GET', `/v1/communities/${c.id}/reports?limit=5&cursor=${first.nextCursor}`, owner, 200);
    expect(second.nextCursor).toBeNull();
    expect([...first.reports, ...second.reports].map((r: Frame) => r.seq)).toEqual(seqs.slice(0, 8).reverse());
    expect((await http('GET', `/v1/communities/${c.id}/reports?cursor=abc`, owner)).status).toBe(400);
  });

  it('join requests reach community admins live', async () => {
    const [owner, admin, member, asker] = await users('owner', 'cadmin', 'member', 'asker');
    const c = await community(owner, { approvalRequired: true });
    const code = (await ok('POST', `/v1/communities/${c.id}/invites`, owner, 201, {})).code;
    await ok('PUT', `/v1/communities/${c.id}/bans/${member.id}`, owner, 204, {});
    await ok('DELETE', `/v1/communities/${c.id}/bans/${member.id}`, owner, 204);
    const ownerSocket = await socket(owner);
    expect((await http('POST', `/v1/invites/${code}/join`, asker)).status).toBe(202);
    const frame = await ownerSocket.next((f) => f.type === 'join_request');
    expect(frame).toEqual({ type: 'join_request', community: c.id, group: c.announcementGroupId, user: { id: asker.id, name: 'asker' } });
    // Asking again is no new request and no new frame.
    expect((await http('POST', `/v1/invites/${code}/join`, asker)).status).toBe(202);
    await controlMarker(server.wsUrl, owner, ownerSocket, c.announcementGroupId);
    expect(ownerSocket.frames.filter((f) => f.type === 'join_request')).toHaveLength(1);
    expect(admin.id).toBeTruthy();
  });

  it('every new endpoint answers outsiders not_found and plain members forbidden, revealing nothing', async () => {
    const [owner, member, outsider, target] = await users('owner', 'member', 'outsider', 'target');
    const c = await community(owner);
    await join(c, owner, member, target);
    const g = await communityGroup(c, owner, { open: true });
    for (const u of [member, target]) await ok('POST', `/v1/communities/${c.id}/groups/${g}/join`, u, 200);
    const seq = await post(g, target, 'hello');
    await ok('POST', `/v1/groups/${g}/messages/${seq}/report`, member, 202, { reason: 'spam' });
    const reportId = (await ok('GET', `/v1/communities/${c.id}/reports`, owner, 200)).reports[0].id;

    const calls: [string, string, unknown?][] = [
      ['PUT', `/v1/communities/${c.id}/bans/${target.id}`, {}],
      ['DELETE', `/v1/communities/${c.id}/bans/${target.id}`],
      ['GET', `/v1/communities/${c.id}/bans`],
      ['GET', `/v1/communities/${c.id}/reports`],
      ['PUT', `/v1/groups/${g}/mutes/${target.id}`, { forS: 600 }],
      ['DELETE', `/v1/groups/${g}/mutes/${target.id}`],
      ['GET', `/v1/groups/${g}/reports`],
    ];
    for (const [method, path, body] of calls) {
      const asOutsider = await http(method, path, outsider, body);
      expect({ path, status: asOutsider.status, code: asOutsider.body?.error?.code }).toEqual({ path, status: 404, code: 'not_found' });
      const asMember = await http(method, path, member, body);
      expect({ path, status: asMember.status, code: asMember.body?.error?.code }).toEqual({ path, status: 403, code: 'forbidden' });
    }
    // Reporting in a group one is not in, a report id one may not see and one that does not exist: one answer each.
    expect((await http('POST', `/v1/groups/${g}/messages/${seq}/report`, outsider, { reason: 'spam' })).status).toBe(404);
    const mine = await http('POST', `/v1/reports/${reportId}/resolve`, member, { action: 'dismiss' });
    const none = await http('POST', `/v1/reports/r_nothing/resolve`, member, { action: 'dismiss' });
    const outside = await http('POST', `/v1/reports/${reportId}/resolve`, outsider, { action: 'dismiss' });
    expect(mine).toEqual(none);
    expect(outside).toEqual(none);
    expect(none.status).toBe(404);
    // Nothing happened to the target.
    expect(await inCommunity(c, owner, target.id)).toBe(true);
  });

  it('nobody moderates a direct group: its opener cannot mute the other or read reports; a report there reaches no one', async () => {
    const [owner, opener, other] = await users('owner', 'opener', 'other');
    const c = await community(owner);
    await join(c, owner, opener, other);
    const g = await communityGroup(c, owner, { open: true });
    for (const u of [opener, other]) await ok('POST', `/v1/communities/${c.id}/groups/${g}/join`, u, 200);
    const direct = (await ok('POST', '/v1/direct', opener, 201, { userId: other.id })).group.id as string;
    const [openerSocket, ownerSocket] = await socketsOf(opener, owner);
    const seq = await post(direct, other, 'between us');
    expect(await http('POST', `/v1/groups/${direct}/messages/${seq}/report`, opener, { reason: 'harassment' })).toEqual({
      status: 202,
      body: { status: 'received' },
    });
    expect((await http('PUT', `/v1/groups/${direct}/mutes/${other.id}`, opener, { forS: 600 })).status).toBe(403);
    expect((await http('GET', `/v1/groups/${direct}/reports`, opener)).status).toBe(403);
    // Community admins do not govern direct groups either: for them it does not exist.
    expect((await http('GET', `/v1/groups/${direct}/reports`, owner)).status).toBe(404);
    await controlMarker(server.wsUrl, opener, openerSocket, direct);
    await controlMarker(server.wsUrl, owner, ownerSocket, g);
    for (const s of [openerSocket, ownerSocket]) expect(s.frames.some((f) => f.type === 'report')).toBe(false);
  });

  it('linking a group with a banned member does not bring them in: they leave the group', async () => {
    const [owner, friend, banned] = await users('owner', 'friend', 'banned');
    const c = await community(owner);
    const outside = (await ok('POST', '/v1/groups', owner, 201, { name: 'Old group', members: [friend.id, banned.id] })).group.id;
    await ok('PUT', `/v1/communities/${c.id}/bans/${banned.id}`, owner, 204, {});
    const bannedSocket = await socket(banned);
    await ok('PUT', `/v1/communities/${c.id}/groups/${outside}`, owner, 200);
    await bannedSocket.next((f) => f.type === 'group_removed' && f.group === outside);
    expect(await inCommunity(c, owner, friend.id)).toBe(true);
    expect(await inCommunity(c, owner, banned.id)).toBe(false);
    expect(bannedSocket.frames.some((f) => f.type === 'group_added')).toBe(false);
  });

  it("a community admin may remove a group's owner (ownership passes on), never the community's owner", async () => {
    const [owner, admin, groupOwner, member] = await users('owner', 'cadmin', 'gowner', 'member');
    const c = await community(owner);
    await join(c, owner, admin, groupOwner, member);
    await ok('PUT', `/v1/communities/${c.id}/admins/${admin.id}`, owner, 204);
    await ok('PUT', `/v1/communities/${c.id}/admins/${groupOwner.id}`, owner, 204);
    const g = await communityGroup(c, groupOwner);
    expect((await add(g, groupOwner, member.id)).status).toBe(201);
    await ok('DELETE', `/v1/communities/${c.id}/admins/${groupOwner.id}`, owner, 204);
    // A community admin who is not in the group removes its owner; ownership passes to the member left.
    await ok('DELETE', `/v1/groups/${g}/members/${groupOwner.id}`, admin, 204);
    expect((await ok('GET', `/v1/groups/${g}`, member, 200)).role).toBe('owner');
    expect((await http('DELETE', `/v1/groups/${c.announcementGroupId}/members/${owner.id}`, admin)).status).toBe(403);
  });

  it("asking to join a group on approval reaches the community's admins and the group's admins live", async () => {
    const [owner, groupAdmin, asker, bystander] = await users('owner', 'gadmin', 'asker', 'bystander');
    const c = await community(owner);
    await join(c, owner, groupAdmin, asker, bystander);
    const g = await communityGroup(c, owner, { approvalRequired: true });
    expect((await add(g, owner, groupAdmin.id, 'admin')).status).toBe(201);
    const [ownerSocket, adminSocket, bystanderSocket] = await socketsOf(owner, groupAdmin, bystander);
    expect(await http('POST', `/v1/communities/${c.id}/groups/${g}/join`, asker)).toEqual({ status: 202, body: { status: 'pending' } });
    const expected = { type: 'join_request', community: c.id, group: g, user: { id: asker.id, name: 'asker' } };
    for (const s of [ownerSocket, adminSocket]) expect(await s.next((f) => f.type === 'join_request')).toEqual(expected);
    await controlMarker(server.wsUrl, bystander, bystanderSocket, c.announcementGroupId);
    expect(bystanderSocket.frames.some((f) => f.type === 'join_request')).toBe(false);
    // The group's admin approves a community member's request.
    await ok('POST', `/v1/communities/${c.id}/requests/${asker.id}/approve`, groupAdmin, 200, { groupId: g });
    expect((await ok('GET', `/v1/groups/${g}`, asker, 200)).role).toBe('member');
  });
});
