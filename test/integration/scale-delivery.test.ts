import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/platform/db/connect.js';
import { appendEvents, messageDraft } from '../../src/features/messages/queries.js';
import { expectAckedOnce, fullLog, LogClient } from '../helpers/log-client.js';
import { killAll, noScaleServers, scaleEnv, replicaSockets, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import type { TestUser } from '../helpers/server.js';
import { controlMarker, groupMarker, isMarker, ownGroup } from '../helpers/markers.js';
import { connect } from '../helpers/ws-client.js';

// Three gateway processes over the machine's PostgreSQL and Redis: delivery, order and control
// messages across replicas.

/** How long these replicas keep following a group after its last socket leaves. */
const LINGER_MS = 1000;

describe.skipIf(noScaleServers)('three replicas over Redis and PostgreSQL', () => {
  let set: ReplicaSet;
  const { sockets, on } = replicaSockets(() => set);
  const clients: LogClient[] = [];

  beforeAll(async () => {
    set = await startReplicas(3, { env: { FEED_LINGER_MS: String(LINGER_MS) } });
  });
  afterAll(async () => {
    await Promise.all([...sockets.map((s) => s.close()), ...clients.map((c) => c.close())]);
    await set?.stop();
    await killAll();
  });

  const r = (i: number) => set.replicas[i]!;
  const newGroup = async (owner: TestUser, members: TestUser[], via = 0) => {
    const res = await r(via).http('POST', '/v1/groups', { token: owner.token, body: { name: 'scale', members: members.map((m) => m.id) } });
    expect(res.status).toBe(201);
    return res.body.group.id as string;
  };

  it('delivers a send on one replica to members on the others; typing crosses replicas too', async () => {
    const [a, b, c] = await Promise.all([set.user(), set.user(), set.user()]);
    const group = await newGroup(a!, [b!, c!]);
    const [sa, sb, sc] = await Promise.all([on(0, a!), on(1, b!), on(2, c!)]);
    const ack = await sb.request({ type: 'send', group, clientMsgId: 'x1', text: 'across' });
    expect(ack.type).toBe('ack');
    for (const s of [sa, sb, sc]) {
      const event = await s.next((f) => f.type === 'event' && f.group === group && f.seq === ack.seq);
      expect(event).toMatchObject({ kind: 'message', sender: b!.id, clientMsgId: 'x1', text: 'across' });
    }
    sc.send({ type: 'typing', id: 't', group });
    for (const s of [sa, sb]) expect(await s.next((f) => f.type === 'typing')).toStrictEqual({ type: 'typing', group, user: c!.id });
    // The typer's own socket gets no echo. The others had theirs, so Redis took the typing before
    // this message: replica 2 hears them in that order on the group's topic.
    await groupMarker(r(1), b!, group, [sc]);
    expect(sc.frames.filter((f) => f.type === 'typing')).toStrictEqual([]);
  });

  it('keeps every group ordered and complete with concurrent senders on all replicas', async () => {
    const users = await Promise.all(Array.from({ length: 9 }, () => set.user()));
    const [owner, ...rest] = users as [TestUser, ...TestUser[]];
    const main = await newGroup(owner, rest);
    const side = await newGroup(owner, rest.slice(0, 5), 1);
    const all = users.map((u, i) => new LogClient(`u${i}`, u.token, () => set.replicas));
    clients.push(...all);
    await Promise.all(all.map((c, i) => c.connect(r(i % 3))));

    const perSender = 500;
    const window = 20;
    const senders = all.slice(0, 6);
    const started = Date.now();
    await Promise.all(
      senders.map(async (client, s) => {
        const groups = [main, main, main, side];
        let next = 0;
        await Promise.all(
          Array.from({ length: window }, async () => {
            while (next < perSender) {
              const n = next++;
              const group = s < 5 ? groups[n % groups.length]! : main;
              await client.send(group, `s${s}-${n}`, `m ${s} ${n}`);
            }
          }),
        );
      }),
    );
    const sendMs = Date.now() - started;

    const logs = { [main]: await fullLog(r(0), owner.token, main), [side]: await fullLog(r(2), owner.token, side) };
    const acked = senders.reduce((n, c) => n + c.acked.size, 0);
    expect(acked).toBe(6 * perSender);
    expect(logs[main]!.length + logs[side]!.length).toBeGreaterThanOrEqual(acked);
    for (const group of [main, side]) {
      expectAckedOnce(
        logs[group]!,
        senders.map((client, i) => ({ id: users[i]!.id, client })),
      );
      const last = logs[group]!.at(-1)!.seq as number;
      const members = group === main ? all : all.slice(0, 6);
      await Promise.all(members.map((c) => c.waitForSeq(group, last)));
      for (const c of members) c.expectComplete(group, logs[group]!);
    }
    // Nobody had to reconnect or sync: every live stream alone was gapless and in order.
    expect(all.map((c) => c.reconnects)).toStrictEqual(all.map(() => 0));
    console.log(`ordering: ${acked} messages from 6 senders on 3 replicas acked in ${sendMs} ms, 9 receivers checked`);
  }, 120_000);

  it('revokes a session on every replica with 4403; another session of the user stays', async () => {
    const user = await set.signUp(0);
    const signIn = await r(1).http('POST', '/v1/sessions', { body: { username: user.name, password: 'password-123' } });
    expect(signIn.status).toBe(200);
    const revoked = await Promise.all([on(0, user), on(1, user), on(2, user)]);
    const other = await on(2, { ...user, token: signIn.body.token });
    expect((await r(2).http('DELETE', '/v1/sessions/current', { token: user.token })).status).toBe(204);
    const closes = await Promise.all(
      revoked.map((s) => Promise.race([s.closed, new Promise((res) => setTimeout(() => res('open'), 5000))])),
    );
    expect(closes.map((c) => (c as { code: number }).code)).toStrictEqual([4403, 4403, 4403]);
    expect((await other.request({ type: 'ping' })).type).toBe('pong');
    // The revoked token no longer opens a socket anywhere.
    for (const i of [0, 1, 2]) await expect(connect(r(i).wsUrl, user.token)).rejects.toThrow(/401/);
  });

  it('a replica subscribes on Redis to a group only while one of its sockets is in it, and FEED_LINGER_MS after', async () => {
    const [a, b] = await Promise.all([set.user(), set.user()]);
    const group = await newGroup(a, [b]);
    const redis = new Redis(scaleEnv.redisUrl!);
    const subscribers = async () => Number(((await redis.pubsub('NUMSUB', `banyan:g:${group}`)) as [string, number])[1]);
    try {
      expect(await subscribers()).toBe(0);
      const sa = await on(0, a);
      const sa2 = await on(0, a);
      const sb = await on(1, b);
      // One subscription per replica, however many of its sockets follow the group.
      expect(await subscribers()).toBe(2);
      await sa.close();
      expect(await subscribers()).toBe(2);
      await sa2.close();
      // Its last socket gone, the replica still follows the group for LINGER_MS (a socket back soon finds it current).
      // Kept: about time, the feed lingers after its last socket.
      await new Promise((r) => setTimeout(r, LINGER_MS / 5));
      expect(await subscribers()).toBe(2);
      // A message while no socket there follows the group; a socket back on that replica starts on
      // the lingering feed: `ready` says where the log is, and the stream goes on right after it.
      const during = (await sb.request({ type: 'send', group, clientMsgId: 'during', text: 'during' })).seq as number;
      const back = await on(0, a);
      expect(back.frames[0]!.groups.find((g: { id: string }) => g.id === group).lastSeq).toBe(during);
      const after = (await sb.request({ type: 'send', group, clientMsgId: 'after', text: 'after' })).seq as number;
      await back.next((f) => f.type === 'event' && f.group === group && f.seq === after);
      expect(back.frames.filter((f) => f.type === 'event' && f.group === group).map((f) => f.seq)).toEqual([after]);
      await back.close();
      await waitUntil(async () => (await subscribers()) === 1, LINGER_MS + 3000, 'replica 0 to unsubscribe');
      await sb.close();
      await waitUntil(async () => (await subscribers()) === 0, LINGER_MS + 3000, 'replica 1 to unsubscribe');
    } finally {
      redis.disconnect();
    }
  });

  it('a resend of a message stored by a replica that died before publishing it reaches everyone', async () => {
    const [a, b] = await Promise.all([set.user(), set.user()]);
    const group = await newGroup(a, [b]);
    const [sa, sb] = await Promise.all([on(0, a), on(2, b)]);
    // What a replica killed between commit and publish leaves behind: stored, never announced.
    const storage = await openStorage({ databaseUrl: scaleEnv.databaseUrl, dataDir: '', poolSize: 1 });
    const [row] = await storage.db.transaction((tx) =>
      appendEvents(tx, group, [messageDraft(a.id, { clientMsgId: 'orphan', text: 'stored only' })]),
    );
    await storage.close();
    // The sender never got an ack, so it resends (to another replica): same seq, and now delivered.
    const ack = await sa.request({ type: 'send', group, clientMsgId: 'orphan', text: 'stored only' });
    expect(ack).toMatchObject({ type: 'ack', seq: row!.seq });
    for (const s of [sa, sb])
      expect(await s.next((f) => f.type === 'event' && f.seq === row!.seq, 3000)).toMatchObject({
        clientMsgId: 'orphan',
        text: 'stored only',
      });
  });

  it("moves a read marker on the user's sockets on other replicas", async () => {
    const [owner, reader] = await Promise.all([set.user(), set.user()]);
    const group = await newGroup(owner, [reader]);
    const [s0, s1, s2] = await Promise.all([on(0, reader), on(1, reader), on(2, reader)]);
    const so = await on(1, owner);
    const ack = await so.request({ type: 'send', group, clientMsgId: 'to-read', text: 'read me' });
    await s0.next((f) => f.type === 'event' && f.seq === ack.seq);
    expect(await s0.request({ type: 'read', group, seq: ack.seq })).toMatchObject({ type: 'ack', seq: ack.seq });
    for (const s of [s1, s2]) expect(await s.next((f) => f.type === 'read')).toStrictEqual({ type: 'read', group, seq: ack.seq });
    expect(s0.frames.filter((f) => f.type === 'read')).toStrictEqual([]);
  });

  it('adds and removes a member whose socket is on another replica than the admin request', async () => {
    const [admin, joiner] = await Promise.all([set.user(), set.user()]);
    const group = await newGroup(admin, []);
    const sa = await on(0, admin);
    const sj = await on(1, joiner);
    expect((await r(2).http('POST', `/v1/groups/${group}/members`, { token: admin.token, body: { userId: joiner.id } })).status).toBe(201);
    const added = await sj.next((f) => f.type === 'group_added');
    expect(added.group).toMatchObject({ id: group, role: 'member' });
    const ack = await sa.request({ type: 'send', group, clientMsgId: 'after-add', text: 'welcome' });
    expect((await sj.next((f) => f.type === 'event' && f.seq === ack.seq)).text).toBe('welcome');
    expect(ack.seq).toBe(added.group.lastSeq + 1);

    expect((await r(2).http('DELETE', `/v1/groups/${group}/members/${joiner.id}`, { token: admin.token })).status).toBe(204);
    const removal = await sj.next((f) => f.type === 'event' && f.kind === 'member' && f.action === 'removed');
    expect(removal).toMatchObject({ group, member: joiner.id, seq: ack.seq + 1 });
    await sj.next((f) => f.type === 'group_removed' && f.group === group);
    const after = await sa.request({ type: 'send', group, clientMsgId: 'after-remove', text: 'private' });
    await sa.next((f) => f.type === 'event' && f.seq === after.seq);
    // Redis took that event before the marker's read (on the joiner's control topic): replica 1's
    // one subscriber connection hears them in that order.
    const own = await ownGroup(r(1), joiner);
    await controlMarker(r(1).wsUrl, joiner, sj, own);
    expect(sj.events(group).map((e) => e.seq)).toStrictEqual([ack.seq, ack.seq + 1]);
    expect(sj.frames.filter((f) => f.type === 'event' && f.group !== group && !isMarker(f, own))).toStrictEqual([]);
  });
});
