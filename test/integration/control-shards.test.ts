import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBusMessage } from '../../src/bus/redis-bus.js';
import { CONTROL_SHARDS, controlTopic } from '../../src/delivery/topics.js';
import { killAll, noScaleServers, PrivateRedis, scaleEnv, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import { uniqueName, type TestUser } from '../helpers/server.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// Control messages (read markers, group_added…) go to one of CONTROL_SHARDS Redis topics by a hash
// of the user id (delivery/topics.ts): they still reach every socket of their user on any replica,
// never another user's socket of the same shard, and a shard left by its last user there is
// subscribed again by the next. On a Redis of the test's own, so NUMSUB counts only these replicas.

const MANY = 300;

describe.skipIf(noScaleServers)('control messages on shard topics across replicas', () => {
  let redis: PrivateRedis;
  let set: ReplicaSet;
  let listener: Redis;
  const open: TestSocket[] = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    set = await startReplicas(2, { redisUrl: redis.url });
    listener = new Redis(redis.url);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    listener?.disconnect();
    await set?.stop();
    await redis?.stop();
    await killAll();
  });

  const r = (i: number) => set.replicas[i]!;
  const on = async (i: number, user: TestUser) => {
    const socket = await connect(r(i).wsUrl, user.token);
    open.push(socket);
    return socket;
  };
  /** Subscribers of each shard topic, as Redis counts them (the bus prefixes topics with `banyan:`). */
  const subscribers = async (topics: string[]): Promise<number[]> => {
    const answer = (await listener.call('PUBSUB', 'NUMSUB', ...topics.map((t) => `banyan:${t}`))) as (string | number)[];
    return topics.map((_, i) => Number(answer[i * 2 + 1]));
  };
  /** A known user whose id falls in `shard` (any shard when not given). */
  const userIn = async (shard?: string): Promise<TestUser> => {
    let id = uniqueName('c');
    while (shard !== undefined && controlTopic(id) !== shard) id = uniqueName('c');
    const user = { id, name: id, token: await set.token(id) };
    expect((await r(0).http('GET', '/v1/me', { token: user.token })).status).toBe(200);
    return user;
  };
  const newGroup = async (via: number, owner: TestUser, members: TestUser[] = []) => {
    const g = await r(via).http('POST', '/v1/groups', { token: owner.token, body: { name: 'G', members: members.map((m) => m.id) } });
    expect(g.status).toBe(201);
    return g.body.group.id as string;
  };
  const reads = (s: TestSocket) => s.frames.filter((f) => f.type === 'read').map((f) => ({ group: f.group, seq: f.seq }));
  const sent = async (s: TestSocket, group: string) => {
    const ack = await s.request({ type: 'send', group, clientMsgId: uniqueName('m'), text: 'hello' });
    expect(ack).toMatchObject({ type: 'ack', seq: expect.any(Number) });
    return ack.seq as number;
  };
  const read = async (s: TestSocket, group: string, seq: number) =>
    expect(await s.request({ type: 'read', group, seq })).toMatchObject({ type: 'ack', seq });

  it("a read marker reaches the user's socket on the other replica, not the mover, nor another user of the shard", async () => {
    const asha = await userIn();
    const bela = await userIn(controlTopic(asha.id));
    const [ga, gb] = [await newGroup(0, asha), await newGroup(0, bela)];
    const [a0, a1, b0, b1] = [await on(0, asha), await on(1, asha), await on(0, bela), await on(1, bela)];
    const a = [await sent(a0, ga), await sent(a0, ga)];
    const b = [await sent(b0, gb), await sent(b0, gb)];

    await read(a0, ga, a[0]!);
    await a1.next((f) => f.type === 'read' && f.group === ga);
    // Bela's markers follow Asha's on the same shard topic: once Bela's sockets have them, Asha's
    // would have come before.
    await read(b0, gb, b[0]!);
    await b1.next((f) => f.type === 'read' && f.group === gb);
    await read(b1, gb, b[1]!);
    await b0.next((f) => f.type === 'read' && f.group === gb);
    await read(a1, ga, a[1]!);
    await a0.next((f) => f.type === 'read' && f.group === ga);

    expect(reads(a0)).toEqual([{ group: ga, seq: a[1] }]);
    expect(reads(a1)).toEqual([{ group: ga, seq: a[0] }]);
    expect(reads(b0)).toEqual([{ group: gb, seq: b[1] }]);
    expect(reads(b1)).toEqual([{ group: gb, seq: b[0] }]);
  });

  it('a group_added made over HTTP on one replica reaches the added user on the other', async () => {
    const [owner, asha] = [await userIn(), await userIn()];
    const a0 = await on(0, asha);
    const g = await newGroup(1, owner);
    expect((await r(1).http('POST', `/v1/groups/${g}/members`, { token: owner.token, body: { userId: asha.id } })).status).toBe(201);
    expect(await a0.next((f) => f.type === 'group_added' && f.group.id === g)).toMatchObject({ group: { id: g, name: 'G' } });
  });

  it(`${MANY} users on every shard each get their own control messages and never another's`, { timeout: 120_000 }, async () => {
    // Ids that cover every shard, so each of them is followed on replica 1.
    const ids: string[] = [];
    const covered = new Set<string>();
    while (covered.size < CONTROL_SHARDS) {
      const id = uniqueName('m');
      if (covered.has(controlTopic(id))) continue;
      covered.add(controlTopic(id));
      ids.push(id);
    }
    while (ids.length < MANY) ids.push(uniqueName('m'));
    const topics = [...covered];
    // The earlier tests' sockets gone: no shard followed anywhere.
    await Promise.all(open.splice(0).map((s) => s.close()));
    await waitUntil(async () => (await subscribers(topics)).every((n) => n === 0), 10_000, 'no shard followed');
    const users = await inBatches(ids, async (id) => ({ id, name: id, token: await set.token(id) }));
    const sockets = await inBatches(users, (u) => connect(r(1).wsUrl, u.token));
    expect(await subscribers(topics)).toEqual(topics.map(() => 1));

    // One group each, made on replica 0: each socket gets exactly its own group_added.
    const owner = await userIn();
    const groups = await inBatches(users, (u) => newGroup(0, owner, [u]));
    await inBatches(sockets, (s, i) => s.next((f) => f.type === 'group_added' && f.group.id === groups[i]));
    for (const [i, s] of sockets.entries()) {
      expect(s.frames.filter((f: Frame) => f.type === 'group_added').map((f) => f.group.id)).toEqual([groups[i]]);
    }
    await Promise.all(sockets.map((s) => s.close()));
    // The last user of each shard gone, replica 1 follows no shard any more.
    await waitUntil(async () => (await subscribers(topics)).every((n) => n === 0), 10_000, 'every shard unsubscribed');
  });

  it('a shard whose users all left a replica is subscribed again by the next session of one of its users', async () => {
    // No socket is open (the test before closed them all): any shard is followed by nobody.
    const shard = controlTopic(uniqueName('s'));
    const [owner, asha] = [await userIn(), await userIn(shard)];
    expect(await subscribers([shard])).toEqual([0]);

    const first = await on(0, asha);
    // The session starts once its shard's SUBSCRIBE is confirmed.
    expect(await subscribers([shard])).toEqual([1]);
    await first.close();
    await waitUntil(async () => (await subscribers([shard]))[0] === 0, 10_000, 'the shard unsubscribed');

    const again = await on(0, asha);
    expect(await subscribers([shard])).toEqual([1]);
    const g = await newGroup(1, owner, [asha]);
    await again.next((f) => f.type === 'group_added' && f.group.id === g);
  });

  it('a revocation heard only on the revoked topic (no revoke control message) still closes the session with 4403', async () => {
    // As a replica of the build before control shards publishes it during a rolling deploy: its
    // `revoke` goes to `u:<id>`, which this build does not follow; the `revoked` topic is shared.
    const username = uniqueName('rv');
    const signUp = await r(0).http('POST', '/v1/accounts', { body: { username, password: 'password-123' } });
    expect(signUp.status).toBe(201);
    const { token, user } = signUp.body as { token: string; user: { id: string } };
    const [onZero, onOne] = [await on(0, { id: user.id, name: username, token }), await on(1, { id: user.id, name: username, token })];
    const sql = postgres(scaleEnv.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      await sql`update sessions set revoked_at = now() where user_id = ${user.id}`;
    } finally {
      await sql.end();
    }
    await listener.publish('banyan:revoked', encodeBusMessage({ topic: 'revoked', data: user.id }));
    for (const socket of [onZero, onOne]) expect((await socket.closed).code).toBe(4403);
  });
});

/** Maps `items` through `fn`, 25 at a time (sockets and requests of a test, not a flood). */
async function inBatches<T, R>(items: T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 25) out.push(...(await Promise.all(items.slice(i, i + 25).map((item, j) => fn(item, i + j)))));
  return out;
}
