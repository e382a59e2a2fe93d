import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { inArray } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushQueue } from '../../src/platform/db/schema.js';
import { ownDatabase } from '../helpers/own-database.js';
import { LocalPushService } from '../helpers/push-service.js';
import { freePort, PrivateRedis, Replica, replicaEnv, waitUntil } from '../helpers/replicas.js';
import { createGroup, startServer, type TestServer } from '../helpers/server.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { tokenUser } from '../helpers/users.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// Bus, presence and rate limits all connect through platform/redis.ts: a Redis that asks for a
// password (and one that speaks only TLS) serves all three. Each test has a private redis-server.

const PASSWORD = 'secret-of-this-test';
const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!process.env.DATABASE_URL || !hasRedisServer)('a password-protected Redis', () => {
  let redis: PrivateRedis;
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  let push: LocalPushService;
  let a: TestServer;
  let b: TestServer;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start(['--requirepass', PASSWORD]);
    database = await ownDatabase('redisauth');
    push = await LocalPushService.start();
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
      WEBHOOK_ALLOW_PRIVATE: 'on',
      // Shared through Redis: two sign-ups a minute per address, whichever server takes them.
      SIGNUP_RATE_ADDRESS: '2/60',
    };
    a = await startServer({ mode: 'postgres', env });
    b = await startServer({ mode: 'postgres', env });
    push.expectVapidKey((await a.http('GET', '/v1/push/vapid-key')).body.publicKey);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await a?.stop();
    await b?.stop();
    await push?.stop();
    await database?.drop();
    await redis?.stop();
  });

  it('without the password Redis refuses: the test is not passing by accident', async () => {
    const stranger = new Redis(`redis://127.0.0.1:${redis.port}`, { lazyConnect: true, maxRetriesPerRequest: 0 });
    stranger.on('error', () => {});
    await stranger.connect().catch(() => {});
    await expect(stranger.get('x')).rejects.toThrow(/NOAUTH|Authentication/i);
    stranger.disconnect();
  });

  it('bus: a message sent through one server reaches a member connected to the other', async () => {
    const sender = await tokenUser(a, 'sender');
    const reader = await tokenUser(a, 'reader');
    const group = await createGroup(a, sender, [reader]);
    const socket = await connect(b.wsUrl, reader.token);
    sockets.push(socket);
    await socket.next((f) => f.type === 'ready');
    const sent = await a.http('POST', `/v1/groups/${group}/messages`, { token: sender.token, body: { clientMsgId: 'c1', text: 'across' } });
    expect(sent.status).toBe(201);
    expect(await socket.next((f) => f.type === 'event' && f.seq === sent.body.seq)).toMatchObject({ text: 'across' });
  });

  it('presence: members connected to either server are not pushed; the offline one is', async () => {
    const subscribe = async (label: string) => {
      const user = await tokenUser(a, label);
      const sub = push.subscribe();
      const r = await a.http('POST', '/v1/push/subscriptions', { token: user.token, body: { endpoint: sub.endpoint, keys: sub.keys } });
      expect(r.status).toBe(201);
      return { ...user, sub };
    };
    const [sender, onA, onB, offline] = await Promise.all(['sender', 'on-a', 'on-b', 'offline'].map(subscribe));
    const group = await createGroup(a, sender!, [onA!, onB!, offline!]);
    // Whichever server's worker fans the message out, one of the two is connected to the other server.
    for (const [server, user] of [
      [a, onA!],
      [b, onB!],
    ] as const) {
      const socket = await connect(server.wsUrl, user.token);
      sockets.push(socket);
      await socket.next((f) => f.type === 'ready');
    }
    // Presence writes reach Redis within its gather interval (50 ms); both users are in a replica's set before the send.
    const probe = new Redis(`redis://:${PASSWORD}@127.0.0.1:${redis.port}`);
    await waitUntil(
      async () => {
        const keys = await probe.keys('banyan:presence:users:*');
        const members = await Promise.all(keys.map((k) => probe.smembers(k)));
        const all = members.flat();
        return all.includes(onA!.id) && all.includes(onB!.id);
      },
      5000,
      'both members in Redis presence',
    );
    probe.disconnect();
    const sent = await a.http('POST', `/v1/groups/${group}/messages`, { token: sender!.token, body: { clientMsgId: 'p1', text: 'hi' } });
    expect(sent.status).toBe(201);
    await waitUntil(() => push.deliveredTo(offline!.sub.id).length === 1, 10_000, 'the offline member pushed');
    // The fan-out that owed the offline member its push decided for everyone in the same transaction:
    // a push owed to a connected member would be in push_queue now (sent or not).
    const owed = await a.app.storage.db
      .select({ userId: pushQueue.userId })
      .from(pushQueue)
      .where(inArray(pushQueue.userId, [onA!.id, onB!.id, sender!.id]));
    expect(owed).toEqual([]);
    expect(push.deliveredTo(onA!.sub.id)).toEqual([]);
    expect(push.deliveredTo(onB!.sub.id)).toEqual([]);
  });

  it('rate limits: sign-ups of one address are counted across both servers', async () => {
    const signUp = (server: TestServer, username: string) =>
      server.http('POST', '/v1/accounts', { body: { username, password: 'password-123', name: username } });
    expect((await signUp(a, `ra${Date.now()}`)).status).toBe(201);
    expect((await signUp(b, `rb${Date.now()}`)).status).toBe(201);
    const third = await signUp(a, `rc${Date.now()}`);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('rate_limited');
  });
});

const redisHasTls = (() => {
  if (!hasRedisServer) return false;
  try {
    return execFileSync('ldd', [execFileSync('which', ['redis-server']).toString().trim()])
      .toString()
      .includes('libssl');
  } catch {
    return false;
  }
})();

describe.skipIf(!process.env.DATABASE_URL || !redisHasTls)('a Redis that speaks only TLS (rediss://)', () => {
  let redis: PrivateRedis;
  let certificate: ReturnType<typeof selfSignedCertificate>;
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  let replica: Replica;
  let tlsPort: number;

  beforeAll(async () => {
    certificate = selfSignedCertificate('redis');
    tlsPort = await freePort();
    // The plain port is for the helper's start-up check only: the replica is given the TLS port.
    redis = await PrivateRedis.start([
      '--requirepass',
      PASSWORD,
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      certificate.cert,
      '--tls-key-file',
      certificate.key,
      '--tls-auth-clients',
      'no',
    ]);
    database = await ownDatabase('redistls');
    // A separate process: Node reads NODE_EXTRA_CA_CERTS (the test's certificate) only at start.
    replica = new Replica(0, await freePort(), {
      ...replicaEnv({
        databaseUrl: database.url,
        redisUrl: `rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`,
        env: { SIGNUP_RATE_ADDRESS: '1/60' },
      }),
      NODE_EXTRA_CA_CERTS: certificate.cert,
    });
    await replica.start();
  });
  afterAll(async () => {
    await replica?.stop();
    await database?.drop();
    await redis?.stop();
    if (certificate) rmSync(certificate.dir, { recursive: true, force: true });
  });

  it('bus ready, presence and rate limits write to the TLS Redis', async () => {
    // /readyz answered 200 (replica.start): the bus's two connections are up.
    const probe = new Redis(`rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`, { tls: { ca: readFileSync(certificate.cert) } });
    try {
      const heartbeats = await probe.zrange('banyan:presence:heartbeats', 0, -1);
      expect(heartbeats).toHaveLength(1);
      const signUp = (username: string) =>
        replica.http('POST', '/v1/accounts', { body: { username, password: 'password-123', name: username } });
      expect((await signUp(`ta${Date.now()}`)).status).toBe(201);
      expect((await signUp(`tb${Date.now()}`)).status).toBe(429);
      expect(await probe.keys('banyan:rl:signup-address*')).toHaveLength(1);
    } finally {
      probe.disconnect();
    }
  });
});
