import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BanyanClient, BanyanHttp, type ClientOptions, type SessionTokens } from '../../src/client/index.js';
import { record } from '../helpers/sdk.js';
import { createGroup, startServer, uniqueName, type TestServer } from '../helpers/server.js';

// The SDK keeps a short access token fresh with its refresh token (docs/protocol.md §2 "Sessions
// and refresh tokens"), through a real server whose access tokens last 3 s: HTTP calls and the
// socket go on across many expiries, the socket's reconnects use the new token, nothing is lost.

describe('client SDK with a refresh token', () => {
  let server: TestServer;
  const clients: BanyanClient[] = [];
  beforeAll(async () => {
    server = await startServer({ env: { ACCESS_TOKEN_TTL_S: '3' } });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => server?.stop());

  const signUp = async () => {
    const username = uniqueName('sdk');
    const http = new BanyanHttp({ url: server.url });
    const signed = await http.signUp({ username, password: 'password-123', refresh: true, deviceName: 'test' });
    return { username, ...signed, refreshToken: signed.refreshToken! };
  };
  const client = (options: ClientOptions) => {
    const c = new BanyanClient({ WebSocket, reconnect: { baseMs: 20, maxMs: 200 }, ...options });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  it('refreshes ahead of expiry and after the socket is closed 4401; no event is lost, HTTP calls go on', async () => {
    const asha = await signUp();
    const ben = await server.signUp();
    // Ben's token lasts (no refresh): Asha's 3 s one may be gone by now on a busy machine.
    const group = await createGroup(server, ben, [{ id: asha.user.id, name: asha.user.name, token: '' }]);
    const pairs: SessionTokens[] = [];
    const a = client({
      url: server.url,
      token: asha.token,
      expiresAt: asha.expiresAt,
      refreshToken: asha.refreshToken,
      onTokens: (t) => pairs.push(t),
    });
    const atA = record(a);
    const closed: unknown[] = [];
    a.on('closed', (c) => closed.push(c));
    await a.connect();

    // Ben writes for a while: Asha's access token expires three times or more meanwhile.
    const texts: string[] = [];
    const until = Date.now() + 10_000;
    for (let i = 0; Date.now() < until; i++) {
      const text = `m${i}`;
      texts.push(text);
      expect(
        (await server.http('POST', `/v1/groups/${group}/messages`, { token: ben.token, body: { clientMsgId: text, text } })).status,
      ).toBe(201);
      // Asha's HTTP calls need no help from the app either.
      if (i % 5 === 0) expect((await a.http.me()).user.id).toBe(asha.user.id);
      await new Promise((r) => setTimeout(r, 200));
    }
    await atA.waitFor('every message at asha', () => atA.messages(group).length === texts.length, 20_000);
    expect(atA.messages(group).map((e) => e.kind === 'message' && e.text)).toEqual(texts);
    expect(closed).toEqual([]);
    expect(pairs.length).toBeGreaterThanOrEqual(2);
    // Each pair rotates: generations go up one by one.
    expect(pairs.map((p) => Number(p.refreshToken.split('.')[1]))).toEqual(pairs.map((_, i) => i + 1));
    // And sending goes on (the socket is reopened every few seconds, each time on a refreshed token).
    expect((await a.send(group, 'still here')).seq).toBeGreaterThan(texts.length);
  }, 60_000);

  it('an HTTP call refused 401 is refreshed and sent again once (no expiry known ahead)', async () => {
    const asha = await signUp();
    await new Promise((r) => setTimeout(r, 4000)); // the access token has expired
    const pairs: SessionTokens[] = [];
    const http = new BanyanHttp({ url: server.url, token: asha.token, refreshToken: asha.refreshToken, onTokens: (t) => pairs.push(t) });
    expect((await http.me()).user.id).toBe(asha.user.id);
    expect(pairs).toHaveLength(1);
    // Concurrent calls share one refresh.
    await Promise.all([http.me(), http.me(), http.me()]);
    expect(pairs.length).toBeLessThanOrEqual(2);
  });

  it('a session ended elsewhere stops the client (closed), and its refresh is refused', async () => {
    const asha = await signUp();
    const a = client({ url: server.url, token: asha.token, expiresAt: asha.expiresAt, refreshToken: asha.refreshToken });
    const closed = new Promise<{ code: number }>((resolve) => a.on('closed', resolve));
    await a.connect();
    const other = await new BanyanHttp({ url: server.url }).signIn({ username: asha.username, password: 'password-123' });
    expect((await server.http('DELETE', '/v1/sessions', { token: other.token })).status).toBe(204);
    expect((await closed).code).toBe(4403);
    expect((await server.http('POST', '/v1/sessions/refresh', { body: { refreshToken: asha.refreshToken } })).status).toBe(401);
  });

  it('a refresh refused while reconnecting ends the client with 4401 instead of retrying forever', async () => {
    const asha = await signUp();
    // Someone else used this refresh token, and the one after it: the token the client holds is
    // two rotations old (past any retry grace), so its use is a replay and ends the session.
    const thief = new BanyanHttp({ url: server.url });
    const stolen = await thief.refreshSession(asha.refreshToken);
    await thief.refreshSession(stolen.refreshToken!);
    const a = client({ url: server.url, token: asha.token, expiresAt: asha.expiresAt, refreshToken: asha.refreshToken });
    const closed = new Promise<{ code: number }>((resolve) => a.on('closed', resolve));
    await a.connect().catch(() => undefined);
    // Within 3 s the access token is due; the refresh the client then makes is a replay.
    expect([4401, 4403]).toContain((await closed).code);
    await expect(a.http.me()).rejects.toMatchObject({ code: 'unauthorized' });
  }, 30_000);
});
