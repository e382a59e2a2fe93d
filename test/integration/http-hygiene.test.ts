import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokens } from '../../src/platform/auth/tokens.js';
import { randomAddress } from '../helpers/addresses.js';
import { roundTrip } from '../helpers/markers.js';
import { freePort, Replica, replicaEnv, waitUntil } from '../helpers/replicas.js';
import { startServer, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// /metrics behind METRICS_TOKEN, security headers on every API answer, one Content-Length, and
// the WebSocket upgrade's answer written whole.

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

/** Writes raw bytes on a fresh connection; resolves with everything read until the server closes it. */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no close in 5 s; got ${JSON.stringify(text)}`)));
  });
}

describe('HTTP hygiene', () => {
  let server: TestServer;
  let open: TestServer;
  beforeAll(async () => {
    [server, open] = await Promise.all([startServer({ env: { METRICS_TOKEN } }), startServer()]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), open?.stop()]);
  });

  it('serves /metrics only with METRICS_TOKEN as a bearer token, and not at all without the setting', async () => {
    const get = (s: TestServer, authorization?: string) => fetch(`${s.url}/metrics`, authorization ? { headers: { authorization } } : {});
    expect((await get(server)).status).toBe(401);
    expect((await get(server, 'Bearer wrong-token-wrong-token-0000')).status).toBe(401);
    expect((await get(server, METRICS_TOKEN)).status).toBe(401);
    const ok = await get(server, `Bearer ${METRICS_TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    expect((await get(open)).status).toBe(404);
    expect((await get(open, `Bearer ${METRICS_TOKEN}`)).status).toBe(404);
  });

  it('sends nosniff, no-store and a locked-down CSP on every API answer, tokens included', async () => {
    const username = `hyg${Date.now().toString(36)}`;
    const answers = await Promise.all([
      fetch(`${server.url}/v1/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'password-123', name: username }),
      }),
      fetch(`${server.url}/v1/me`),
      fetch(`${server.url}/healthz`),
      fetch(`${server.url}/v1/nowhere`),
    ]);
    expect(answers.map((r) => r.status)).toEqual([201, 401, 200, 404]);
    for (const r of answers) {
      expect(r.headers.get('x-content-type-options'), r.url).toBe('nosniff');
      expect(r.headers.get('cache-control'), r.url).toBe('no-store');
      expect(r.headers.get('content-security-policy'), r.url).toBe("default-src 'none'; frame-ancestors 'none'");
    }
  });

  it('refuses two different Content-Length headers with 400 and closes the connection', async () => {
    const body = '{"username":"x","password":"password-123"}';
    const answer = await rawHttp(
      server.app.port,
      `POST /v1/sessions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 5\r\n\r\n${body}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('conflicting content-length headers');
    // One length is answered as usual (401: no such account).
    const single = await rawHttp(
      server.app.port,
      `POST /v1/sessions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(single).toMatch(/^HTTP\/1\.1 401 /);
  });
});

/**
 * Sends a WebSocket upgrade on a fresh connection; resolves with the first chunk read and
 * everything read until the header block ended (or the server closed).
 */
function rawUpgrade(port: number, headers: Record<string, string>): Promise<{ first: string; all: string; segments?: number }> {
  const lines = [
    'GET /v1/ws HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    socket.setNoDelay(true);
    let first: string | undefined;
    let all = '';
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      const segments = all.startsWith('HTTP/1.1 101') ? segmentsSent(port, socket.localPort!) : undefined;
      socket.destroy();
      resolve({ first: first ?? '', all, ...(segments !== undefined ? { segments } : {}) });
    };
    socket.on('data', (c: Buffer) => {
      first ??= c.toString('latin1');
      all += c.toString('latin1');
      // A 101 leaves the connection open (its header block is the whole answer), a refusal may too.
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(all.slice(0, end))?.[1] ?? 0);
      if (all.startsWith('HTTP/1.1 101') || all.length >= end + 4 + length) done();
    });
    socket.on('close', done);
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer in 5 s; got ${JSON.stringify(all)}`)));
  });
}

/**
 * The data segments the server's end of a connection sent so far, as the kernel counts them
 * (`ss -ti`): the reader's first chunk may gather several small writes, the segment count does not.
 * Undefined where `ss` is missing.
 */
function segmentsSent(serverPort: number, clientPort: number): number | undefined {
  let out: string;
  try {
    out = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${serverPort} and dport = :${clientPort} )`], {
      encoding: 'utf8',
    });
  } catch {
    return undefined;
  }
  return Number(/data_segs_out:(\d+)/.exec(out)?.[1] ?? 0);
}

// A server of its own process (node dist/main.js, embedded storage): a client in the same process
// as the server reads only once the server's handler returned, so it would see one chunk even if
// the 101 went out in 24 writes.
describe('the WebSocket upgrade answer', () => {
  let replica: Replica;
  let dataDir: string;
  let other: TestSocket;
  const tokens = new Tokens({ secret: TEST_SECRET });
  const bearer = async (sub: string) => `Bearer ${(await tokens.sign({ userId: sub, name: sub, ttlSeconds: 600 })).token}`;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'banyan-upgrade-'));
    const env = replicaEnv({ databaseUrl: '', redisUrl: '', env: { DATA_DIR: dataDir, TRUST_PROXY: 'on', HTTP_RATE_ADDRESS: '3/60' } });
    replica = new Replica(0, await freePort(), env);
    await replica.start();
    // An upgrade after an await used to be written while another session's socket was corked
    // (uWS's bug), so uncorked: one session open makes that the case.
    other = await connect(replica.wsUrl, (await bearer(`other-${Date.now()}`)).slice('Bearer '.length));
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await replica?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes the whole 101 header block at once, with an HS256 token in the header and with none (auth frame)', async () => {
    for (let i = 0; i < 5; i++) {
      const authorization = await bearer(`raw-${i}-${Date.now()}`);
      const withToken = await rawUpgrade(replica.port, { Authorization: authorization, 'X-Forwarded-For': randomAddress() });
      expect(withToken.all).toMatch(/^HTTP\/1\.1 101 /);
      // One segment for the 101 (two if the ready frame went out before `ss` looked), not one per header.
      if (withToken.segments !== undefined) expect(withToken.segments).toBeLessThanOrEqual(2);
      expect(withToken.first).toContain('\r\n\r\n');
      expect(withToken.first.slice(0, withToken.first.indexOf('\r\n\r\n') + 2)).toMatch(
        /^HTTP\/1\.1 101 [\s\S]*\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i,
      );
      // No token: the server says nothing more until the auth frame.
      const withoutToken = await rawUpgrade(replica.port, { 'X-Forwarded-For': randomAddress() });
      expect(withoutToken.all).toMatch(/^HTTP\/1\.1 101 /);
      if (withoutToken.segments !== undefined) expect(withoutToken.segments).toBe(1);
      expect(withoutToken.first).toMatch(/^HTTP\/1\.1 101 [\s\S]*\r\n\r\n/);
    }
  });

  it('refuses an upgrade past the address limit with a 429 that says when to retry', async () => {
    const address = randomAddress();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await rawUpgrade(replica.port, { 'X-Forwarded-For': address }));
    expect(answers.map((a) => a.all.slice(0, 12))).toEqual(['HTTP/1.1 101', 'HTTP/1.1 101', 'HTTP/1.1 101', 'HTTP/1.1 429']);
    const refused = answers[3]!.all;
    expect(refused).toMatch(/\r\nRetry-After: \d+\r\n/i);
    const body = JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4));
    expect(body.error).toMatchObject({ code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } });
    expect(body.error.details.retryAfterMs).toBeGreaterThan(55_000);
    expect(body.error.details.retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});

// A presence flush hands a viewer every frame it has for them at once: one corked write, not a
// segment per frame (each uncorked send outside a uWS handler is its own write).
describe('presence frames on the wire', () => {
  let replica: Replica;
  let dataDir: string;
  const sockets: TestSocket[] = [];
  const tokens = new Tokens({ secret: TEST_SECRET });
  const tokenOf = async (sub: string) => (await tokens.sign({ userId: sub, name: sub, ttlSeconds: 600 })).token;
  const COALESCE_MS = 300;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'banyan-presence-wire-'));
    const env = replicaEnv({ databaseUrl: '', redisUrl: '', env: { DATA_DIR: dataDir, PRESENCE_COALESCE_MS: String(COALESCE_MS) } });
    replica = new Replica(0, await freePort(), env);
    await replica.start();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await replica?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('a viewer gets the frames of one flush in one write', async () => {
    const [viewer, marker, ...subjects] = Array.from({ length: 7 }, (_, i) => `wire-${i}-${Date.now()}`);
    const tokensOf = new Map(await Promise.all([viewer!, marker!, ...subjects].map(async (id) => [id, await tokenOf(id)] as const)));
    const open = async (id: string) => {
      const s = await connect(replica.wsUrl, tokensOf.get(id)!);
      sockets.push(s);
      return s;
    };
    // Users exist once seen; then one small group holds them all.
    for (const s of await Promise.all([marker!, ...subjects].map(open))) await s.close();
    const created = await replica.http('POST', '/v1/groups', { token: tokensOf.get(viewer!)!, body: { name: 'Wire', members: subjects } });
    expect(created.status).toBe(201);
    const withMarker = await replica.http('POST', '/v1/groups', {
      token: tokensOf.get(viewer!)!,
      body: { name: 'Marker', members: [marker] },
    });
    expect(withMarker.status).toBe(201);
    const v = await open(viewer!);
    // The subjects' offline flush is done before counting: the marker's online is gathered after it
    // and flushed later (one flush at a time), and the pong covers the rest of its write. The marker
    // stays connected, so no offline of its own falls into the count.
    const from = v.frames.length;
    await open(marker!);
    await v.next((f) => f.type === 'presence' && f.user === marker && f.online, 5000, from);
    await roundTrip(v);
    const viewerPort = (v.ws as unknown as { _socket: { localPort: number } })._socket.localPort;
    const before = segmentsSent(replica.port, viewerPort);
    if (before === undefined) return; // no `ss` here: nothing to count
    const online = () => v.frames.filter((f) => f.type === 'presence' && f.online && subjects.includes(f.user)).length;
    await Promise.all(subjects.map(open));
    await waitUntil(() => online() >= subjects.length, 5000, 'every subject online at the viewer');
    expect(online()).toBe(subjects.length);
    // Five frames; one write per flush they fell into (the five starts may straddle two flushes).
    expect(segmentsSent(replica.port, viewerPort)! - before).toBeLessThanOrEqual(2);
  });
});
