import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, storageModes, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { tokenUser } from '../helpers/users.js';
import { connect, open, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §2: JWT verification, local accounts and sessions.

const secret = new TextEncoder().encode(TEST_SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const newSub = (label = 'jwt') => `${label}-${randomBytes(5).toString('hex')}`;

/** An HS256 token with the test secret and exactly the given claims. */
const hs256 = (claims: JWTPayload, alg = 'HS256') => new SignJWT(claims).setProtectedHeader({ alg }).sign(secret);

/** 401 over HTTP and at the WebSocket upgrade, and 4401 after an auth frame. */
async function expectRefused(server: TestServer, token: string, why: string) {
  const http = await server.http('GET', '/v1/me', { token });
  expect({ why, status: http.status, code: http.body?.error?.code }).toEqual({ why, status: 401, code: 'unauthorized' });
  await expect(open(server.wsUrl, { headers: { authorization: `Bearer ${token}` } }), why).rejects.toThrow('unexpected response 401');
  const s = await open(server.wsUrl);
  s.send({ type: 'auth', id: 'a', token });
  expect(await s.next((f) => f.re === 'a'), why).toMatchObject({ type: 'error', code: 'unauthorized' });
  expect((await s.closed).code, why).toBe(4401);
}

async function expectAccepted(server: TestServer, token: string, user: { id: string; name: string }) {
  const me = await server.http('GET', '/v1/me', { token });
  expect(me.status).toBe(200);
  expect(me.body.user).toMatchObject(user);
  const s = await connect(server.wsUrl, token);
  expect(s.frames[0]).toMatchObject({ type: 'ready', user });
  expect(s.frames[0]).not.toHaveProperty('re'); // authenticated by header
  s.terminate();
}

describe('JWT verification with JWT_SECRET (HS256)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('accepts a valid token and creates the user on first sight, named by the name claim', async () => {
    const sub = newSub();
    await expectAccepted(server, await hs256({ sub, name: 'Asha Rao', exp: now() + 60, iat: now() }), { id: sub, name: 'Asha Rao' });
    const unnamed = newSub();
    await expectAccepted(server, await hs256({ sub: unnamed, exp: now() + 60 }), { id: unnamed, name: unnamed });
    // A member can be added by id once seen.
    const owner = await tokenUser(server, 'owner');
    const group = await server.http('POST', '/v1/groups', { token: owner.token, body: { name: 'G', members: [sub] } });
    expect(group.status).toBe(201);
  });

  it('rejects alg none, other algorithms, bad signatures and bad claims', async () => {
    const sub = newSub();
    const claims = { sub, exp: now() + 60 };
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey: ed } = generateKeyPairSync('ed25519');
    const good = await hs256(claims);
    const cases: [string, string][] = [
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`],
      ['alg none, with a signature', `${b64({ alg: 'none' })}.${b64(claims)}.${good.split('.')[2]}`],
      ['HS384 with the right secret', await hs256(claims, 'HS384')],
      ['HS512 with the right secret', await hs256(claims, 'HS512')],
      ['RS256', await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(rsa)],
      ['EdDSA', await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).sign(ed)],
      ['another secret', await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('x'.repeat(40)))],
      ['a tampered payload', `${good.split('.')[0]}.${b64({ ...claims, sub: 'someone-else' })}.${good.split('.')[2]}`],
      ['expired', await hs256({ sub, exp: now() - 120 })],
      ['not yet valid (nbf)', await hs256({ sub, exp: now() + 600, nbf: now() + 300 })],
      ['no exp', await hs256({ sub })],
      ['no sub', await hs256({ exp: now() + 60 })],
      ['empty sub', await hs256({ sub: '', exp: now() + 60 })],
      ['sub over 64 characters', await hs256({ sub: 's'.repeat(65), exp: now() + 60 })],
      ['sub not a string', await hs256({ sub: 42 as unknown as string, exp: now() + 60 })],
      ['garbage', 'a.b.c'],
    ];
    for (const [why, token] of cases) await expectRefused(server, token, why);
    // None of them created a user.
    const owner = await tokenUser(server, 'owner');
    // (An unknown id is answered like anyone not added, and only an existing user who lets anyone
    // add them would be a member: DEFAULT_GROUP_ADD is `everyone` in tests.)
    const r = await server.http('POST', '/v1/groups', { token: owner.token, body: { name: 'G', members: [sub] } });
    expect(r.status).toBe(201);
    expect(r.body.invited).toEqual([sub]);
    expect(r.body.group.memberCount).toBe(1);
    // A 64-character sub is fine.
    const long = 'L'.repeat(64);
    await expectAccepted(server, await hs256({ sub: long, exp: now() + 60 }), { id: long, name: long });
  });

  it('refuses a token issued in the future, past 60 s of clock skew', async () => {
    const sub = newSub();
    await expectRefused(server, await hs256({ sub, exp: now() + 7200, iat: now() + 3600 }), 'iat an hour ahead');
    await expectAccepted(server, await hs256({ sub, exp: now() + 600, iat: now() + 30 }), { id: sub, name: sub });
  });

  it('closes a live socket with 4401 when its token expires', async () => {
    const user = await tokenUser(server, 'short', { ttlSeconds: 2 });
    const byHeader = await connect(server.wsUrl, user.token);
    const byFrame = await open(server.wsUrl);
    byFrame.send({ type: 'auth', id: 'a', token: user.token });
    await byFrame.next((f) => f.type === 'ready');
    const started = Date.now();
    const closes = await Promise.all([byHeader.closed, byFrame.closed]);
    expect(closes.map((c) => c.code)).toEqual([4401, 4401]);
    expect(Date.now() - started).toBeLessThan(3500);
  });
});

describe('JWT_ISSUER and JWT_AUDIENCE', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { JWT_ISSUER: 'https://id.example.org', JWT_AUDIENCE: 'banyan' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('checks iss and aud when configured', async () => {
    const sub = newSub();
    const base = { sub, exp: now() + 60 };
    await expectRefused(server, await hs256(base), 'no iss/aud');
    await expectRefused(server, await hs256({ ...base, iss: 'https://evil.example.org', aud: 'banyan' }), 'wrong iss');
    await expectRefused(server, await hs256({ ...base, iss: 'https://id.example.org', aud: 'other' }), 'wrong aud');
    await expectRefused(server, await hs256({ ...base, iss: 'https://id.example.org' }), 'no aud');
    await expectAccepted(server, await hs256({ ...base, iss: 'https://id.example.org', aud: 'banyan' }), { id: sub, name: sub });
    // Tokens the server mints itself (local accounts) carry both.
    await expectAccepted(server, await server.token(`${sub}-own`), { id: `${sub}-own`, name: `${sub}-own` });
  });
});

describe.each([
  ['Ed25519', 'EdDSA', () => generateKeyPairSync('ed25519')],
  ['ES256 (P-256)', 'ES256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
] as const)('JWT_PUBLIC_KEY with an %s key, local accounts off', (_name, alg, generate) => {
  let server: TestServer;
  const keys = generate();
  const other = generate();
  const pem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  beforeAll(async () => {
    server = await startServer({ env: { JWT_PUBLIC_KEY: pem, LOCAL_ACCOUNTS: 'off' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(`accepts ${alg} tokens of the key and rejects others`, async () => {
    const sub = newSub('ext');
    const claims = { sub, name: 'From the IdP', exp: now() + 60 };
    await expectAccepted(server, await new SignJWT(claims).setProtectedHeader({ alg }).sign(keys.privateKey), {
      id: sub,
      name: 'From the IdP',
    });
    await expectRefused(server, await new SignJWT(claims).setProtectedHeader({ alg }).sign(other.privateKey), 'another key');
    // Algorithm confusion: HS256 "signed" with the public key's text as the secret.
    await expectRefused(
      server,
      await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem)),
      'HS256 with the public key',
    );
    const otherAlg = alg === 'EdDSA' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519');
    await expectRefused(
      server,
      await new SignJWT(claims).setProtectedHeader({ alg: alg === 'EdDSA' ? 'ES256' : 'EdDSA' }).sign(otherAlg.privateKey),
      'the other algorithm',
    );
    await expectRefused(
      server,
      await new SignJWT({ ...claims, exp: now() - 60 }).setProtectedHeader({ alg }).sign(keys.privateKey),
      'expired',
    );
  });

  it('has no local accounts endpoints', async () => {
    const signUp = await server.http('POST', '/v1/accounts', { body: { username: 'someone', password: 'password-123' } });
    expect(signUp).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const signIn = await server.http('POST', '/v1/sessions', { body: { username: 'someone', password: 'password-123' } });
    expect(signIn).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    // Not available whatever the body says.
    const invalid = await server.http('POST', '/v1/accounts', { body: {} });
    expect(invalid.status).toBe(404);
  });
});

describe.each(storageModes())('local accounts and sessions (%s)', (mode) => {
  let server: TestServer;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    server = await startServer({ mode });
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
  });

  it('signs up (201, 409 when taken), validates username and password (400), signs in (200, 401)', async () => {
    const username = `acct_${randomBytes(4).toString('hex')}`;
    const up = await server.http('POST', '/v1/accounts', { body: { username, password: 'correct horse', name: 'Asha' } });
    expect(up.status).toBe(201);
    expect(up.body).toEqual({
      user: { id: expect.any(String), name: 'Asha' },
      token: expect.any(String),
      expiresAt: expect.any(String),
      device: expect.any(String),
      recoveryCodes: expect.any(Array),
    });
    expect(new Date(up.body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);
    const taken = await server.http('POST', '/v1/accounts', { body: { username, password: 'another one' } });
    expect(taken).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });

    for (const [body, field] of [
      [{ username: 'ab', password: 'password-123' }, 'username'],
      [{ username: 'Upper', password: 'password-123' }, 'username'],
      [{ username: 'has space', password: 'password-123' }, 'username'],
      [{ username: 'x'.repeat(33), password: 'password-123' }, 'username'],
      [{ username: 'fine_name', password: 'short' }, 'password'],
      [{ username: 'fine_name', password: 'p'.repeat(257) }, 'password'],
      [{ password: 'password-123' }, 'username'],
    ] as const) {
      const r = await server.http('POST', '/v1/accounts', { body });
      expect({ body, status: r.status, paths: r.body.error.details.issues.map((i: { path: string }) => i.path) }).toEqual({
        body,
        status: 400,
        paths: [field],
      });
    }

    const signIn = await server.http('POST', '/v1/sessions', { body: { username, password: 'correct horse' } });
    expect(signIn.status).toBe(200);
    expect(signIn.body.user).toEqual(up.body.user);
    expect(signIn.body.token).not.toBe(up.body.token);
    for (const body of [
      { username, password: 'wrong horse' },
      { username: `${username}x`, password: 'correct horse' },
    ]) {
      const r = await server.http('POST', '/v1/sessions', { body });
      expect(r).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    }
  });

  it('DELETE /v1/sessions/current ends that session: its sockets close with 4403, the other session stays, the token is refused', async () => {
    const username = `sess_${randomBytes(4).toString('hex')}`;
    const first = (await server.http('POST', '/v1/accounts', { body: { username, password: 'password-123' } })).body;
    const second = (await server.http('POST', '/v1/sessions', { body: { username, password: 'password-123' } })).body;
    const a1 = await connect(server.wsUrl, first.token);
    const a2 = await open(server.wsUrl);
    a2.send({ type: 'auth', id: 'a', token: first.token });
    await a2.next((f) => f.type === 'ready');
    const b = await connect(server.wsUrl, second.token);
    sockets.push(a1, a2, b);

    expect(await server.http('DELETE', '/v1/sessions/current', { token: first.token })).toMatchObject({ status: 204 });
    expect((await a1.closed).code).toBe(4403);
    expect((await a2.closed).code).toBe(4403);
    expect(await b.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    await expectRefused(server, first.token, 'revoked session');
    expect((await server.http('GET', '/v1/me', { token: second.token })).status).toBe(200);
  });

  it('revokes the session of an external token that carries sid', async () => {
    const sub = newSub('ext');
    const sid = `idp-session-${randomBytes(4).toString('hex')}`;
    const { token } = await server.app.tokens.sign({ userId: sub, name: sub, sessionId: sid, ttlSeconds: 600 });
    const { token: otherSession } = await server.app.tokens.sign({ userId: sub, name: sub, sessionId: `${sid}-2`, ttlSeconds: 600 });
    const s = await connect(server.wsUrl, token);
    sockets.push(s);
    expect((await server.http('DELETE', '/v1/sessions/current', { token })).status).toBe(204);
    expect((await s.closed).code).toBe(4403);
    await expectRefused(server, token, 'revoked external session');
    expect((await server.http('GET', '/v1/me', { token: otherSession })).status).toBe(200);
  });

  it("does not end another user's session that has the same external sid", async () => {
    const sid = `idp-session-${randomBytes(4).toString('hex')}`;
    const [mine, theirs] = await Promise.all(
      ['me', 'them'].map(async (label) => {
        const sub = newSub(label);
        return (await server.app.tokens.sign({ userId: sub, name: sub, sessionId: sid, ttlSeconds: 600 })).token;
      }),
    );
    const theirSocket = await connect(server.wsUrl, theirs!);
    sockets.push(theirSocket);
    expect((await server.http('DELETE', '/v1/sessions/current', { token: mine })).status).toBe(204);
    await expectRefused(server, mine!, 'my revoked session');
    expect((await server.http('GET', '/v1/me', { token: theirs })).status).toBe(200);
    const again = await connect(server.wsUrl, theirs!);
    sockets.push(again);
    expect(await theirSocket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });

    // And the other user can still sign that session out: my row does not stand in the way.
    expect((await server.http('DELETE', '/v1/sessions/current', { token: theirs })).status).toBe(204);
    expect((await theirSocket.closed).code).toBe(4403);
    await expectRefused(server, theirs!, 'their revoked session');
  });
});
