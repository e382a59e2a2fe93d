import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.js';
import { RedisBus } from '../../src/bus/redis-bus.js';
import type { BusLogger, RedisBusOptions } from '../../src/bus/redis-bus.js';
import { collect, runBusContract, sleep, uniqueTopic, waitFor } from '../helpers/bus-contract.js';

// A throwaway three-master Redis Cluster on 127.0.0.1, for sharded pub/sub (SSUBSCRIBE/SPUBLISH).

const hasBinary = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = process.env.BANYAN_TEST_CLUSTER === '0' || !hasBinary('redis-server') || !hasBinary('redis-cli');

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** Three consecutive free ports whose cluster-bus ports (+10000) are free too. */
async function pickPorts(): Promise<number[]> {
  for (let base = 7101; base < 7400; base += 10) {
    const ports = [base, base + 1, base + 2];
    const all = [...ports, ...ports.map((p) => p + 10_000)];
    if ((await Promise.all(all.map(portFree))).every(Boolean)) return ports;
  }
  throw new Error('no free ports for a test cluster in 7101-7400');
}

describe.skipIf(skip)('RedisBus on a Redis Cluster (sharded pub/sub)', { timeout: 20_000 }, () => {
  let dir = '';
  let ports: number[] = [];
  const servers: ChildProcess[] = [];
  const admins: Redis[] = [];
  let url = '';
  /** Starts (or restarts: the node keeps its identity in nodes-<port>.conf) one cluster node. */
  const startNode = (port: number) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '5000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
  const waitClusterOk = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(admins.map((a) => a.cluster('INFO') as Promise<string>));
      if (infos.every((i) => i.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error('test cluster did not reach cluster_state:ok');
      await sleep(50);
    }
  };
  const stopAll = () => {
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  };

  beforeAll(async () => {
    ports = await pickPorts();
    dir = mkdtempSync(join(tmpdir(), 'banyan-cluster-'));
    process.once('exit', stopAll);
    ports.forEach((port, i) => {
      servers[i] = startNode(port);
    });
    for (const port of ports) {
      // Retries until the fresh server listens; the PING waits in the offline queue meanwhile.
      const admin = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50, maxRetriesPerRequest: null });
      // Refused connections are expected until the server listens; the PING below reports real failure.
      admin.on('error', () => undefined);
      admins.push(admin);
      await admin.ping();
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 15_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    // Every node must agree the cluster is up before clients read the slot map.
    await waitClusterOk(10_000);
    // Two of three as seeds: the rest is discovered from the slot map.
    url = `redis://127.0.0.1:${ports[0]},redis://127.0.0.1:${ports[1]}`;
  }, 30_000);

  afterAll(async () => {
    await Promise.all(admins.map((a) => a.quit().catch(() => a.disconnect())));
    stopAll();
    await Promise.all(
      servers.map((s) => (s.exitCode !== null || s.signalCode !== null ? undefined : new Promise((r) => s.once('exit', r)))),
    );
    process.removeListener('exit', stopAll);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const logs: { level: string; msg: string }[] = [];
  const logger: BusLogger = (level, msg) => logs.push({ level, msg });
  const connect = (options: Partial<RedisBusOptions> = {}) =>
    RedisBus.connect({
      url,
      sharded: true,
      connectionName: `banyan-test-${randomUUID().slice(0, 8)}`,
      logger,
      ...options,
    });

  runBusContract('redis cluster (sharded)', () => connect(), { shared: true, settleMs: 100 });

  const opened: Bus[] = [];
  const open = async (options: Partial<RedisBusOptions> = {}) => {
    const bus = await connect(options);
    opened.push(bus);
    return bus;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((b) => b.close()));
    logs.length = 0;
  });

  /** Our shard channels each node serves subscriptions for, by node. */
  const shardChannelsPerNode = (topics: string[]) =>
    Promise.all(
      admins.map(async (a) => {
        const active = (await a.pubsub('SHARDCHANNELS', 'banyan:g:test-*')) as string[];
        return topics.filter((t) => active.includes(`banyan:${t}`)).length;
      }),
    );

  const killByName = async (name: string, on: Redis[] = admins) => {
    let killed = 0;
    for (const a of on) {
      const list = (await a.client('LIST')) as string;
      for (const line of list.split('\n')) {
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        if (id && line.split(' ').includes(`name=${name}`)) {
          await a.client('KILL', 'ID', id);
          killed++;
        }
      }
    }
    return killed;
  };

  it('spreads subscriptions over the shards and delivers on every shard', async () => {
    const a = await open();
    const b = await open();
    const atA = collect(a);
    const topics = Array.from({ length: 30 }, () => uniqueTopic('spread'));
    for (const t of topics) await a.subscribe(t);
    const perNode = await shardChannelsPerNode(topics);
    expect(perNode.reduce((s, n) => s + n, 0)).toBe(30);
    // 30 random channels miss one of three shards with probability ~1e-5.
    expect(perNode.every((n) => n > 0)).toBe(true);
    for (const [i, t] of topics.entries()) await b.publish({ topic: t, seq: i + 1, data: t });
    await waitFor(() => atA.length === 30, '30 messages');
    expect(atA.map((m) => m.data).sort()).toEqual([...topics].sort());
  });

  /** A bus subscribed to topics on every shard (30 random channels miss one of 3 with p ~ 1e-5), another bus to publish, and what the first got. */
  const subscribedOnEveryShard = async (count: number) => {
    const name = `banyan-test-${randomUUID().slice(0, 8)}`;
    const a = await open({ connectionName: name });
    const b = await open();
    const atA = collect(a);
    const resync = { count: 0 };
    a.onResync(() => resync.count++);
    const topics = Array.from({ length: count }, () => uniqueTopic('resync'));
    for (const t of topics) await a.subscribe(t);
    expect((await shardChannelsPerNode(topics)).every((n) => n > 0)).toBe(true);
    // ioredis names the per-shard subscriber connections after the configured connectionName.
    return { a, b, atA, resync, topics, shardSubscriber: `ioredis-cluster(ssubscriber):${name}:sub` };
  };
  const sum = (ns: number[]) => ns.reduce((s, n) => s + n, 0);

  it('resubscribes and then resyncs after a shard subscriber is killed', async () => {
    const { a, b, atA, resync, topics, shardSubscriber } = await subscribedOnEveryShard(30);
    await sleep(100);
    expect(resync.count).toBe(0);

    expect(await killByName(shardSubscriber, admins.slice(0, 1))).toBe(1);
    await waitFor(() => resync.count === 1, 'the resync', 10_000);
    // Resync comes only once every topic is subscribed again.
    expect(sum(await shardChannelsPerNode(topics))).toBe(30);

    for (const [i, t] of topics.entries()) await b.publish({ topic: t, seq: i + 1, data: t });
    await waitFor(() => atA.length === 30, '30 messages after the reconnect');
    expect(atA.map((m) => m.data).sort()).toEqual([...topics].sort());
    expect(resync.count).toBe(1);

    // Unsubscribing after a resubscription leaves nothing behind on any shard.
    for (const t of topics) await a.unsubscribe(t);
    expect(await shardChannelsPerNode(topics)).toEqual([0, 0, 0]);
  });

  it('recovers every shard when all shard subscribers are killed', async () => {
    const { b, atA, resync, topics, shardSubscriber } = await subscribedOnEveryShard(30);
    expect(await killByName(shardSubscriber)).toBe(3);
    // The kills land one by one, so recovery may take more than one round; wait for the end state.
    const deadline = Date.now() + 10_000;
    while (resync.count === 0 || sum(await shardChannelsPerNode(topics)) !== 30) {
      if (Date.now() > deadline) throw new Error('shard subscriptions did not come back');
      await sleep(20);
    }
    for (const [i, t] of topics.entries()) await b.publish({ topic: t, seq: i + 1, data: t });
    await waitFor(() => atA.length === 30, '30 messages after the reconnect');
    expect(atA.map((m) => m.data).sort()).toEqual([...topics].sort());
  });

  it('delivers locally when a shard does not answer a publish', async () => {
    const a = await open({ publishTimeoutMs: 300 });
    const atA = collect(a);
    const topic = uniqueTopic('stalled');
    await a.subscribe(topic);
    const owner = (await shardChannelsPerNode([topic])).indexOf(1);
    const server = servers[owner];
    expect(server).toBeDefined();
    server!.kill('SIGSTOP');
    try {
      const started = Date.now();
      await a.publish({ topic, seq: 1, data: 'stalled shard' });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(atA).toStrictEqual([{ topic, seq: 1, data: 'stalled shard' }]);
      expect(logs.some((l) => l.level === 'warn' && l.msg.includes('publish failed'))).toBe(true);
    } finally {
      server!.kill('SIGCONT');
    }
  });

  // Last: it restarts every node.
  it('delivers locally while the whole cluster is down, then resubscribes and resyncs', async () => {
    const { a, b, atA, resync, topics } = await subscribedOnEveryShard(30);
    const topic = topics[0]!;
    const exits = servers.map((s) => new Promise((resolve) => s.once('exit', resolve)));
    for (const s of servers) s.kill('SIGKILL');
    await Promise.all(exits);
    await waitFor(() => !a.healthy(), 'the bus to notice the cluster is gone', 5000);
    const started = Date.now();
    await a.publish({ topic, seq: 1, data: 'while the cluster is down' });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(atA).toStrictEqual([{ topic, seq: 1, data: 'while the cluster is down' }]);

    ports.forEach((port, i) => {
      servers[i] = startNode(port);
    });
    await waitClusterOk(10_000);
    const deadline = Date.now() + 10_000;
    while (resync.count === 0 || !a.healthy() || !b.healthy() || sum(await shardChannelsPerNode(topics)) !== 30) {
      if (Date.now() > deadline) throw new Error('the bus did not come back after the cluster restart');
      await sleep(50);
    }
    for (const [i, t] of topics.entries()) await b.publish({ topic: t, seq: i + 2, data: t });
    await waitFor(() => atA.length === 31, '30 messages after the restart', 5000);
    expect(
      atA
        .slice(1)
        .map((m) => m.data)
        .sort(),
    ).toEqual([...topics].sort());
  });
});
