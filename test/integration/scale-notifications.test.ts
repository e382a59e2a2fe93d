import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDatabase } from '../helpers/own-database.js';
import { LocalPushService, type Subscriber } from '../helpers/push-service.js';
import { killAll, noScaleServers, scaleEnv, sleep, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import type { TestUser } from '../helpers/server.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// Notifications across replicas (PostgreSQL + Redis): who is connected is known on every
// replica, and the pushes an announcement owes survive kill -9 of the replica sending them.

const LEASE_MS = 2000;
const PRESENCE_TTL_MS = 3000;

describe.skipIf(noScaleServers)('notifications across replicas', () => {
  let set: ReplicaSet;
  let push: LocalPushService;
  const sockets: TestSocket[] = [];

  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;

  beforeAll(async () => {
    push = await LocalPushService.start();
    database = await ownDatabase('notifyscale');
    set = await startReplicas(2, {
      databaseUrl: database.url,
      env: {
        WEBHOOK_ALLOW_PRIVATE: 'on',
        NOTIFY_LEASE_MS: String(LEASE_MS),
        PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
        PUSH_COALESCE_MS: '500',
        PUSH_TIMEOUT_MS: '5000',
      },
    });
    push.expectVapidKey((await set.replicas[0]!.http('GET', '/v1/push/vapid-key')).body.publicKey);
    // Both replicas sign with the same key (stored once in the database).
    expect((await set.replicas[1]!.http('GET', '/v1/push/vapid-key')).body.publicKey).toBe(push.vapidPublicKey);
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await set?.stop();
    await push?.stop();
    await killAll();
    await database?.drop();
  });

  /** A community whose admin posts announcements, with `count` members each subscribed once. */
  async function community(count: number, on = 0) {
    const r = set.replicas[on]!;
    const admin = await set.user();
    const c = (await r.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Relief' } })).body.community;
    const code = (await r.http('POST', `/v1/communities/${c.id}/invites`, { token: admin.token, body: {} })).body.code;
    const members: (TestUser & { sub: Subscriber })[] = [];
    for (let i = 0; i < count; i += 25) {
      members.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(25, count - i) }, async () => {
            const user = await set.user();
            const sub = push.subscribe();
            const s = await r.http('POST', '/v1/push/subscriptions', {
              token: user.token,
              body: { endpoint: sub.endpoint, keys: sub.keys },
            });
            if (s.status !== 201) throw new Error(`subscribe: ${s.status}`);
            const j = await r.http('POST', `/v1/invites/${code}/join`, { token: user.token });
            if (j.status !== 200) throw new Error(`join: ${j.status}`);
            return { ...user, sub };
          }),
        )),
      );
    }
    let n = 0;
    const announce = async (text: string, via = on) => {
      const a = await set.replicas[via]!.http('POST', `/v1/communities/${c.id}/announcements`, {
        token: admin.token,
        body: { clientMsgId: `a${n++}-${Date.now()}`, text },
      });
      if (a.status !== 201) throw new Error(`announce: ${a.status} ${JSON.stringify(a.body)}`);
      return a.body.seq as number;
    };
    return { id: c.id as string, groupId: c.announcementGroupId as string, admin, members, announce };
  }

  /** Pushes owed in the group and not sent yet (a sent one keeps its row at count 0). */
  const unsentPushes = async (groupId: string): Promise<number> => {
    const sql = postgres(database!.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ unsent: number }[]>`select count(*) as unsent from push_queue where group_id = ${groupId} and count > 0`;
      return Number(row?.unsent);
    } finally {
      await sql.end();
    }
  };
  const countFor = (subs: Subscriber[], seq: number, groupId: string) =>
    subs.map((s) => push.deliveredTo(s.id).filter((d) => d.payload.group === groupId && d.payload.seq === seq).length);

  it('a member connected to another replica is not pushed; once that replica dies they are, within PRESENCE_TTL_MS', async () => {
    const c = await community(3);
    const [online, offline] = c.members as [TestUser & { sub: Subscriber }, TestUser & { sub: Subscriber }];
    sockets.push(await connect(set.replicas[1]!.wsUrl, online.token));
    // A replica writes who connected every 50 ms (WRITE_GATHER_MS in notify/presence.ts): a push
    // decided before that may still go to someone who just connected, as documented there.
    const redis = new Redis(scaleEnv.redisUrl!);
    try {
      await waitUntil(
        async () => {
          for (const key of await redis.keys('banyan:presence:users:*')) if (await redis.sismember(key, online.id)) return true;
          return false;
        },
        5000,
        'the connection written to Redis',
      );
    } finally {
      redis.disconnect();
    }
    const seq = await c.announce('on replica 0', 0);
    await waitUntil(() => countFor([offline.sub], seq, c.groupId)[0]! >= 1, 10_000, 'the offline member pushed');
    // The announcement's pushes were owed in one transaction, before the offline member's went out:
    // once none in the group is left unsent, a wrong one to the connected member would have arrived.
    await waitUntil(async () => (await unsentPushes(c.groupId)) === 0, 10_000, 'every push owed in the group sent');
    expect(countFor([online.sub], seq, c.groupId)).toEqual([0]);

    set.replicas[1]!.kill('SIGKILL');
    await set.replicas[1]!.exited;
    const killedAt = Date.now();
    // Within the TTL (and a heartbeat of the survivor), the dead replica's users count as offline.
    let pushedAt = 0;
    for (let i = 0; !pushedAt && Date.now() - killedAt < PRESENCE_TTL_MS * 3; i++) {
      const s = await c.announce(`after the death ${i}`, 0);
      await sleep(400);
      if (countFor([online.sub], s, c.groupId)[0]! > 0) pushedAt = Date.now();
    }
    expect(pushedAt, 'pushed again once the replica was gone').toBeGreaterThan(0);
    expect(pushedAt - killedAt).toBeLessThan(PRESENCE_TTL_MS + 2000);
    await set.replicas[1]!.start();
  }, 60_000);

  it('kill -9 of a replica sending an announcement’s pushes: every owed push arrives at least once', async () => {
    const c = await community(300);
    const subs = c.members.map((m) => m.sub);
    // A slow push service, so the kill lands while pushes are in flight.
    push.delayMs = 40;
    try {
      const before = push.delivered.length;
      const seq = await c.announce('evacuate the east wing', 0);
      await waitUntil(() => push.delivered.length - before >= 60, 20_000, 'the first pushes');
      set.replicas[0]!.kill('SIGKILL');
      await set.replicas[0]!.exited;
      await waitUntil(() => countFor(subs, seq, c.groupId).every((k) => k >= 1), 40_000, 'every member pushed');
      const counts = countFor(subs, seq, c.groupId);
      const duplicates = counts.reduce((sum, k) => sum + (k - 1), 0);
      // Duplicates are pushes in flight (sent, not yet settled) when the replica died: at most its claimed batches.
      console.log(
        `kill -9 mid-announcement: ${subs.length} owed, ${counts.filter((k) => k >= 1).length} delivered, ${duplicates} duplicates`,
      );
      expect(duplicates).toBeLessThanOrEqual(300); // 3 push loops × batches of 100
      expect(push.rejected).toEqual([]);
    } finally {
      push.delayMs = 0;
      await set.replicas[0]!.start();
    }
  }, 120_000);
});
