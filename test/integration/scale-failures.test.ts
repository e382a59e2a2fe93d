import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAckedOnce, fullLog, LogClient } from '../helpers/log-client.js';
import {
  freePort,
  killAll,
  noScaleServers,
  PrivateRedis,
  replicaEnv,
  scaleEnv,
  sleep,
  startReplicas,
  TcpProxy,
  track,
  waitUntil,
  type Replica,
  type ReplicaSet,
} from '../helpers/replicas.js';
import type { TestUser } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

// Replicas failing while clients talk: kill -9, SIGTERM drain, Redis restart, PostgreSQL cut,
// and WORKERS=N on one port. Private Redis and a TCP proxy: the machine's servers stay untouched.

/** Keeps every sender sending (a window of 4 each) until `stop()`; resolves when all are acked. */
function stream(senders: LogClient[], group: string, tag: string) {
  let stopped = false;
  let count = 0;
  const done = Promise.all(
    senders.flatMap((client, s) =>
      Array.from({ length: 4 }, async (_, w) => {
        for (let n = 0; !stopped; n++) {
          await client.send(group, `${tag}-${s}-${w}-${n}`, `${tag} ${s} ${w} ${n}`);
          count++;
        }
      }),
    ),
  );
  return {
    get acked() {
      return count;
    },
    until: (n: number) => waitUntil(() => count >= n, 30_000, `${n} acks (have ${count})`),
    stop: () => {
      stopped = true;
      return done;
    },
  };
}

async function expectAllComplete(clients: LogClient[], users: TestUser[], group: string, via: Replica, token: string) {
  const log = await fullLog(via, token, group);
  expectAckedOnce(
    log,
    clients.map((client, i) => ({ id: users[i]!.id, client })),
  );
  const last = log.at(-1)!.seq as number;
  await Promise.all(clients.map((c) => c.waitForSeq(group, last)));
  for (const c of clients) c.expectComplete(group, log);
  return log;
}

/** How long a draining replica answers /readyz 503 before closing its sockets. */
const NOTICE_MS = 1500;

describe.skipIf(noScaleServers)('replica failures', () => {
  afterAll(killAll);

  describe('three replicas: kill -9 and drain', () => {
    let set: ReplicaSet;
    const clients: LogClient[] = [];
    beforeAll(async () => {
      set = await startReplicas(3, { env: { DRAIN_NOTICE_MS: String(NOTICE_MS) } });
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await set?.stop();
    });

    const setUp = async (count: number) => {
      const users = await Promise.all(Array.from({ length: count }, () => set.user()));
      const res = await set.replicas[0]!.http('POST', '/v1/groups', {
        token: users[0]!.token,
        body: { name: 'f', members: users.slice(1).map((u) => u.id) },
      });
      const group = res.body.group.id as string;
      const all = users.map((u, i) => new LogClient(`u${i}`, u.token, () => set.replicas));
      clients.push(...all);
      await Promise.all(all.map((c, i) => c.connect(set.replicas[i % 3]!)));
      return { users, group, all };
    };

    it('kill -9 of a replica mid-stream: its clients reconnect elsewhere and nothing acked is lost', async () => {
      const { users, group, all } = await setUp(6);
      const victim = set.replicas[1]!;
      const s = stream(all, group, 'k');
      await s.until(300);
      victim.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
      const atKill = s.acked;
      await s.until(atKill + 300);
      await s.stop();
      const log = await expectAllComplete(all, users, group, set.replicas[0]!, users[0]!.token);
      // The victim's clients (1 and 4) moved; the others never had to.
      expect(all.map((c) => c.reconnects > 0)).toStrictEqual([false, true, false, false, true, false]);
      expect(all.every((c) => c.replica !== victim)).toBe(true);
      console.log(`kill -9: ${log.length} events, ${s.acked} acks, victim's clients reconnected and resent`);
      await victim.start();
    }, 90_000);

    it('drain on SIGTERM: /readyz 503 first, sockets closed with 1001, exit in bounded time, clients lose nothing', async () => {
      const { users, group, all } = await setUp(6);
      const victim = set.replicas[2]!;
      const s = stream(all, group, 'd');
      await s.until(200);
      const t0 = Date.now();
      const ackedBefore = all[2]!.acked.size;
      victim.kill('SIGTERM');
      // During the notice the replica still answers, but is not ready, and refuses new sockets.
      await waitUntil(async () => (await victim.readyz()) === 503, NOTICE_MS - 500, 'readyz 503');
      await expect(connect(victim.wsUrl, users[0]!.token)).rejects.toThrow(/503/);
      // Its sockets still work meanwhile.
      await waitUntil(() => all[2]!.acked.size >= ackedBefore + 5, NOTICE_MS - 500, 'acks during the notice');
      expect(all[2]!.replica).toBe(victim);
      expect(all[2]!.closes).toStrictEqual([]);
      const exit = await victim.exited;
      const tookMs = Date.now() - t0;
      expect(exit).toStrictEqual({ code: 0, signal: null });
      expect(tookMs).toBeGreaterThanOrEqual(NOTICE_MS);
      expect(tookMs).toBeLessThan(NOTICE_MS + 1500 + 1000);
      await s.until(s.acked + 200);
      await s.stop();
      await expectAllComplete(all, users, group, set.replicas[0]!, users[0]!.token);
      expect(all.filter((c) => c.closes.some((x) => x.code === 1001)).map((c) => c.name)).toStrictEqual(['u2', 'u5']);
      expect(all.map((c) => c.reconnects > 0)).toStrictEqual([false, false, true, false, false, true]);
      console.log(`drain: exited ${tookMs} ms after SIGTERM (notice ${NOTICE_MS} ms)`);
    }, 90_000);
  });

  it('Redis restart mid-stream: sends keep acking, /readyz degrades, connected sockets miss nothing', async () => {
    const redis = await PrivateRedis.start();
    const set = await startReplicas(2, { redisUrl: redis.url });
    const clients: LogClient[] = [];
    try {
      const users = await Promise.all(Array.from({ length: 4 }, () => set.user()));
      const res = await set.replicas[0]!.http('POST', '/v1/groups', {
        token: users[0]!.token,
        body: { name: 'r', members: users.slice(1).map((u) => u.id) },
      });
      const group = res.body.group.id as string;
      clients.push(...users.map((u, i) => new LogClient(`u${i}`, u.token, () => set.replicas)));
      await Promise.all(clients.map((c, i) => c.connect(set.replicas[i % 2]!)));
      const s = stream(clients, group, 'r');
      await s.until(100);
      await redis.stop();
      await waitUntil(
        async () => (await Promise.all(set.replicas.map((r) => r.readyz()))).every((st) => st === 503),
        10_000,
        'readyz 503 on both',
      );
      // For an orchestrator that routes by readiness alone (deploy/k8s), the bus's outage is not a reason.
      const degraded = await fetch(`${set.replicas[0]!.url}/readyz?bus=optional`);
      expect([degraded.status, ((await degraded.json()) as { status: string }).status]).toStrictEqual([200, 'degraded']);
      // Redis is down: sends are still stored and acked, and each replica's own sockets still
      // get events (in order: the other replica's show up as gaps, filled from storage).
      const down = s.acked;
      await s.until(down + 100);
      await s.stop();
      const highestAck = (on: LogClient[]) => Math.max(...on.flatMap((c) => [...c.acked.values()].map((a) => a.seq)));
      const onReplica0 = [clients[0]!, clients[2]!];
      const onReplica1 = [clients[1]!, clients[3]!];
      await Promise.all(onReplica0.map((c) => c.waitForSeq(group, highestAck(onReplica0), 10_000)));
      // Replica 1's gap fills (from storage, reading up to the newest seq) are over once its own
      // last event is delivered: only then is "nothing follows them there" true.
      await Promise.all(onReplica1.map((c) => c.waitForSeq(group, highestAck(onReplica1), 10_000)));
      // The last sends of replica 0 never crossed to replica 1, and nothing follows them there:
      // only the catch-up after Redis returns brings them (or the periodic check against
      // storage, FEED_CHECK_MS later: 5 s by default, long after this assertion).
      const lastSend = await clients[0]!.send(group, 'while-down', 'only replica 0 knows');
      await clients[2]!.waitForSeq(group, lastSend.seq);
      expect(clients[1]!.seen(group)).toBeLessThan(lastSend.seq);
      expect(await set.replicas[0]!.readyz()).toBe(503);

      await redis.start();
      await waitUntil(
        async () => (await Promise.all(set.replicas.map((r) => r.readyz()))).every((st) => st === 200),
        15_000,
        'readyz 200 again',
      );
      await expectAllComplete(clients, users, group, set.replicas[1]!, users[1]!.token);
      // Nobody reconnected: the replicas caught their sockets up from storage themselves.
      expect(clients.map((c) => c.reconnects)).toStrictEqual([0, 0, 0, 0]);
      // And the bus carries events across again.
      const after = await clients[1]!.send(group, 'after', 'back');
      await Promise.all(clients.map((c) => c.waitForSeq(group, after.seq, 5000)));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await set.stop();
      await redis.stop();
    }
  }, 90_000);

  it('PostgreSQL cut: sends answer unavailable and are not acked, /readyz 503, recovery by itself', async () => {
    const pg = new URL(scaleEnv.databaseUrl!);
    const proxy = await TcpProxy.start({ host: pg.hostname, port: Number(pg.port || 5432) });
    const set = await startReplicas(1, { databaseUrl: TcpProxy.urlThrough(scaleEnv.databaseUrl!, proxy.port) });
    const replica = set.replicas[0]!;
    try {
      const user = await set.user();
      const res = await replica.http('POST', '/v1/groups', { token: user.token, body: { name: 'p' } });
      const group = res.body.group.id as string;
      const socket = await connect(replica.wsUrl, user.token);
      const before = await socket.request({ type: 'send', group, clientMsgId: 'before', text: 'stored' });
      expect(before.type).toBe('ack');

      await proxy.cut();
      const t0 = Date.now();
      const during = await socket.request({ type: 'send', group, clientMsgId: 'during', text: 'not stored' }, 15_000);
      expect(during).toMatchObject({ type: 'error', code: 'unavailable' });
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(await replica.readyz()).toBe(503);
      expect((await replica.http('GET', '/healthz')).status).toBe(200);
      const httpSend = await replica.http('POST', `/v1/groups/${group}/messages`, {
        token: user.token,
        body: { clientMsgId: 'during-http', text: 'x' },
      });
      expect([httpSend.status, httpSend.body.error?.code]).toStrictEqual([503, 'unavailable']);

      await proxy.restore();
      await waitUntil(async () => (await replica.readyz()) === 200, 15_000, 'readyz 200 after restore');
      const after = await socket.request({ type: 'send', group, clientMsgId: 'during', text: 'not stored' });
      expect(after).toMatchObject({ type: 'ack', seq: before.seq + 1 });
      await socket.next((f) => f.type === 'event' && f.seq === after.seq);
      expect(socket.events(group).map((e) => [e.seq, e.clientMsgId])).toStrictEqual([
        [before.seq, 'before'],
        [after.seq, 'during'],
      ]);
      await socket.close();
    } finally {
      await set.stop();
      await proxy.cut();
    }
  }, 60_000);

  it('WORKERS=2 serves one port from two processes; refuses without Redis', async () => {
    const port = await freePort();
    const env = { ...process.env, ...replicaEnv(), PORT: String(port) };
    const child = spawn(process.execPath, ['dist/main.js', 'start', '--workers', '2'], { env, stdio: 'ignore' });
    const exited = track(child);
    const healthz = () =>
      new Promise<number>((resolve, reject) => {
        // A new connection each time, so the kernel picks a worker each time.
        const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body).pid as number));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      await waitUntil(
        () =>
          healthz().then(
            () => true,
            () => false,
          ),
        30_000,
        'workers up',
      );
      const pids = new Set<number>();
      for (let i = 0; i < 200 && pids.size < 2; i++) {
        pids.add(await healthz().catch(() => 0));
        if (pids.size < 2) await sleep(10);
      }
      pids.delete(0);
      expect(pids.size).toBe(2);
      expect(pids.has(child.pid!)).toBe(false);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toStrictEqual({ code: 0, signal: null });

    const refused = spawn(process.execPath, ['dist/main.js', 'start', '--workers', '2'], {
      env: { ...env, REDIS_URL: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    refused.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await track(refused)).toStrictEqual({ code: 2, signal: null });
    expect(stderr).toMatch(/WORKERS=2.*REDIS_URL and DATABASE_URL/);
  }, 60_000);
});
