import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokens } from '../../src/platform/auth/tokens.js';
import { ownDatabase } from '../helpers/own-database.js';
import { freePort, killAll, noScaleServers, PrivateRedis, Replica, replicaEnv, track, waitUntil } from '../helpers/replicas.js';
import { startS3 } from '../helpers/s3.js';
import { TEST_SECRET, uniqueName } from '../helpers/server.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { open } from '../helpers/ws-client.js';

// docker-compose.yml as processes: three replicas, each with a DATA_DIR of its own (as on separate
// machines), files in one S3-compatible bucket, PostgreSQL and Redis, behind HAProxy running the
// same deploy/haproxy.cfg. Clients come from different loopback addresses (Linux routes all of
// 127/8 to lo), so HAProxy's X-Forwarded-For gives each its own address.

const hasHaproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
// CI installs HAProxy (.ci/run): there a missing one fails the test rather than skipping it.
const runs = !noScaleServers && (hasHaproxy || Boolean(process.env.CI));

interface Answer {
  status: number;
  body: Buffer;
  json(): any;
}

/** One request on a connection of its own (so HAProxy balances each), from `from` (127.0.0.N). */
function call(
  port: number,
  method: string,
  path: string,
  options: { from?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        localAddress: options.from ?? '127.0.0.1',
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, body: all, json: () => JSON.parse(all.toString()) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe.runIf(runs)('the compose topology as processes: HAProxy, three replicas, one bucket', { timeout: 120_000 }, () => {
  const replicas: Replica[] = [];
  const dirs: string[] = [];
  let s3: Awaited<ReturnType<typeof startS3>>;
  let redis: PrivateRedis;
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  const balancers: ChildProcess[] = [];
  let lbPort = 0;

  /** HAProxy with `config`, in front of the three replicas, up when it listens on LB_BIND. */
  async function startHaproxy(config: string, env: Record<string, string>): Promise<void> {
    const haproxy = spawn('haproxy', ['-db', '-f', config], {
      env: {
        ...process.env,
        REPLICA1: `127.0.0.1:${replicas[0]!.port}`,
        REPLICA2: `127.0.0.1:${replicas[1]!.port}`,
        REPLICA3: `127.0.0.1:${replicas[2]!.port}`,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    haproxy.stderr!.on('data', (c: Buffer) => {
      log = (log + c.toString()).slice(-4000);
    });
    balancers.push(haproxy);
    track(haproxy);
    const port = Number(env.LB_BIND!.split(':')[1]);
    await waitUntil(
      async () => {
        if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${log}`);
        return (await call(port, 'GET', '/lb-health').catch(() => undefined))?.status === 200;
      },
      30_000,
      'HAProxy to listen',
    );
  }

  beforeAll(async () => {
    if (!hasHaproxy) throw new Error('haproxy is not installed (.ci/run installs it: apt-get install haproxy)');
    s3 = await startS3();
    redis = await PrivateRedis.start();
    database = await ownDatabase('compose');
    const env = replicaEnv({
      databaseUrl: database.url,
      redisUrl: redis.url,
      env: {
        STORAGE_URL: s3.storageUrl(),
        // Not the harness's shared-directory word: the bucket is what the replicas share.
        STORAGE_SHARED: '',
        TRUST_PROXY: '1',
        SIGNUP_RATE_ADDRESS: '2/3600',
      },
    });
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), `banyan-compose-${i}-`));
      dirs.push(dir);
      replicas.push(new Replica(i, await freePort(), { ...env, DATA_DIR: dir }));
    }
    await replicas[0]!.start();
    await Promise.all(replicas.slice(1).map((r) => r.start()));

    lbPort = await freePort();
    await startHaproxy('deploy/haproxy.cfg', { LB_BIND: `127.0.0.1:${lbPort}` });
    // Ready when HAProxy has sent requests to every replica (each /healthz names its process).
    const pids = new Set<number>();
    await waitUntil(
      async () => {
        const r = await call(lbPort, 'GET', '/healthz').catch(() => undefined);
        if (r?.status === 200) pids.add(r.json().pid);
        return pids.size === 3;
      },
      30_000,
      'HAProxy to reach all three replicas',
    );
    expect([...pids].sort()).toEqual(replicas.map((r) => r.pid).sort());
  });

  afterAll(async () => {
    for (const haproxy of balancers) haproxy.kill('SIGKILL');
    await killAll();
    await s3?.stop();
    await database?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a file uploaded through one replica downloads through the balancer and from every replica', async () => {
    const tokens = new Tokens({ secret: TEST_SECRET });
    const { token } = await tokens.sign({ userId: uniqueName('f'), name: 'Files', ttlSeconds: 3600 });
    const auth = { authorization: `Bearer ${token}` };
    const data = Buffer.from(randomBytes(150_000).toString('hex'));
    const uploaded = await fetch(`${replicas[1]!.url}/v1/attachments?name=notes.txt`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: data,
    });
    expect(uploaded.status).toBe(201);
    const { attachment } = (await uploaded.json()) as { attachment: { id: string } };
    const path = `/v1/attachments/${attachment.id}`;

    for (let i = 0; i < 6; i++) {
      const r = await call(lbPort, 'GET', path, { headers: auth });
      expect(r.status).toBe(200);
      expect(r.body.equals(data)).toBe(true);
    }
    for (const replica of replicas) {
      const r = await call(replica.port, 'GET', path, { headers: auth });
      expect([replica.index, r.status]).toEqual([replica.index, 200]);
      expect(r.body.equals(data)).toBe(true);
    }
  });

  it('50 clients behind the balancer each sign up under their own address; the limit still holds per address', async () => {
    const signUp = (from: string, headers: Record<string, string> = {}) => {
      const username = uniqueName('c');
      return call(lbPort, 'POST', '/v1/accounts', { from, headers, body: { username, password: 'password-123', name: username } });
    };
    const addresses = Array.from({ length: 50 }, (_, i) => `127.0.0.${10 + i}`);
    const statuses: number[] = [];
    // Ten at a time: each sign-up hashes a password.
    for (let i = 0; i < addresses.length; i += 10) {
      statuses.push(...(await Promise.all(addresses.slice(i, i + 10).map((a) => signUp(a)))).map((r) => r.status));
    }
    expect(statuses).toEqual(addresses.map(() => 201));
    // SIGNUP_RATE_ADDRESS=2/3600 is in force: one address's third sign-up is refused.
    expect((await signUp(addresses[0]!)).status).toBe(201);
    expect((await signUp(addresses[0]!)).status).toBe(429);
  });

  it('an X-Forwarded-For the client sends itself does not change its address', async () => {
    const from = '127.0.0.200';
    const spoofed = () => ({ 'x-forwarded-for': `10.${[...randomBytes(3)].join('.')}` });
    const signUp = () => {
      const username = uniqueName('s');
      return call(lbPort, 'POST', '/v1/accounts', {
        from,
        headers: spoofed(),
        body: { username, password: 'password-123', name: username },
      });
    };
    expect((await signUp()).status).toBe(201);
    expect((await signUp()).status).toBe(201);
    const third = await signUp();
    expect(third.status).toBe(429);
    expect(third.json().error.code).toBe('rate_limited');
  });

  it('the HTTPS lines of haproxy.cfg, uncommented, serve HTTPS with HSTS (WebSockets too) and redirect HTTP', async () => {
    const certificate = selfSignedCertificate('haproxy');
    dirs.push(certificate.dir);
    const pem = join(certificate.dir, 'banyan.pem');
    writeFileSync(pem, readFileSync(certificate.cert, 'utf8') + readFileSync(certificate.key, 'utf8'));
    let uncommented = 0;
    const tls = readFileSync('deploy/haproxy.cfg', 'utf8').replace(
      /^( {4})# ((?:bind "\$\{LB_TLS_BIND\}"|http-request redirect|http-after-response) .*)$/gm,
      (_, indent: string, line: string) => {
        uncommented++;
        return indent + line;
      },
    );
    expect(uncommented).toBe(3);
    const config = join(certificate.dir, 'haproxy-tls.cfg');
    writeFileSync(config, tls);
    const [plainPort, tlsPort] = [await freePort(), await freePort()];
    await startHaproxy(config, { LB_BIND: `127.0.0.1:${plainPort}`, LB_TLS_BIND: `127.0.0.1:${tlsPort}`, LB_CERT: pem });
    const ca = readFileSync(certificate.cert);

    const secure = await new Promise<{ status: number; hsts: unknown }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, path: '/healthz', ca, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, hsts: res.headers['strict-transport-security'] });
      });
      req.on('error', reject);
      req.end();
    });
    expect(secure).toEqual({ status: 200, hsts: 'max-age=63072000' });

    const plain = await new Promise<{ status: number; location: unknown }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: plainPort, path: '/v1/me', agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      });
      req.on('error', reject);
      req.end();
    });
    expect(plain).toEqual({ status: 301, location: `https://127.0.0.1:${plainPort}/v1/me` });

    // A session over a WebSocket through TLS: the upgrade passes, a replica says `ready`.
    const { token } = await new Tokens({ secret: TEST_SECRET }).sign({ userId: uniqueName('w'), name: 'W', ttlSeconds: 3600 });
    const socket = await open(`wss://127.0.0.1:${tlsPort}/v1/ws`, { ca, headers: { authorization: `Bearer ${token}` } });
    await socket.next((f) => f.type === 'ready');
    await socket.close();
  });
});
