import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket as NetSocket } from 'node:net';
import { Tokens } from '../../src/platform/auth/tokens.js';
import { generousLimits, httpRequest, TEST_SECRET, uniqueName, type HttpResult, type TestUser } from './server.js';
import { connect, type TestSocket } from './ws-client.js';

// Several gateway processes (`node dist/main.js start`, built by the global setup) against real
// PostgreSQL and Redis, plus the tools to break them: a private redis-server, a cuttable TCP proxy.

export const scaleEnv = { databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL };
/** Multi-replica tests need both servers; without them they skip (npm test passes anywhere). */
export const noScaleServers = !scaleEnv.databaseUrl || !scaleEnv.redisUrl;

const children = new Set<ChildProcess>();
// Never leave a replica or a redis-server behind, whatever way the test process ends.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const readyzStatus = async (url: string) => {
  try {
    return (await fetch(`${url}/readyz`)).status;
  } catch {
    return 0;
  }
};

export function track(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  children.add(child);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
}

export class Replica {
  private child: ChildProcess | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: 0, signal: null });
  stderr = '';

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly args: string[] = ['start'],
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  get wsUrl() {
    return `ws://127.0.0.1:${this.port}/v1/ws`;
  }
  get pid() {
    return this.child?.pid;
  }
  get running() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and waits for /readyz 200 (or, with `ready: false`, for /healthz). */
  async start(options: { ready?: boolean } = {}): Promise<void> {
    const child = spawn(process.execPath, ['dist/main.js', ...this.args], {
      env: { ...process.env, ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    this.stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.exited = track(child);
    // A replica that dies on its own (not killed by the test) says why, or a test sees only 1006s.
    child.once('exit', (code, signal) => {
      if (signal === null && code !== 0) console.error(`replica ${this.index} exited with code ${code}: ${this.stderr}`);
    });
    const path = options.ready === false ? '/healthz' : '/readyz';
    await waitUntil(
      async () => {
        if (!this.running) throw new Error(`replica ${this.index} exited while starting: ${this.stderr}`);
        try {
          return (await fetch(this.url + path)).status === 200;
        } catch {
          return false;
        }
      },
      30_000,
      `replica ${this.index} ${path}`,
    );
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.kill('SIGKILL');
    await this.exited;
  }

  readyz(): Promise<number> {
    return readyzStatus(this.url);
  }

  http(method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<HttpResult> {
    return httpRequest(this.url, method, path, options);
  }
}

export interface ReplicaSet {
  replicas: Replica[];
  token(sub: string): Promise<string>;
  /** A fresh user with a minted token (no session: cheap, no password hashing). */
  user(): Promise<TestUser>;
  /** A fresh local account, signed up on replica `on` (any replica serves it). */
  signUp(on?: number): Promise<TestUser>;
  stop(): Promise<void>;
}

/** Starts `count` replicas on free ports sharing one PostgreSQL and one Redis. */
export async function startReplicas(
  count: number,
  options: { env?: Record<string, string>; redisUrl?: string; databaseUrl?: string } = {},
): Promise<ReplicaSet> {
  const env = replicaEnv(options);
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) replicas.push(new Replica(i, await freePort(), env));
  const set: ReplicaSet = {
    replicas,
    async token(sub) {
      const tokens = new Tokens({ secret: TEST_SECRET });
      return (await tokens.sign({ userId: sub, name: sub, ttlSeconds: 3600 })).token;
    },
    async user() {
      const id = uniqueName('u');
      const user = { id, name: id, token: await set.token(id) };
      // Users are created on first sight: make this one known before others add it to groups.
      const me = await replicas[0]!.http('GET', '/v1/me', { token: user.token });
      if (me.status !== 200) throw new Error(`GET /v1/me: ${me.status}`);
      return user;
    },
    async signUp(on = 0) {
      const username = uniqueName('r');
      const r = await replicas[on]!.http('POST', '/v1/accounts', { body: { username, password: 'password-123', name: username } });
      if (r.status !== 201) throw new Error(`sign-up failed: ${r.status} ${JSON.stringify(r.body)}`);
      return { id: r.body.user.id, name: r.body.user.name, token: r.body.token };
    },
    async stop() {
      await Promise.all(replicas.map((r) => r.stop()));
    },
  };
  try {
    // The first one applies migrations; the rest then start together.
    await replicas[0]!.start();
    await Promise.all(replicas.slice(1).map((r) => r.start()));
  } catch (err) {
    await set.stop();
    throw err;
  }
  return set;
}

/** The environment of a test replica: quiet, fast drain, no flood limit. */
export function replicaEnv(
  options: { env?: Record<string, string>; redisUrl?: string; databaseUrl?: string } = {},
): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl ?? scaleEnv.databaseUrl!,
    REDIS_URL: options.redisUrl ?? scaleEnv.redisUrl!,
    REDIS_SHARDED: 'false',
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    DRAIN_TIMEOUT_MS: '1500',
    WORKERS: '1',
    // Every replica of a test runs here in one working directory: DATA_DIR/blobs is one directory.
    STORAGE_SHARED: 'on',
    // Tests send fast from few sockets; the flood limit is not what they test.
    RATE_LIMIT_PER_S: '100000',
    RATE_LIMIT_BURST: '100000',
    ...generousLimits,
    ...options.env,
  };
}

/** A redis-server of the test's own on a free port: stopping it disturbs nobody else. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();

  constructor(
    readonly port: number,
    /** More redis-server arguments (`--requirepass`, TLS). */
    private readonly extraArgs: string[] = [],
  ) {}

  static async start(extraArgs: string[] = []): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), extraArgs);
    await redis.start();
    return redis;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...this.extraArgs],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exited = track(child);
    await waitUntil(() => canConnect(this.port), 10_000, `redis-server on ${this.port}`);
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A TCP proxy in front of a server (PostgreSQL): `cut()` destroys every piped connection and
 * refuses new ones, as if the server went away; `restore()` accepts again on the same port.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pipes = new Set<NetSocket>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), target);
    await proxy.restore();
    return proxy;
  }

  /** The URL with host and port replaced by the proxy's. */
  static urlThrough(url: string, port: number): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  }

  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = netConnect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.pipes.add(s);
        s.once('close', () => this.pipes.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.pipes) s.destroy();
    this.pipes.clear();
    if (server) await new Promise((r) => server.close(r));
  }
}

/** Kills every child this helper started (for afterAll). */
export async function killAll(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  await waitUntil(() => children.size === 0, 10_000, 'children to exit');
}

/** Sockets a test opens on the replicas of a set (`on(i, user)`: on replica i, ready), closed together after. */
export function replicaSockets(set: () => ReplicaSet) {
  const sockets: TestSocket[] = [];
  return {
    sockets,
    async on(i: number, user: TestUser): Promise<TestSocket> {
      const socket = await connect(set().replicas[i]!.wsUrl, user.token);
      sockets.push(socket);
      return socket;
    },
    closeAll: () => Promise.all(sockets.map((s) => s.close())),
  };
}
