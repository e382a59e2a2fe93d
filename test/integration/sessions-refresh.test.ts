import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, noScaleServers, PrivateRedis, startReplicas, type ReplicaSet } from '../helpers/replicas.js';
import { startServer, storageModes, uniqueName, type HttpResult, type TestServer } from '../helpers/server.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §2 "Sessions and refresh tokens": rotation, reuse detection (a replayed refresh
// token ends its session everywhere), the retry grace, idle expiry, and the member's session list.

const PASSWORD = 'password-123';
const REFUSED = { status: 401, body: { error: { code: 'unauthorized', message: 'refresh token not valid' } } };

interface Signed {
  user: { id: string; name: string };
  token: string;
  expiresAt: string;
  refreshToken: string;
  refreshExpiresAt: string;
}

const ok = <T = Signed>(r: HttpResult, status = 200): T => {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body as T;
};

/** `<sessionId>.<generation>.<secret>` */
const parts = (refreshToken: string) => {
  const [id, generation, secret] = refreshToken.split('.');
  return { id: id!, generation: Number(generation), secret: secret! };
};

for (const mode of storageModes()) {
  describe(`refresh tokens (${mode}; no retry grace)`, () => {
    let server: TestServer;
    const sockets: TestSocket[] = [];

    beforeAll(async () => {
      server = await startServer({ mode, env: { REFRESH_GRACE_S: '0', ACCESS_TOKEN_TTL_S: '600' } });
    });
    afterAll(async () => {
      for (const s of sockets) s.terminate();
      await server?.stop();
    });

    const signUp = async (extra: Record<string, unknown> = { refresh: true, deviceName: 'Firefox on Linux' }) => {
      const username = uniqueName('rf');
      const body = ok<Signed>(await server.http('POST', '/v1/accounts', { body: { username, password: PASSWORD, ...extra } }), 201);
      return { username, ...body };
    };
    const signIn = async (username: string, extra: Record<string, unknown> = { refresh: true }) =>
      ok<Signed>(await server.http('POST', '/v1/sessions', { body: { username, password: PASSWORD, ...extra } }));
    const refresh = (refreshToken: string) => server.http('POST', '/v1/sessions/refresh', { body: { refreshToken } });
    const socket = async (token: string) => {
      const s = await connect(server.wsUrl, token);
      sockets.push(s);
      return s;
    };

    it('old clients (no `refresh`) get exactly what they got before: one token lasting TOKEN_TTL_S, no refresh token', async () => {
      const a = await signUp({});
      expect(a).not.toHaveProperty('refreshToken');
      expect(a).not.toHaveProperty('refreshExpiresAt');
      const days = (Date.parse(a.expiresAt) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(6.9);
      const b = await signIn(a.username, {});
      expect(b).not.toHaveProperty('refreshToken');
      expect(ok(await server.http('GET', '/v1/me', { token: b.token })).user.id).toBe(a.user.id);
    });

    it('with `refresh: true`: a short access token and a refresh token; each use rotates it and extends it', async () => {
      const a = await signUp();
      const ttlS = (Date.parse(a.expiresAt) - Date.now()) / 1000;
      expect(ttlS).toBeGreaterThan(500);
      expect(ttlS).toBeLessThanOrEqual(601);
      expect(parts(a.refreshToken)).toMatchObject({ generation: 0 });
      const days = (Date.parse(a.refreshExpiresAt) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(89.9);

      const b = ok(await refresh(a.refreshToken));
      expect(b.user).toEqual(a.user);
      expect(parts(b.refreshToken)).toMatchObject({ id: parts(a.refreshToken).id, generation: 1 });
      expect(b.refreshToken).not.toBe(a.refreshToken);
      expect(Date.parse(b.refreshExpiresAt)).toBeGreaterThanOrEqual(Date.parse(a.refreshExpiresAt));
      expect(ok(await server.http('GET', '/v1/me', { token: b.token })).user.id).toBe(a.user.id);
      const c = ok(await refresh(b.refreshToken));
      expect(parts(c.refreshToken).generation).toBe(2);
      // The access tokens of the rotated session keep working until they expire.
      expect((await server.http('GET', '/v1/me', { token: a.token })).status).toBe(200);
    });

    it('theft and replay: a refresh token used again after its rotation ends the whole session (sockets 4403, every token refused)', async () => {
      const a = await signUp();
      const stolen = a.refreshToken;
      const mine = ok(await refresh(a.refreshToken));
      const s = await socket(mine.token);

      expect(await refresh(stolen)).toMatchObject(REFUSED);
      expect((await s.closed).code).toBe(4403);
      expect(await refresh(mine.refreshToken)).toMatchObject(REFUSED);
      expect((await server.http('GET', '/v1/me', { token: mine.token })).status).toBe(401);
      expect((await server.http('GET', '/v1/me', { token: a.token })).status).toBe(401);
    });

    it('the thief refreshing first: the owner coming back with the replaced token ends the session for the thief too', async () => {
      const a = await signUp();
      const thief = ok(await refresh(a.refreshToken));
      const thiefSocket = await socket(thief.token);
      expect(await refresh(a.refreshToken)).toMatchObject(REFUSED);
      expect((await thiefSocket.closed).code).toBe(4403);
      expect(await refresh(thief.refreshToken)).toMatchObject(REFUSED);
    });

    it('made-up tokens are refused with the same answer and end nothing (nobody can end a session by its id)', async () => {
      const a = await signUp();
      const { id, generation } = parts(a.refreshToken);
      const s = await socket(a.token);
      for (const token of [
        `${id}.${generation}.${'A'.repeat(43)}`,
        `${id}.${generation + 1}.${'A'.repeat(43)}`,
        `${id}.${generation + 5}.${parts(a.refreshToken).secret}`,
        `s_unknownsession.0.${'B'.repeat(43)}`,
        a.refreshToken.slice(0, -1),
        'not a token',
        a.token,
      ]) {
        expect(await refresh(token), token).toMatchObject(REFUSED);
      }
      // Still usable: one pong after all that, and the genuine token rotates.
      expect(await s.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      ok(await refresh(a.refreshToken));
    });

    it('a session ended (this one, everywhere, or by a password change) cannot be refreshed, with the same answer', async () => {
      const a = await signUp();
      expect((await server.http('DELETE', '/v1/sessions/current', { token: a.token })).status).toBe(204);
      expect(await refresh(a.refreshToken)).toMatchObject(REFUSED);

      const b = await signIn(a.username);
      const c = await signIn(a.username);
      expect((await server.http('DELETE', '/v1/sessions', { token: b.token })).status).toBe(204);
      expect(await refresh(b.refreshToken)).toMatchObject(REFUSED);
      expect(await refresh(c.refreshToken)).toMatchObject(REFUSED);

      const d = await signIn(a.username);
      const e = await signIn(a.username);
      const changed = await server.http('PUT', '/v1/me/password', {
        token: d.token,
        body: { currentPassword: PASSWORD, newPassword: 'password-456' },
      });
      expect(changed.status).toBe(204);
      expect(await refresh(e.refreshToken)).toMatchObject(REFUSED);
      ok(await refresh(d.refreshToken)); // the session that changed it stays
    });

    it('GET /v1/sessions lists only the caller’s live sessions, with device, method, last seen, current', async () => {
      const a = await signUp({ refresh: true, deviceName: 'Chrome on Android' });
      const a2 = await signIn(a.username, { refresh: true, deviceName: 'Firefox on Linux' });
      const ended = await signIn(a.username, {});
      expect((await server.http('DELETE', '/v1/sessions/current', { token: ended.token })).status).toBe(204);
      const b = await signUp();

      const list = ok<{ sessions: Record<string, unknown>[] }>(await server.http('GET', '/v1/sessions', { token: a2.token }));
      expect(list.sessions).toHaveLength(2);
      expect(list.sessions).toEqual([
        expect.objectContaining({
          id: parts(a.refreshToken).id,
          deviceName: 'Chrome on Android',
          method: 'password',
          current: false,
          place: null,
        }),
        expect.objectContaining({ id: parts(a2.refreshToken).id, deviceName: 'Firefox on Linux', current: true, place: null }),
      ]);
      for (const s of list.sessions) {
        expect(Number.isNaN(Date.parse(String(s.createdAt)))).toBe(false);
        expect(Number.isNaN(Date.parse(String(s.lastSeenAt)))).toBe(false);
      }
      expect(JSON.stringify(list)).not.toContain(parts(b.refreshToken).id);

      // A refresh marks the session seen.
      const before = Date.parse(String(list.sessions[0]!.lastSeenAt));
      const a1 = ok(await refresh(a.refreshToken));
      const after = ok<{ sessions: { id: string; lastSeenAt: string }[] }>(await server.http('GET', '/v1/sessions', { token: a1.token }));
      expect(Date.parse(after.sessions.find((s) => s.id === parts(a.refreshToken).id)!.lastSeenAt)).toBeGreaterThanOrEqual(before);
    });

    it("DELETE /v1/sessions/:id ends one of the caller's sessions (4403); another user's id or an unknown one is the same 404", async () => {
      const a = await signUp();
      const a2 = await signIn(a.username);
      const b = await signUp();
      const bSocket = await socket(b.token);
      const a2Socket = await socket(a2.token);

      const theirs = await server.http('DELETE', `/v1/sessions/${parts(b.refreshToken).id}`, { token: a.token });
      const unknown = await server.http('DELETE', '/v1/sessions/s_doesnotexist0000', { token: a.token });
      const malformed = await server.http('DELETE', '/v1/sessions/..%2F', { token: a.token });
      expect(theirs).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
      expect(unknown).toEqual(theirs);
      expect(malformed.status).toBe(404);
      // B is untouched.
      expect(await bSocket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      ok(await refresh(b.refreshToken));

      expect((await server.http('DELETE', `/v1/sessions/${parts(a2.refreshToken).id}`, { token: a.token })).status).toBe(204);
      expect((await a2Socket.closed).code).toBe(4403);
      expect(await refresh(a2.refreshToken)).toMatchObject(REFUSED);
      expect((await server.http('GET', '/v1/me', { token: a2.token })).status).toBe(401);
      // Ending it again: gone, the same 404.
      expect(await server.http('DELETE', `/v1/sessions/${parts(a2.refreshToken).id}`, { token: a.token })).toEqual(theirs);
      const list = ok<{ sessions: { id: string }[] }>(await server.http('GET', '/v1/sessions', { token: a.token }));
      expect(list.sessions.map((s) => s.id)).toEqual([parts(a.refreshToken).id]);
    });

    it('the refresh body is checked', async () => {
      expect((await server.http('POST', '/v1/sessions/refresh', { body: {} })).status).toBe(400);
      expect((await server.http('POST', '/v1/sessions/refresh', { body: { refreshToken: 'x'.repeat(300) } })).status).toBe(400);
    });
  });
}

describe('refresh tokens: the retry grace, idle expiry, the rate limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { REFRESH_GRACE_S: '4', REFRESH_IDLE_TTL_S: '3', REFRESH_RATE_ADDRESS: '40/60' } });
  });
  afterAll(() => server?.stop());

  const signUp = async () =>
    ok<Signed>(await server.http('POST', '/v1/accounts', { body: { username: uniqueName('rg'), password: PASSWORD, refresh: true } }), 201);
  const refresh = (refreshToken: string) => server.http('POST', '/v1/sessions/refresh', { body: { refreshToken } });

  it('two refreshes with one token at once: both get the same new refresh token; the session lives on', async () => {
    const a = await signUp();
    const [x, y] = (await Promise.all([refresh(a.refreshToken), refresh(a.refreshToken)])).map((r) => ok(r));
    expect(x!.refreshToken).toBe(y!.refreshToken);
    expect(parts(x!.refreshToken).generation).toBe(1);
    ok(await refresh(x!.refreshToken));
  });

  it('a retry after a lost answer, within the grace: the same new refresh token again; after the grace, a replay', async () => {
    const a = await signUp();
    const lost = ok(await refresh(a.refreshToken));
    const retried = ok(await refresh(a.refreshToken));
    expect(retried.refreshToken).toBe(lost.refreshToken);
    expect((await server.http('GET', '/v1/me', { token: retried.token })).status).toBe(200);

    const b = await signUp();
    const next = ok(await refresh(b.refreshToken));
    await new Promise((r) => setTimeout(r, 5000));
    // The idle expiry (3 s) has passed too: the session is gone either way, and the answer is one.
    expect(await refresh(b.refreshToken)).toMatchObject(REFUSED);
    expect(await refresh(next.refreshToken)).toMatchObject(REFUSED);
  });

  it('a refresh token unused for REFRESH_IDLE_TTL_S expires; each use moves the expiry on', async () => {
    const a = await signUp();
    const left = (Date.parse(a.refreshExpiresAt) - Date.now()) / 1000;
    expect(left).toBeLessThanOrEqual(3.5);
    await new Promise((r) => setTimeout(r, 3500));
    expect(await refresh(a.refreshToken)).toMatchObject(REFUSED);
  });

  it('refreshes are limited per address (429 with Retry-After)', async () => {
    let limited: HttpResult | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const r = await refresh(`s_nosuchsession.0.${'C'.repeat(43)}`);
      if (r.status === 429) limited = r;
      else expect(r).toMatchObject(REFUSED);
    }
    expect(limited).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
  });
});

describe.skipIf(noScaleServers)('refresh tokens across replicas', () => {
  let redis: PrivateRedis;
  let set: ReplicaSet;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    set = await startReplicas(2, { redisUrl: redis.url, env: { REFRESH_GRACE_S: '0', REFRESH_RATE_ADDRESS: '100000/1' } });
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await set?.stop();
    await redis?.stop();
    await killAll();
  });

  const r = (i: number) => set.replicas[i]!;

  it('a replay seen by one replica closes the session’s sockets on the other (4403)', async () => {
    const username = uniqueName('rr');
    const a = ok<Signed>(await r(0).http('POST', '/v1/accounts', { body: { username, password: PASSWORD, refresh: true } }), 201);
    const rotated = ok(await r(1).http('POST', '/v1/sessions/refresh', { body: { refreshToken: a.refreshToken } }));
    const onOne = await connect(r(1).wsUrl, rotated.token);
    const onZero = await connect(r(0).wsUrl, rotated.token);
    sockets.push(onOne, onZero);
    expect(await r(0).http('POST', '/v1/sessions/refresh', { body: { refreshToken: a.refreshToken } })).toMatchObject(REFUSED);
    expect((await onOne.closed).code).toBe(4403);
    expect((await onZero.closed).code).toBe(4403);
    expect((await r(1).http('GET', '/v1/me', { token: rotated.token })).status).toBe(401);
  });

  it('DELETE /v1/sessions/:id on one replica closes that session’s socket on the other', async () => {
    const username = uniqueName('rd');
    const a = ok<Signed>(await r(0).http('POST', '/v1/accounts', { body: { username, password: PASSWORD, refresh: true } }), 201);
    const b = ok<Signed>(await r(1).http('POST', '/v1/sessions', { body: { username, password: PASSWORD, refresh: true } }));
    const bSocket = await connect(r(1).wsUrl, b.token);
    const aSocket = await connect(r(1).wsUrl, a.token);
    sockets.push(bSocket, aSocket);
    expect((await r(0).http('DELETE', `/v1/sessions/${parts(b.refreshToken).id}`, { token: a.token })).status).toBe(204);
    expect((await bSocket.closed).code).toBe(4403);
    expect(await aSocket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});
