import { and, eq, gt } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanHttp } from '../../src/client/http.js';
import { notifyOutbox, pushQueue, pushSubscriptions } from '../../src/platform/db/schema.js';
import { controlMarker } from '../helpers/markers.js';
import { ownDatabase } from '../helpers/own-database.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { LocalPushService, type Subscriber } from '../helpers/push-service.js';
import { waitUntil } from '../helpers/replicas.js';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { sleep, tokenUser, tokenUsers } from '../helpers/users.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Notifications" against a real local push service that checks VAPID and decrypts every payload.

describe.each(storageModes())('notifications (%s)', (mode) => {
  let server: TestServer;
  let push: LocalPushService;
  const sockets: TestSocket[] = [];
  let n = 0;
  const post = async (user: TestUser, group: string, text: string, mentions?: string[]) => {
    const r = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: user.token,
      body: { clientMsgId: `c${n++}`, text, ...(mentions ? { mentions } : {}) },
    });
    expect(r.status).toBe(201);
    return r.body.seq as number;
  };
  /** A user with one push subscription at the local push service. */
  const subscribed = async (label: string): Promise<TestUser & { sub: Subscriber; subId: string }> => {
    const user = await tokenUser(server, label);
    const sub = push.subscribe();
    const r = await server.http('POST', '/v1/push/subscriptions', { token: user.token, body: { endpoint: sub.endpoint, keys: sub.keys } });
    expect(r.status).toBe(201);
    return { ...user, sub, subId: r.body.id };
  };
  const pushesTo = (s: Subscriber) => push.deliveredTo(s.id);
  const waitPushes = (s: Subscriber, count: number, ms = 8000) =>
    waitUntil(() => pushesTo(s).length >= count, ms, `${count} pushes to ${s.id} (got ${pushesTo(s).length})`);
  /**
   * The positive marker for "no push": every push owed for the group's messages so far was sent.
   * Its notify_outbox rows are gone (fanned out, in the transaction that queued the pushes) and no
   * push_queue row of the group owes anything (a row's count drops only once its push was sent).
   */
  const pushesSettled = (group: string) =>
    waitUntil(
      async () => {
        const db = server.app.storage.db;
        const unfanned = await db.select().from(notifyOutbox).where(eq(notifyOutbox.groupId, group));
        const owed = await db
          .select()
          .from(pushQueue)
          .where(and(eq(pushQueue.groupId, group), gt(pushQueue.count, 0)));
        return unfanned.length === 0 && owed.length === 0;
      },
      8000,
      `every push of ${group} sent`,
    );

  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;

  beforeAll(async () => {
    push = await LocalPushService.start();
    if (mode === 'postgres') database = await ownDatabase('notify');
    server = await startServer({
      mode,
      env: {
        ...(database ? { DATABASE_URL: database.url } : {}),
        WEBHOOK_ALLOW_PRIVATE: 'on',
        PUSH_COALESCE_MS: '1000',
        NOTIFY_LEASE_MS: '3000',
        NOTIFY_ALL_MAX_MEMBERS: '4',
      },
    });
    const key = await server.http('GET', '/v1/push/vapid-key');
    expect(key.status).toBe(200);
    expect(Buffer.from(key.body.publicKey, 'base64url')).toHaveLength(65);
    push.expectVapidKey(key.body.publicKey);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
    await push?.stop();
    await database?.drop();
  });

  it('preferences: defaults by kind and size, PUT changes them, summaries and ready carry level', async () => {
    const [owner, a, b, c, d] = await tokenUsers(server, 5, 'pref');
    const small = await createGroup(server, owner!, [a!]);
    const big = await createGroup(server, owner!, [a!, b!, c!, d!]); // 5 members > NOTIFY_ALL_MAX_MEMBERS=4
    const levelOf = async (user: TestUser, group: string) =>
      (await server.http('GET', '/v1/me', { token: user.token })).body.groups.find((g: { id: string }) => g.id === group);
    expect(await levelOf(a!, small)).toMatchObject({ level: 'all', muteUntil: null });
    expect(await levelOf(a!, big)).toMatchObject({ level: 'mentions' });
    const until = new Date(Date.now() + 3600_000).toISOString();
    const put = await server.http('PUT', `/v1/groups/${big}/notifications`, { token: a!.token, body: { level: 'none', muteUntil: until } });
    expect(put.status).toBe(204);
    expect(await levelOf(a!, big)).toMatchObject({ level: 'none', muteUntil: until });
    const socket = await connect(server.wsUrl, a!.token);
    sockets.push(socket);
    const ready = await socket.next((f) => f.type === 'ready');
    expect(ready.groups.find((g: { id: string }) => g.id === big)).toMatchObject({ level: 'none' });
    socket.terminate();
    // Not a member: not_found, as for any group the caller cannot see; bad bodies: bad_request.
    const outsider = await tokenUser(server, 'outsider');
    expect((await server.http('PUT', `/v1/groups/${big}/notifications`, { token: outsider.token, body: { level: 'all' } })).status).toBe(
      404,
    );
    expect((await server.http('PUT', `/v1/groups/${big}/notifications`, { token: a!.token, body: { level: 'loud' } })).status).toBe(400);
    expect(
      (await server.http('PUT', `/v1/groups/${big}/notifications`, { token: a!.token, body: { level: 'all', muteUntil: 'soon' } })).status,
    ).toBe(400);
  });

  it('SDK: vapidKey, subscribePush, setNotifications, messageStats, typed', async () => {
    const user = await tokenUser(server, 'sdk');
    const http = new BanyanHttp({ url: server.url, token: user.token });
    expect((await http.vapidKey()).publicKey).toBe(push.vapidPublicKey);
    const sub = push.subscribe();
    const { id } = await http.subscribePush({ endpoint: sub.endpoint, keys: sub.keys });
    expect(id).toMatch(/^p_/);
    const group = await createGroup(server, user, []);
    await http.setNotifications(group, { level: 'mentions' });
    expect((await http.me()).groups.find((g) => g.id === group)?.level).toBe('mentions');
    const seq = await post(user, group, 'mine');
    expect(await http.messageStats(group, seq)).toEqual({ group, seq, members: 1, delivered: 0, notified: 0, read: 0 });
    await expect(http.messageStats(group, seq + 10)).rejects.toMatchObject({ code: 'not_found' });
    await http.unsubscribePush(id);
  });

  it('subscriptions: 201 {id}; DELETE only the owner’s; bad keys refused', async () => {
    const user = await subscribed('subs');
    const other = await tokenUser(server, 'other');
    expect((await server.http('DELETE', `/v1/push/subscriptions/${user.subId}`, { token: other.token })).status).toBe(404);
    expect((await server.http('DELETE', `/v1/push/subscriptions/${user.subId}`, { token: user.token })).status).toBe(204);
    expect((await server.http('DELETE', `/v1/push/subscriptions/${user.subId}`, { token: user.token })).status).toBe(404);
    const bad = await server.http('POST', '/v1/push/subscriptions', {
      token: user.token,
      body: { endpoint: push.subscribe().endpoint, keys: { p256dh: 'short', auth: 'x' } },
    });
    expect(bad.status).toBe(400);
    const ftp = await server.http('POST', '/v1/push/subscriptions', {
      token: user.token,
      body: { endpoint: 'ftp://example.com/x', keys: push.subscribe().keys },
    });
    expect(ftp.status).toBe(400);
  });

  it('an offline member gets one encrypted push with the payload of docs/protocol.md §8 "Notifications"; the sender and connected members get none', async () => {
    const sender = await subscribed('sender');
    const offline = await subscribed('offline');
    const online = await subscribed('online');
    const group = await createGroup(server, sender, [offline, online], 'Volunteers');
    const socket = await connect(server.wsUrl, online.token);
    sockets.push(socket);
    const seq = await post(sender, group, `hello ${'x'.repeat(300)}`);
    await waitPushes(offline.sub, 1);
    await pushesSettled(group);
    const [p] = pushesTo(offline.sub);
    expect(p!.payload).toMatchObject({ group, seq, kind: 'message', sender: { id: sender.id, name: 'sender' }, title: 'Volunteers' });
    expect(Array.from(p!.payload.body as string).length).toBeLessThanOrEqual(180);
    expect(p!.payload.body).toMatch(/^sender: hello x+…$/);
    expect(p!.topic).toBe(group);
    expect(p!.urgency).toBe('normal');
    expect(pushesTo(sender.sub)).toHaveLength(0);
    expect(pushesTo(online.sub)).toHaveLength(0);
    expect(push.rejected).toEqual([]);
  });

  it('direct messages and mentions are urgent; level mentions and none are kept; a mute silences until it ends', async () => {
    const owner = await subscribed('own');
    const [m1, m2, m3, m4] = await Promise.all([subscribed('m1'), subscribed('m2'), subscribed('m3'), subscribed('m4')]);
    const group = await createGroup(server, owner, [m1!, m2!, m3!, m4!]); // 5 members: default mentions
    await post(owner, group, 'plain message');
    const seq = await post(owner, group, 'hey @m1', [m1!.id]);
    await waitPushes(m1!.sub, 1);
    await pushesSettled(group);
    expect(pushesTo(m1!.sub)).toHaveLength(1);
    expect(pushesTo(m1!.sub)[0]).toMatchObject({ urgency: 'high', payload: { kind: 'mention', seq } });
    expect(pushesTo(m2!.sub)).toHaveLength(0);
    // all: pushed; none: never, even mentioned; muted: not until the mute ends.
    await server.http('PUT', `/v1/groups/${group}/notifications`, { token: m2!.token, body: { level: 'all' } });
    await server.http('PUT', `/v1/groups/${group}/notifications`, { token: m3!.token, body: { level: 'none' } });
    await server.http('PUT', `/v1/groups/${group}/notifications`, {
      token: m4!.token,
      body: { level: 'all', muteUntil: new Date(Date.now() + 3600_000).toISOString() },
    });
    await post(owner, group, 'to all', [m3!.id, m4!.id]);
    await waitPushes(m2!.sub, 1);
    await pushesSettled(group);
    expect(pushesTo(m3!.sub)).toHaveLength(0);
    expect(pushesTo(m4!.sub)).toHaveLength(0);
    await server.http('PUT', `/v1/groups/${group}/notifications`, {
      token: m4!.token,
      body: { level: 'all', muteUntil: new Date(Date.now() - 1000).toISOString() },
    });
    await post(owner, group, 'after the mute');
    await waitPushes(m4!.sub, 1);

    const direct = await server.http('POST', '/v1/direct', { token: owner.token, body: { userId: m1!.id } });
    await post(owner, direct.body.group.id, 'privately');
    await waitPushes(m1!.sub, 2);
    expect(pushesTo(m1!.sub)[1]).toMatchObject({ urgency: 'high', payload: { kind: 'direct', title: 'own', body: 'privately' } });
  });

  it('coalesces: one push per user per group per PUSH_COALESCE_MS, then "N new messages"', async () => {
    const sender = await tokenUser(server, 'burst');
    const reader = await subscribed('reader');
    const group = await createGroup(server, sender, [reader]);
    await post(sender, group, 'one');
    await waitPushes(reader.sub, 1);
    const first = pushesTo(reader.sub)[0]!;
    for (const text of ['two', 'three', 'four']) await post(sender, group, text);
    await waitPushes(reader.sub, 2);
    await pushesSettled(group);
    const all = pushesTo(reader.sub);
    expect(all).toHaveLength(2);
    expect(all[1]!.at - first.at).toBeGreaterThanOrEqual(900);
    expect(all[1]!.payload).toMatchObject({ body: '3 new messages', count: 3 });
  });

  it('410 removes the subscription; 500 and 429 are retried (Retry-After honoured) until accepted', async () => {
    const sender = await tokenUser(server, 'faults');
    const [gone, flaky] = await Promise.all([subscribed('gone'), subscribed('flaky')]);
    const group = await createGroup(server, sender, [gone, flaky]);
    let failures = 0;
    push.answer((sub) => {
      if (sub === gone.sub.id) return { status: 410 };
      if (sub === flaky.sub.id && failures < 3) return failures++ === 1 ? { status: 429, retryAfter: '1' } : { status: 500 };
      return { status: 201 };
    });
    try {
      await post(sender, group, 'through the storm');
      await waitPushes(flaky.sub, 1, 20_000);
      expect(push.refused.filter((r) => r.subscription === flaky.sub.id).map((r) => r.status)).toEqual([500, 429, 500]);
      await waitUntil(
        async () => (await server.app.storage.db.select().from(pushSubscriptions).where(eq(pushSubscriptions.id, gone.subId))).length === 0,
        5000,
        'the 410 subscription removed',
      );
      expect(pushesTo(gone.sub)).toHaveLength(0);
    } finally {
      push.answer();
    }
  }, 30_000);

  it('an announcement reaches offline members, and its stats count them; plain members may not read stats', async () => {
    const admin = await tokenUser(server, 'admin');
    const c = await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Org' } });
    const community = c.body.community;
    const invite = await server.http('POST', `/v1/communities/${community.id}/invites`, { token: admin.token, body: {} });
    const members = await Promise.all([subscribed('v1'), subscribed('v2'), subscribed('v3')]);
    for (const m of members)
      expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: m.token })).status).toBe(200);
    const online = await connect(server.wsUrl, members[2]!.token);
    const adminSocket = await connect(server.wsUrl, admin.token);
    sockets.push(online, adminSocket);
    const r = await server.http('POST', `/v1/communities/${community.id}/announcements`, {
      token: admin.token,
      body: { clientMsgId: 'a1', text: 'Shift change at 6' },
    });
    expect(r.status).toBe(201);
    await waitPushes(members[0]!.sub, 1);
    await waitPushes(members[1]!.sub, 1);
    expect(pushesTo(members[0]!.sub)[0]).toMatchObject({
      urgency: 'high',
      payload: { kind: 'announcement', community: community.id, title: 'Org', body: 'Shift change at 6' },
    });
    const statsPath = `/v1/groups/${community.announcementGroupId}/messages/${r.body.seq}/stats`;
    await waitUntil(async () => (await server.http('GET', statsPath, { token: admin.token })).body.notified === 2, 5000, 'notified 2');
    // 4 members: the admin (sender), 2 offline (pushed), 1 connected (delivered to its socket).
    expect((await server.http('GET', statsPath, { token: admin.token })).body).toMatchObject({
      members: 4,
      delivered: 1,
      notified: 2,
      read: 0,
    });
    expect((await server.http('GET', statsPath, { token: members[0]!.token })).status).toBe(403);
    const outsider = await tokenUser(server, 'statsout');
    expect((await server.http('GET', statsPath, { token: outsider.token })).status).toBe(404);
    expect(pushesTo(members[2]!.sub)).toHaveLength(0);
    // Read markers count as they pass it; the admin's socket hears of it in a stats frame.
    expect(await online.request({ type: 'read', group: community.announcementGroupId, seq: r.body.seq })).toMatchObject({ type: 'ack' });
    expect(await online.request({ type: 'read', group: community.announcementGroupId, seq: r.body.seq })).toMatchObject({ type: 'ack' });
    const frame = await adminSocket.next((f) => f.type === 'stats' && f.read === 1, 5000);
    expect(frame).toEqual({
      type: 'stats',
      group: community.announcementGroupId,
      seq: r.body.seq,
      members: 4,
      delivered: 1,
      notified: 2,
      read: 1,
    });
    expect((await server.http('GET', statsPath, { token: admin.token })).body).toMatchObject({ read: 1 });
    // Plain members get no stats frames: the admin's went out, and one to `online` would have gone with it
    // on that member's control topic, ahead of a read marker.
    await controlMarker(server.wsUrl, members[2]!, online, community.announcementGroupId);
    expect(online.frames.filter((f) => f.type === 'stats')).toEqual([]);
    // Counters of several messages that change within one interval reach the admin, each in its own frame.
    const more: number[] = [];
    for (const clientMsgId of ['a2', 'a3']) {
      const sent = await server.http('POST', `/v1/communities/${community.id}/announcements`, {
        token: admin.token,
        body: { clientMsgId, text: clientMsgId },
      });
      more.push(sent.body.seq as number);
    }
    // Both fanned out and their frames sent, so the read below changes both counters in one interval.
    for (const seq of more) {
      const path = `/v1/groups/${community.announcementGroupId}/messages/${seq}/stats`;
      await waitUntil(async () => (await server.http('GET', path, { token: admin.token })).body.notified === 2, 5000, `stats of ${seq}`);
    }
    // Kept, as it is about time: past the last stats frame's interval, so one frame may carry the read below.
    await sleep(1200);
    expect(await online.request({ type: 'read', group: community.announcementGroupId, seq: more[1] })).toMatchObject({ type: 'ack' });
    for (const seq of more) {
      expect(await adminSocket.next((f) => f.type === 'stats' && f.seq === seq && f.read === 1, 5000)).toMatchObject({ members: 4 });
    }
  });
});

// Issue 35 (8): a block hides the blocked user's messages from the blocker's lock screen
// (docs/protocol.md §8 "Notifications"), over the real push path.
describe.each(storageModes())('notifications and blocks (%s)', (mode) => {
  let server: TestServer;
  let push: LocalPushService;
  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;
  let n = 0;
  const post = async (user: TestUser, group: string, text: string, mentions?: string[]) => {
    const r = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: user.token,
      body: { clientMsgId: `b${n++}`, text, ...(mentions ? { mentions } : {}) },
    });
    expect(r.status).toBe(201);
    return r.body.seq as number;
  };
  const subscribed = async (label: string): Promise<TestUser & { sub: Subscriber }> => {
    const user = await tokenUser(server, label);
    const sub = push.subscribe();
    const r = await server.http('POST', '/v1/push/subscriptions', { token: user.token, body: { endpoint: sub.endpoint, keys: sub.keys } });
    expect(r.status).toBe(201);
    return { ...user, sub };
  };
  const pushesTo = (s: Subscriber) => push.deliveredTo(s.id);
  const block = async (by: TestUser, whom: TestUser) =>
    expect((await server.http('PUT', `/v1/blocks/${whom.id}`, { token: by.token })).status).toBe(204);

  beforeAll(async () => {
    push = await LocalPushService.start();
    if (mode === 'postgres') database = await ownDatabase('notifyblocks');
    server = await startServer({
      mode,
      // A long coalescing window: a push owed within it waits, so a block can meet it unsent.
      env: { ...(database ? { DATABASE_URL: database.url } : {}), WEBHOOK_ALLOW_PRIVATE: 'on', PUSH_COALESCE_MS: '4000' },
    });
    push.expectVapidKey((await server.http('GET', '/v1/push/vapid-key')).body.publicKey);
  });
  afterAll(async () => {
    await server?.stop();
    await push?.stop();
    await database?.drop();
  });

  it("a blocked user's @mention and messages push nothing to the blocker; a friend's next message does", async () => {
    const blocker = await subscribed('blocker');
    const blocked = await subscribed('pest');
    const friend = await tokenUser(server, 'friend');
    const group = await createGroup(server, friend, [blocker, blocked], 'Street');
    await block(blocker, blocked);
    await post(blocked, group, 'hey @blocker, look at me', [blocker.id]);
    await post(blocked, group, 'and again');
    // The blocked user's own pushes still flow: the block is the blocker's.
    const seq = await post(friend, group, 'from a friend');
    await waitUntil(() => pushesTo(blocker.sub).some((p) => p.payload.seq === seq), 10_000, "the friend's push");
    await waitUntil(() => pushesTo(blocked.sub).length >= 1, 10_000, 'the blocked user gets the friend’s push');
    // The friend's message came after the blocked user's two: had either been owed, it would have
    // gone first or been counted into this one.
    expect(pushesTo(blocker.sub).map((p) => p.payload)).toEqual([
      expect.objectContaining({ seq, kind: 'message', sender: expect.objectContaining({ id: friend.id }), body: 'friend: from a friend' }),
    ]);
    expect(pushesTo(blocker.sub)[0]!.payload).not.toHaveProperty('count');
  });

  it('a push waiting out its coalescing window with the blocked user’s text is dropped by the block', async () => {
    const blocker = await subscribed('blocker2');
    const blocked = await tokenUser(server, 'pest2');
    const friend = await tokenUser(server, 'friend2');
    const group = await createGroup(server, friend, [blocker, blocked], 'Lane');
    const first = await post(friend, group, 'one');
    await waitUntil(() => pushesTo(blocker.sub).some((p) => p.payload.seq === first), 10_000, 'the first push');
    // Within the window: owed, not yet sent.
    await post(blocked, group, 'my secret text');
    await waitUntil(
      async () =>
        (
          await server.app.storage.db
            .select()
            .from(pushQueue)
            .where(and(eq(pushQueue.userId, blocker.id), eq(pushQueue.groupId, group)))
        ).some((row) => row.count > 0),
      10_000,
      "the blocked user's push owed",
    );
    await block(blocker, blocked);
    const after = await post(friend, group, 'after the block');
    await waitUntil(() => pushesTo(blocker.sub).some((p) => p.payload.seq === after), 15_000, 'the push after the block');
    const pushes = pushesTo(blocker.sub).map((p) => p.payload);
    expect(pushes).toHaveLength(2);
    expect(pushes[1]).toMatchObject({ seq: after, body: 'friend2: after the block' });
    expect(pushes[1]).not.toHaveProperty('count');
    expect(JSON.stringify(pushes)).not.toContain('secret');
  }, 30_000);
});

describe.each(storageModes())('webhooks (%s)', (mode) => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    if (mode === 'postgres') database = await ownDatabase('hooks');
    server = await startServer({
      mode,
      env: { ...(database ? { DATABASE_URL: database.url } : {}), WEBHOOK_ALLOW_PRIVATE: 'on', WEBHOOK_RETRY_S: '4' },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await database?.drop();
  });

  async function community() {
    const admin = await tokenUser(server, 'hookadmin');
    const c = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Org' } })).body.community;
    const code = (await server.http('POST', `/v1/communities/${c.id}/invites`, { token: admin.token, body: {} })).body.code;
    const member = await tokenUser(server, 'hookmember');
    await server.http('POST', `/v1/invites/${code}/join`, { token: member.token });
    return { admin, member, id: c.id as string };
  }

  it('community admins create, list, get and delete webhooks; members get 403, outsiders 404; secret is whsec_', async () => {
    const { admin, member, id } = await community();
    const body = { url: `${receiver.url}/crud`, events: ['announcement'] };
    expect((await server.http('POST', `/v1/communities/${id}/webhooks`, { token: member.token, body })).status).toBe(403);
    const outsider = await tokenUser(server, 'hookout');
    expect((await server.http('POST', `/v1/communities/${id}/webhooks`, { token: outsider.token, body })).status).toBe(404);
    expect(
      (await server.http('POST', `/v1/communities/${id}/webhooks`, { token: admin.token, body: { ...body, events: ['everything'] } }))
        .status,
    ).toBe(400);
    const created = await server.http('POST', `/v1/communities/${id}/webhooks`, { token: admin.token, body });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const got = await server.http('GET', `/v1/communities/${id}/webhooks/${created.body.id}`, { token: admin.token });
    expect(got.body.webhook).toMatchObject({ id: created.body.id, url: body.url, events: ['announcement'] });
    expect(got.body.webhook.secret).toBeUndefined();
    expect((await server.http('GET', `/v1/communities/${id}/webhooks/${created.body.id}`, { token: member.token })).status).toBe(403);
    expect((await server.http('DELETE', `/v1/communities/${id}/webhooks/${created.body.id}`, { token: admin.token })).status).toBe(204);
    expect((await server.http('GET', `/v1/communities/${id}/webhooks/${created.body.id}`, { token: admin.token })).status).toBe(404);
  });

  it('member, join_request and report events are delivered signed to the webhooks subscribed to them', async () => {
    const { admin, member, id } = await community();
    const r = await server.http('POST', `/v1/communities/${id}/webhooks`, {
      token: admin.token,
      body: { url: `${receiver.url}/community`, events: ['member', 'join_request', 'report'] },
    });
    expect(r.status).toBe(201);
    receiver.expect('/community', r.body.secret);
    // A newcomer joins by invite: `member`.
    const code = (await server.http('POST', `/v1/communities/${id}/invites`, { token: admin.token, body: {} })).body.code;
    const newcomer = await tokenUser(server, 'hooknew');
    expect((await server.http('POST', `/v1/invites/${code}/join`, { token: newcomer.token })).status).toBeLessThan(300);
    // With approval on, a join is a request: `join_request`.
    expect(
      (await server.http('PATCH', `/v1/communities/${id}`, { token: admin.token, body: { settings: { approvalRequired: true } } })).status,
    ).toBeLessThan(300);
    const asker = await tokenUser(server, 'hookask');
    expect((await server.http('POST', `/v1/invites/${code}/join`, { token: asker.token })).status).toBe(202);
    // A member reports a message of a community group: `report`.
    const group = (
      await server.http('POST', `/v1/communities/${id}/groups`, { token: admin.token, body: { name: 'Open', settings: { open: true } } })
    ).body.group.id;
    for (const who of [member, newcomer])
      expect((await server.http('POST', `/v1/communities/${id}/groups/${group}/join`, { token: who.token })).status).toBeLessThan(300);
    const sent = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: newcomer.token,
      body: { clientMsgId: 'rep', text: 'spam!' },
    });
    expect(
      (await server.http('POST', `/v1/groups/${group}/messages/${sent.body.seq}/report`, { token: member.token, body: { reason: 'spam' } }))
        .status,
    ).toBe(202);

    const types = () => receiver.at('/community').map((d) => d.body.type);
    await waitUntil(() => ['member', 'join_request', 'report'].every((t) => types().includes(t)), 8000, 'the three community events');
    for (const d of receiver.at('/community')) expect(d.verified).toBe(true);
    const byType = (t: string) => receiver.at('/community').find((d) => d.body.type === t)!.body.data;
    const members = receiver.at('/community').filter((d) => d.body.type === 'member');
    expect(members.map((d) => d.body.data)).toContainEqual(
      expect.objectContaining({ community: id, user: expect.objectContaining({ id: newcomer.id }), action: expect.any(String) }),
    );
    expect(byType('join_request')).toMatchObject({ community: id, user: { id: asker.id } });
    expect(byType('report')).toMatchObject({ community: id, group, report: { reason: 'spam', snapshot: { text: 'spam!' } } });
  });

  it('announcements, messages and mentions are delivered signed; 5xx retried until accepted; redirects not followed, then failed', async () => {
    const { admin, member, id } = await community();
    const hook = async (path: string, events: string[]) => {
      const r = await server.http('POST', `/v1/communities/${id}/webhooks`, {
        token: admin.token,
        body: { url: receiver.url + path, events },
      });
      expect(r.status).toBe(201);
      receiver.expect(path, r.body.secret);
      return r.body.id as string;
    };
    let failures = 0;
    receiver.answer('/flaky', () => (failures++ < 2 ? { status: 503 } : { status: 204 }));
    receiver.answer('/moved', () => ({ status: 302, headers: { location: `${receiver.url}/elsewhere` } }));
    const all = await hook('/all', ['announcement', 'message', 'mention']);
    const flaky = await hook('/flaky', ['announcement']);
    const moved = await hook('/moved', ['announcement']);
    const a = await server.http('POST', `/v1/communities/${id}/announcements`, {
      token: admin.token,
      body: { clientMsgId: 'h1', text: 'Hello all' },
    });
    const group = (await server.http('POST', `/v1/communities/${id}/groups`, { token: admin.token, body: { name: 'Drivers' } })).body.group
      .id;
    await server.http('POST', `/v1/groups/${group}/messages`, { token: admin.token, body: { clientMsgId: 'h2', text: 'routine' } });
    await waitUntil(() => receiver.at('/all').length >= 2, 8000, 'two deliveries to /all');
    const [first, second] = receiver.at('/all');
    expect(first).toMatchObject({
      verified: true,
      body: { type: 'announcement', data: { community: id, seq: a.body.seq, text: 'Hello all' } },
    });
    expect(second).toMatchObject({ verified: true, body: { type: 'message', data: { group, text: 'routine' } } });
    await waitUntil(() => receiver.at('/flaky').length >= 3, 15_000, 'the flaky hook answered 2xx');
    const flakyIds = receiver.at('/flaky').map((r) => r.id);
    expect(new Set(flakyIds).size, 'one webhook-id across retries').toBe(1);
    const log = async (hookId: string) =>
      (await server.http('GET', `/v1/communities/${id}/webhooks/${hookId}/deliveries`, { token: admin.token })).body.deliveries;
    await waitUntil(async () => (await log(flaky))[0]?.status === 'delivered', 5000, 'flaky delivered');
    expect((await log(flaky))[0]).toMatchObject({ event: 'announcement', status: 'delivered', attempts: 3, lastStatus: 204 });
    // A redirect is an answer that is not 2xx: never followed, retried, failed after WEBHOOK_RETRY_S.
    await waitUntil(async () => (await log(moved))[0]?.status === 'failed', 15_000, 'moved failed');
    expect((await log(moved))[0]).toMatchObject({ status: 'failed', lastStatus: 302 });
    expect(receiver.at('/elsewhere')).toHaveLength(0);
    expect((await log(all)).map((d: { event: string }) => d.event).sort()).toEqual(['announcement', 'message']);
    expect((await server.http('GET', `/v1/communities/${id}/webhooks/${all}/deliveries`, { token: member.token })).status).toBe(403);
    // Another community's admin cannot reach this webhook through their own community.
    const other = await community();
    for (const [method, suffix] of [
      ['GET', ''],
      ['GET', '/deliveries'],
      ['DELETE', ''],
    ] as const) {
      const r = await server.http(method, `/v1/communities/${other.id}/webhooks/${all}${suffix}`, { token: other.admin.token });
      expect(r.status, `${method} ${suffix}`).toBe(404);
    }
  }, 40_000);
});

describe('notification targets on private addresses', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_ALLOW_PRIVATE: 'off' } });
  });
  afterAll(async () => server?.stop());

  it('refuses push endpoints on loopback, private, link-local addresses and plain http unless WEBHOOK_ALLOW_PRIVATE=on', async () => {
    const user = await tokenUser(server, 'ssrf');
    const keys = { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') };
    for (const endpoint of [
      'https://127.0.0.1/push',
      'https://localhost:8443/push',
      'https://10.1.2.3/push',
      'https://[::1]/push',
      'https://[::ffff:127.0.0.1]/push',
      'https://169.254.169.254/latest',
      'http://push.example.com/x',
    ]) {
      const r = await server.http('POST', '/v1/push/subscriptions', { token: user.token, body: { endpoint, keys } });
      expect(r.status, endpoint).toBe(400);
    }
    expect(
      (await server.http('POST', '/v1/push/subscriptions', { token: user.token, body: { endpoint: 'https://push.example.com/x', keys } }))
        .status,
    ).toBe(201);
  });
});
