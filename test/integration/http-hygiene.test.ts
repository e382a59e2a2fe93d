import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';

// /metrics behind METRICS_TOKEN, security headers on every API answer, and one Content-Length.

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
