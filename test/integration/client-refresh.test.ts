import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BanyanClient, BanyanHttp, type ClientOptions, type SessionTokens } from '../../src/client/index.js';
import { record } from '../helpers/sdk.js';
import { createGroup, startServer, uniqueName, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

// The SDK keeps a short access token fresh with its refresh token (docs/protocol.md §2 "Sessions
// and refresh tokens"), through a real server whose access tokens last 3 s: HTTP calls and the
// socket go on across many expiries (the open socket is handed each new token: docs/protocol.md
// §3), nothing is lost.

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
    // Every state after the first `ready`: a reconnect would pass through `reconnecting`.
    const states: string[] = [];
    a.on('state', (state) => states.push(state));

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
    // And sending goes on, on the same socket: each refreshed token was handed to it.
    expect((await a.send(group, 'still here')).seq).toBeGreaterThan(texts.length);
    expect(states).not.toContain('reconnecting');
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

describe('an open socket and a refreshed token (docs/protocol.md §3)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { ACCESS_TOKEN_TTL_S: '8' } });
  });
  afterAll(() => server?.stop());

  const signUp = async () => {
    const username = uniqueName('renew');
    const signed = await new BanyanHttp({ url: server.url }).signUp({ username, password: 'password-123', refresh: true });
    return { username, ...signed, refreshToken: signed.refreshToken! };
  };

  it('an open socket handed a refreshed token of its session outlives the old token; others are refused and change nothing', async () => {
    const asha = await signUp();
    const ben = await server.signUp();
    const renewed = await connect(server.wsUrl, asha.token);
    const kept = await connect(server.wsUrl, asha.token);
    // Another user's token, another session's of the same user, and a made-up one.
    expect(await renewed.request({ type: 'auth', token: ben.token })).toMatchObject({ type: 'error', code: 'bad_request' });
    const otherSession = await new BanyanHttp({ url: server.url }).signIn({ username: asha.username, password: 'password-123' });
    expect(await renewed.request({ type: 'auth', token: otherSession.token })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await renewed.request({ type: 'auth', token: 'not.a.token' })).toMatchObject({ type: 'error', code: 'unauthorized' });

    // Refreshed 2 s before the first token's expiry, the new one lasts 6 s past it: room on a busy machine.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(asha.expiresAt) - Date.now() - 2000)));
    const fresh = await new BanyanHttp({ url: server.url }).refreshSession(asha.refreshToken);
    const ack = await renewed.request({ type: 'auth', token: fresh.token });
    expect(ack).toMatchObject({ type: 'ack', expiresAt: fresh.expiresAt });
    // The socket that was not renewed closes 4401 at the first token's expiry…
    expect((await kept.closed).code).toBe(4401);
    // …and the renewed one, past that moment, still answers.
    expect(await renewed.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(renewed.closeInfo).toBeUndefined();
    await renewed.close();
  }, 60_000);
});
