import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../../src/bus/bus.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { RedisBus, decodeBusMessage, encodeBusMessage } from '../../src/bus/redis-bus.js';
import type { BusLogger, RedisBusOptions } from '../../src/bus/redis-bus.js';
import { collect, runBusContract, sleep, uniqueTopic, waitFor } from '../helpers/bus-contract.js';

const REDIS_URL = process.env.REDIS_URL;

runBusContract('memory', async () => new MemoryBus(), { shared: false });

describe('bus wire format', () => {
  it('round-trips seq, leaves, origin and data, including newlines in data', () => {
    const cases: BusMessage[] = [
      { topic: 'g:1', seq: 12, leaves: 'u-1', data: 'a\nb' },
      { topic: 'g:1', data: '' },
      { topic: 'g:1', seq: 0, data: '\n\n' },
      { topic: 'g:1', leaves: 'u', data: '{"x":"🌳"}' },
      { topic: 'g:1', origin: 'ab12-3', data: '{"type":"typing"}' },
    ];
    for (const m of cases) expect(decodeBusMessage(m.topic, encodeBusMessage(m))).toStrictEqual(m);
    expect(encodeBusMessage({ topic: 'g:1', seq: 5, data: '{}' })).toBe('5\n\n\n{}');
  });

  it('rejects what it cannot carry and what it cannot read', () => {
    expect(() => encodeBusMessage({ topic: 'g', seq: 1.5, data: '' })).toThrow(/seq/);
    expect(() => encodeBusMessage({ topic: 'g', leaves: 'a\nb', data: '' })).toThrow(/leaves/);
    expect(() => encodeBusMessage({ topic: 'g', origin: 'a\nb', data: '' })).toThrow(/origin/);
    expect(decodeBusMessage('g', 'no newline')).toBeNull();
    expect(decodeBusMessage('g', '1\nonly one')).toBeNull();
    expect(decodeBusMessage('g', '1\n\nonly two')).toBeNull();
    expect(decodeBusMessage('g', 'x\n\n\ndata')).toBeNull();
  });
});

describe('RedisBus start-up without Redis', () => {
  // Port 1 on loopback: nothing listens, so every attempt is refused.
  for (const sharded of [false, true]) {
    it(`fails within the connect timeout with a clear error${sharded ? ' (sharded)' : ''}`, async () => {
      const logs: string[] = [];
      const started = Date.now();
      const failing = RedisBus.connect({
        url: 'redis://user:s3cret@127.0.0.1:1',
        sharded,
        connectTimeoutMs: 400,
        logger: (_level, msg, fields) => logs.push(msg + JSON.stringify(fields ?? {})),
      });
      const error = await failing.then(
        () => new Error('connected to nothing'),
        (err: unknown) => err as Error,
      );
      expect(error.message).toMatch(/could not connect to redis:\/\/user:\*\*\*@127\.0\.0\.1:1 within 400 ms \(.+\)/);
      expect(error.message).not.toContain('s3cret');
      expect(logs.join('\n')).not.toContain('s3cret');
      expect(Date.now() - started).toBeLessThan(2000);
    });
  }
});

describe.skipIf(!REDIS_URL)('RedisBus', { timeout: 20_000 }, () => {
  const url = REDIS_URL ?? '';
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const logger: BusLogger = (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) });
  const connect = (options: Partial<RedisBusOptions> = {}) =>
    RedisBus.connect({ url, connectionName: `banyan-test-${randomUUID().slice(0, 8)}`, logger, ...options });

  runBusContract('redis', () => connect(), { shared: true });

  let admin: Redis;
  const opened: Bus[] = [];
  const open = async (options: Partial<RedisBusOptions> = {}) => {
    const bus = await connect(options);
    opened.push(bus);
    return bus;
  };

  beforeAll(() => {
    admin = new Redis(url);
  });
  afterAll(async () => {
    await admin.quit();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((b) => b.close()));
    logs.length = 0;
  });

  /** Kills the connections named exactly `name` (CLIENT SETNAME); returns the ids killed. */
  const killClients = async (name: string): Promise<string[]> => {
    const list = (await admin.client('LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => line.split(' ').includes(`name=${name}`))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined);
    for (const id of ids) await admin.client('KILL', 'ID', id);
    return ids;
  };

  const numsub = async (topic: string): Promise<number> => {
    const reply = (await admin.pubsub('NUMSUB', `banyan:${topic}`)) as [string, number];
    return Number(reply[1]);
  };

  it('is subscribed on the server exactly as the last call says', async () => {
    const bus = await open();
    const topic = uniqueTopic();
    await bus.subscribe(topic);
    await bus.subscribe(topic);
    expect(await numsub(topic)).toBe(1);
    await bus.unsubscribe(topic);
    expect(await numsub(topic)).toBe(0);
    await Promise.all([bus.subscribe(topic), bus.unsubscribe(topic), bus.subscribe(topic)]);
    expect(await numsub(topic)).toBe(1);
    await Promise.all([bus.unsubscribe(topic), bus.subscribe(topic), bus.unsubscribe(topic)]);
    expect(await numsub(topic)).toBe(0);
  });

  it('gathers the topics dropped one by one into one UNSUBSCRIBE, leaving out one wanted again meanwhile', async () => {
    const name = `banyan-test-${randomUUID().slice(0, 8)}`;
    const bus = await open({ connectionName: name });
    const other = await open();
    const received = collect(bus);
    const topics = Array.from({ length: 12 }, () => uniqueTopic('drop'));
    for (const t of topics) await bus.subscribe(t);
    const clients = (await admin.client('LIST')) as string;
    const subscriber = /addr=(\S+)/.exec(clients.split('\n').find((l) => l.includes(` name=${name}:sub `)) ?? '')?.[1];
    expect(subscriber).toBeDefined();
    const monitor = await admin.monitor();
    const unsubscribes: string[][] = [];
    const echoed: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === subscriber && args[0]?.toLowerCase() === 'unsubscribe') unsubscribes.push(args.slice(1));
      if (args[0]?.toLowerCase() === 'echo') echoed.push(args[1] ?? '');
    });
    try {
      // As group feeds end when their linger timers run out: one every 20 ms.
      const dropped: Promise<void>[] = [];
      for (const t of topics) {
        dropped.push(bus.unsubscribe(t));
        await sleep(20);
      }
      const back = topics[5]!;
      await bus.subscribe(back);
      await Promise.all(dropped);
      // MONITOR's stream trails the replies: an ECHO run after them shows in it after every UNSUBSCRIBE.
      const marker = `after-${name}`;
      await admin.echo(marker);
      await waitFor(() => echoed.includes(marker), 'the ECHO after the unsubscribes in MONITOR');
      expect(unsubscribes).toHaveLength(1);
      expect(new Set(unsubscribes[0])).toStrictEqual(new Set(topics.filter((t) => t !== back).map((t) => `banyan:${t}`)));
      for (const t of topics) expect(await numsub(t)).toBe(t === back ? 1 : 0);
      await other.publish({ topic: back, seq: 1, data: 'still followed' });
      await waitFor(() => received.length === 1, 'the message on the topic wanted again');
      expect(received[0]?.data).toBe('still followed');
    } finally {
      monitor.disconnect();
    }
  });

  it('does not resync on the first connection', async () => {
    const bus = await open();
    let resyncs = 0;
    bus.onResync(() => resyncs++);
    const topic = uniqueTopic();
    const received = collect(bus);
    await bus.subscribe(topic);
    // A resync of the first session would run as its subscriptions are answered: before a message
    // published after them arrives on that connection.
    const other = await open();
    await other.publish({ topic, seq: 1, data: 'after the subscriptions' });
    await waitFor(() => received.length === 1, 'the message after the subscriptions');
    expect(resyncs).toBe(0);
  });

  it('resubscribes and then resyncs after the subscriber connection is killed', async () => {
    const name = `banyan-test-${randomUUID().slice(0, 8)}`;
    const bus = await open({ connectionName: name });
    const other = await open();
    const received = collect(bus);
    const topics = [uniqueTopic('a'), uniqueTopic('b')];
    let resyncs = 0;
    let subscribedAtResync = -1;
    bus.onResync(() => {
      resyncs++;
      // Subscriptions must be back on the server before subscribers are told to catch up.
      void Promise.all(topics.map(numsub)).then((n) => {
        subscribedAtResync = n.reduce((s, x) => s + x, 0);
      });
    });
    for (const t of topics) await bus.subscribe(t);

    expect(await killClients(`${name}:sub`)).toHaveLength(1);
    await waitFor(() => resyncs === 1, 'the resync');
    await waitFor(() => subscribedAtResync >= 0, 'the subscription count');
    expect(subscribedAtResync).toBe(2);
    expect(bus.healthy()).toBe(true);

    // Delivered from the other replica, so through the Redis subscription, not a local shortcut.
    for (const t of topics) await other.publish({ topic: t, seq: 1, data: `after the kill ${t}` });
    await waitFor(() => received.length === 2, 'both messages after the reconnect');
    expect(received.map((m) => m.data).sort()).toEqual(topics.map((t) => `after the kill ${t}`).sort());
  });

  it('a topic subscribed while the subscriber is away is subscribed when it is back', async () => {
    const name = `banyan-test-${randomUUID().slice(0, 8)}`;
    const bus = await open({ connectionName: name });
    const other = await open();
    const received = collect(bus);
    let resyncs = 0;
    bus.onResync(() => resyncs++);
    await bus.subscribe(uniqueTopic());

    expect(await killClients(`${name}:sub`)).toHaveLength(1);
    await waitFor(() => !bus.healthy(), 'the bus to notice the kill');
    const late = uniqueTopic('late');
    await bus.subscribe(late);
    await waitFor(() => resyncs === 1, 'the resync');
    expect(await numsub(late)).toBe(1);
    await other.publish({ topic: late, seq: 3, data: 'late but here' });
    await waitFor(() => received.length === 1, 'the message on the late topic');
    expect(received[0]).toStrictEqual({ topic: late, seq: 3, data: 'late but here' });
  });

  it('delivers locally while the publisher is away, warns once, and does not resync for it; the other bus is told to resync', async () => {
    const name = `banyan-test-${randomUUID().slice(0, 8)}`;
    const bus = await open({ connectionName: name });
    const other = await open();
    const atBus = collect(bus);
    const atOther = collect(other);
    let resyncs = 0;
    bus.onResync(() => resyncs++);
    // The other bus never lost its connection: only the notice tells it that it missed 1-3.
    let otherResyncs = 0;
    other.onResync(() => otherResyncs++);
    const topic = uniqueTopic('loop');
    await bus.subscribe(topic);
    await other.subscribe(topic);

    expect(await killClients(`${name}:pub`)).toHaveLength(1);
    await waitFor(() => !bus.healthy(), 'the bus to notice the kill');
    for (let seq = 1; seq <= 3; seq++) await bus.publish({ topic, seq, data: `while away ${seq}` });
    // Synchronous local hand-over: already there when publish resolved.
    expect(atBus.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(logs.filter((l) => l.level === 'warn' && l.msg.includes('publish failed'))).toHaveLength(1);

    await waitFor(() => bus.healthy(), 'the publisher to reconnect');
    await bus.publish({ topic, seq: 4, data: 'back' });
    await waitFor(() => atOther.length >= 1 && atBus.length >= 4, 'the message after the reconnect');
    // The other replica never saw 1-3: they did not go through Redis.
    expect(atOther.map((m) => m.seq)).toEqual([4]);
    expect(atBus.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    await waitFor(() => otherResyncs === 1, "the other bus's resync");
    expect(resyncs).toBe(0);
    // The notice is a bus matter: no handler sees it.
    expect(atOther.map((m) => m.seq)).toEqual([4]);
  });

  it('drops malformed payloads with a warning and keeps delivering', async () => {
    const bus = await open();
    const received = collect(bus);
    const topic = uniqueTopic();
    await bus.subscribe(topic);
    await admin.publish(`banyan:${topic}`, 'garbage without the header');
    await bus.publish({ topic, seq: 1, data: 'good' });
    // The garbage went to Redis first, on the same channel: it would have come before 'good'.
    await waitFor(() => received.length === 1, 'the good message');
    expect(received.map((m) => m.data)).toEqual(['good']);
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('malformed'))).toBe(true);
  });

  it('survives a handler that throws', async () => {
    const bus = await open();
    const received: BusMessage[] = [];
    bus.onMessage((m) => {
      if (m.seq === 1) throw new Error('handler bug');
      received.push(m);
    });
    const topic = uniqueTopic();
    await bus.subscribe(topic);
    await bus.publish({ topic, seq: 1, data: 'boom' });
    await bus.publish({ topic, seq: 2, data: 'fine' });
    await waitFor(() => received.length === 1, 'the second message');
    expect(received[0]?.seq).toBe(2);
    expect(bus.healthy()).toBe(true);
    expect(logs.some((l) => l.level === 'error' && l.fields?.error === 'handler bug')).toBe(true);
  });

  it('keeps buses with different prefixes apart', async () => {
    const plain = await open();
    const prefixed = await open({ prefix: 'elsewhere:' });
    const atPrefixed = collect(prefixed);
    const topic = uniqueTopic();
    await prefixed.subscribe(topic);
    await plain.publish({ topic, seq: 1, data: 'banyan:' });
    await prefixed.publish({ topic, seq: 2, data: 'elsewhere:' });
    // The plain bus published first, to the same Redis: the one subscriber connection would have had it first.
    await waitFor(() => atPrefixed.length === 1, 'the prefixed message');
    expect(atPrefixed.map((m) => m.data)).toEqual(['elsewhere:']);
  });

  it('is unhealthy after close and closes its connections', async () => {
    const name = `banyan-test-${randomUUID().slice(0, 8)}`;
    const bus = await connect({ connectionName: name });
    await bus.subscribe(uniqueTopic());
    await bus.close();
    expect(bus.healthy()).toBe(false);
    // The server drops a client right after answering its QUIT; give it a moment.
    let list = '';
    for (let i = 0; i < 20; i++) {
      list = (await admin.client('LIST')) as string;
      if (!list.includes(`name=${name}:`)) break;
      await sleep(10);
    }
    expect(list).not.toContain(`name=${name}:`);
  });
});

const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasRedisServer)('RedisBus across a Redis restart (private redis-server)', { timeout: 20_000 }, () => {
  let port = 0;
  let server: ChildProcess | undefined;
  const startServer = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const probe = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50, maxRetriesPerRequest: null });
    // Refused connections are expected until the server listens; the PING below reports real failure.
    probe.on('error', () => undefined);
    await probe.ping();
    await probe.quit();
  };
  const stopServer = async () => {
    const s = server;
    if (!s || s.exitCode !== null || s.signalCode !== null) return;
    const exited = new Promise((resolve) => s.once('exit', resolve));
    s.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    await startServer();
  });
  afterAll(stopServer);

  it('keeps delivering locally while Redis is down, then resubscribes and resyncs', async () => {
    const logs: { level: string; msg: string }[] = [];
    const logger: BusLogger = (level, msg) => logs.push({ level, msg });
    const url = `redis://127.0.0.1:${port}`;
    const bus = await RedisBus.connect({ url, logger, connectionName: 'banyan-restart-a' });
    const other = await RedisBus.connect({ url, logger, connectionName: 'banyan-restart-b' });
    try {
      const atBus = collect(bus);
      let resyncs = 0;
      bus.onResync(() => resyncs++);
      const topic = uniqueTopic('restart');
      await bus.subscribe(topic);

      await stopServer();
      await waitFor(() => !bus.healthy(), 'the bus to notice Redis is gone');
      const started = Date.now();
      await bus.publish({ topic, seq: 1, data: 'while Redis is down' });
      expect(Date.now() - started).toBeLessThan(500);
      // Handed over once: the local shortcut, not also the failed-publish fallback.
      expect(atBus).toStrictEqual([{ topic, seq: 1, data: 'while Redis is down' }]);
      expect(logs.some((l) => l.level === 'warn' && l.msg.includes('publish failed'))).toBe(true);
      expect(resyncs).toBe(0);

      await startServer();
      // The two connections of a bus come back independently; wait for all of them.
      await waitFor(() => resyncs === 1 && bus.healthy() && other.healthy(), 'the resync after Redis is back', 10_000);
      await other.publish({ topic, seq: 2, data: 'through Redis again' });
      await waitFor(() => atBus.length === 2, 'the message through Redis');
      expect(atBus.map((m) => m.seq)).toEqual([1, 2]);
    } finally {
      await Promise.all([bus.close(), other.close()]);
    }
  });
});
