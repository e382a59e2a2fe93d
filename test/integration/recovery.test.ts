import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { startServer, storageModes, uniqueName, type TestServer, type TestUser } from '../helpers/server.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';
import { accounts, recoveryCodes, signInLinks } from '../../src/platform/db/schema.js';
import { call } from '../helpers/addresses.js';
import { PasswordHasher } from '../../src/features/accounts/password.js';

// Issue 29, item 4 (recovery codes and operators' sign-in links) and item 5 (Argon2id), with the
// attacks: code guessing and replay, enumeration by answer, a community or group admin trying to
// take over a member's account, a plain token issuing links.

const PASSWORD = 'password-123';

describe.each(storageModes())('recovery codes and sign-in links (%s)', (mode) => {
  let server: TestServer;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    server = await startServer({ mode });
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
  });
  const open = async (token: string) => {
    const s = await connect(server.wsUrl, token);
    sockets.push(s);
    return s;
  };
  const signUp = async (username = uniqueName()) => {
    const r = await server.http('POST', '/v1/accounts', { body: { username, password: PASSWORD } });
    expect(r.status).toBe(201);
    return { username, id: r.body.user.id as string, token: r.body.token as string, codes: r.body.recoveryCodes as string[] };
  };
  const recover = (body: Record<string, unknown>) => server.http('POST', '/v1/accounts/recover', { body });
  const signIn = (username: string, password: string) => server.http('POST', '/v1/sessions', { body: { username, password } });
  const left = async (token: string) => (await server.http('GET', '/v1/me/recovery-codes', { token })).body.remaining as number;

  it('a password sign-up gets ten distinct codes, shown once and stored only as hashes; new hashes are Argon2id', async () => {
    const user = await signUp();
    expect(user.codes).toHaveLength(10);
    expect(new Set(user.codes).size).toBe(10);
    for (const code of user.codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
    const db = server.app.storage.db;
    const stored = await db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, user.id));
    expect(stored).toHaveLength(10);
    const all = JSON.stringify(stored);
    for (const code of user.codes) expect(all).not.toContain(code.replace(/-/g, '').toUpperCase());
    const [account] = await db.select({ h: accounts.passwordHash }).from(accounts).where(eq(accounts.userId, user.id));
    expect(account!.h).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/);
    expect(await left(user.token)).toBe(10);
    // A sign-in shows none.
    expect((await signIn(user.username, PASSWORD)).body.recoveryCodes).toBeUndefined();
  });

  it('a code sets a new password, ends every other session (4403) and signs in; it works once', async () => {
    const user = await signUp();
    const other = (await signIn(user.username, PASSWORD)).body.token as string;
    const [a, b] = [await open(user.token), await open(other)];
    const r = await recover({ username: user.username, recoveryCode: user.codes[0], newPassword: 'new-password-456', deviceName: 'Phone' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ user: { id: user.id }, token: expect.any(String), expiresAt: expect.any(String) });
    expect([(await a.closed).code, (await b.closed).code]).toEqual([4403, 4403]);
    for (const token of [user.token, other]) expect((await server.http('GET', '/v1/me', { token })).status).toBe(401);
    const fresh = r.body.token as string;
    expect((await server.http('GET', '/v1/me', { token: fresh })).status).toBe(200);
    const socket = await open(fresh);
    expect(await socket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect((await signIn(user.username, PASSWORD)).status).toBe(401);
    expect((await signIn(user.username, 'new-password-456')).status).toBe(200);
    expect(await left(fresh)).toBe(9);

    // Replayed: refused like a wrong code, and the password stays.
    const replay = await recover({ username: user.username, recoveryCode: user.codes[0], newPassword: 'stolen-password-789' });
    expect(replay).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect((await signIn(user.username, 'new-password-456')).status).toBe(200);
    // Typed loosely (upper case, no dashes, spaces) it still counts.
    const loose = ` ${user.codes[1]!.replace(/-/g, '').toUpperCase()} `;
    expect((await recover({ username: user.username, recoveryCode: loose, newPassword: 'another-password-1' })).status).toBe(200);
  });

  it('a wrong code, another account’s code and an unknown username answer alike', async () => {
    const [user, stranger] = [await signUp(), await signUp()];
    const answers = [
      await recover({ username: user.username, recoveryCode: 'aaaa-bbbb-cccc', newPassword: 'new-password-456' }),
      await recover({ username: user.username, recoveryCode: stranger.codes[0], newPassword: 'new-password-456' }),
      await recover({ username: uniqueName('nobody'), recoveryCode: user.codes[0], newPassword: 'new-password-456' }),
    ];
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(401);
    // Nothing was used up.
    expect(await left(user.token)).toBe(10);
    expect(await left(stranger.token)).toBe(10);
    expect((await recover({ username: '', recoveryCode: 'x', newPassword: 'short' })).status).toBe(400);
  });

  it('guessing codes is limited like signing in: locked after the free failures, whatever the code', async () => {
    const limited = await startServer({ mode, env: { TRUST_PROXY: 'on', SIGNIN_FREE_FAILS: '3', SIGNIN_MAX_DELAY_S: '3600' } });
    try {
      const username = uniqueName();
      const up = await limited.http('POST', '/v1/accounts', { body: { username, password: PASSWORD } });
      const codes = up.body.recoveryCodes as string[];
      const guess = (recoveryCode: string) =>
        call(limited.url, 'POST', '/v1/accounts/recover', {
          body: { username, recoveryCode, newPassword: 'new-password-456' },
          address: '127.0.0.9',
        });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await guess(`zzzz-zzzz-zz${i}0`)).status);
      expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
      expect(statuses.slice(4)).toEqual([429]);
      // The right code is refused too while locked.
      const right = await guess(codes[0]!);
      expect(right.status).toBe(429);
      expect(right.retryAfter).not.toBeNull();
    } finally {
      await limited.stop();
    }
  });

  it('POST /v1/me/recovery-codes needs the password and replaces the set; the old codes die', async () => {
    const user = await signUp();
    const wrong = await server.http('POST', '/v1/me/recovery-codes', { token: user.token, body: { password: 'not-mine-at-all' } });
    expect(wrong).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    const r = await server.http('POST', '/v1/me/recovery-codes', { token: user.token, body: { password: PASSWORD } });
    expect(r.status).toBe(201);
    expect(r.body.recoveryCodes).toHaveLength(10);
    expect(r.body.recoveryCodes.filter((c: string) => user.codes.includes(c))).toEqual([]);
    expect((await recover({ username: user.username, recoveryCode: user.codes[0], newPassword: 'new-password-456' })).status).toBe(401);
    expect(await left(user.token)).toBe(10);
    expect(
      (await recover({ username: user.username, recoveryCode: r.body.recoveryCodes[3], newPassword: 'new-password-456' })).status,
    ).toBe(200);
    expect((await server.http('GET', '/v1/me/recovery-codes', {})).status).toBe(401);
  });

  it('an operator creates an account without a password and a one-time link signs it in, once', async () => {
    const operator = await server.token('ngo-coordinator', { scope: 'server' });
    const username = uniqueName('senior');
    const created = await server.http('POST', '/v1/accounts', { token: operator, body: { username, name: 'Kamala Devi' } });
    expect(created).toMatchObject({ status: 201, body: { user: { name: 'Kamala Devi' }, username } });
    expect(created.body.token).toBeUndefined();
    expect((await server.http('POST', '/v1/accounts', { token: operator, body: { username } })).status).toBe(409);
    // No password: a password sign-in fails as any wrong one does.
    expect((await signIn(username, 'anything-at-all')).status).toBe(401);

    const link = await server.http('POST', '/v1/sign-in-links', { token: operator, body: { username } });
    expect(link.status).toBe(201);
    expect(link.body.url).toBe(`/#/link/${link.body.code}`);
    expect(Buffer.from(link.body.code, 'base64url').length).toBe(32);
    const ttl = Date.parse(link.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(23.9 * 3600_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000);
    const stored = await server.app.storage.db.select().from(signInLinks).where(eq(signInLinks.userId, created.body.user.id));
    expect(JSON.stringify(stored)).not.toContain(link.body.code);

    const redeemed = await server.http('POST', '/v1/sign-in-links/redeem', { body: { code: link.body.code, deviceName: 'Tablet' } });
    expect(redeemed).toMatchObject({ status: 200, body: { user: { id: created.body.user.id, name: 'Kamala Devi' } } });
    expect((await server.http('GET', '/v1/me', { token: redeemed.body.token })).status).toBe(200);
    // Replayed: 401. A new link for an account that has had a session: 409.
    const again = await server.http('POST', '/v1/sign-in-links/redeem', { body: { code: link.body.code } });
    expect(again).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect((await server.http('POST', '/v1/sign-in-links', { token: operator, body: { username } })).status).toBe(409);
    expect((await server.http('POST', '/v1/sign-in-links', { token: operator, body: { username: uniqueName('nobody') } })).status).toBe(
      404,
    );
    expect((await server.http('POST', '/v1/sign-in-links/redeem', { body: { code: 'made-up-code' } })).status).toBe(401);
  });

  it('a newer link replaces the older one; no link for an account that has signed in', async () => {
    const operator = await server.token('ngo-coordinator', { scope: 'server' });
    const username = uniqueName('senior');
    expect((await server.http('POST', '/v1/accounts', { token: operator, body: { username } })).status).toBe(201);
    const first = (await server.http('POST', '/v1/sign-in-links', { token: operator, body: { username } })).body.code;
    const second = (await server.http('POST', '/v1/sign-in-links', { token: operator, body: { username } })).body.code;
    expect((await server.http('POST', '/v1/sign-in-links/redeem', { body: { code: first } })).status).toBe(401);
    expect((await server.http('POST', '/v1/sign-in-links/redeem', { body: { code: second } })).status).toBe(200);

    // An account that has signed in (here with a password) gets none.
    const withPassword = await signUp();
    const link = await server.http('POST', '/v1/sign-in-links', { token: operator, body: { username: withPassword.username } });
    expect(link.status).toBe(409);
  });

  it('nobody but an operator issues links or makes password-less accounts; admins cannot take over a member', async () => {
    const admin = await signUp();
    const member = await signUp();
    const c = await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Seniors club' } });
    const invite = await server.http('POST', `/v1/communities/${c.body.community.id}/invites`, { token: admin.token, body: {} });
    expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: member.token })).status).toBe(200);
    const group = await server.http('POST', '/v1/groups', { token: admin.token, body: { name: 'Walks', members: [member.id] } });
    expect(group.status).toBe(201);

    // A community (and group) admin: no link, no password-less account, no link for the member.
    const asAdmin = { token: admin.token };
    expect((await server.http('POST', '/v1/sign-in-links', { ...asAdmin, body: { username: member.username } })).status).toBe(403);
    const plainAccount = await server.http('POST', '/v1/accounts', { ...asAdmin, body: { username: uniqueName('fake') } });
    expect(plainAccount.status).toBe(403);
    expect((await server.http('POST', '/v1/accounts', { body: { username: uniqueName('fake') } })).status).toBe(401);
    // Every own-account endpoint acts on the caller: the admin's calls change only the admin's codes and password.
    const mine = await server.http('POST', '/v1/me/recovery-codes', { ...asAdmin, body: { password: PASSWORD } });
    expect(mine.status).toBe(201);
    expect(await left(member.token)).toBe(10);
    expect(
      (await recover({ username: member.username, recoveryCode: mine.body.recoveryCodes[0], newPassword: 'taken-over-1' })).status,
    ).toBe(401);
    expect(
      (await server.http('PUT', '/v1/me/password', { ...asAdmin, body: { currentPassword: PASSWORD, newPassword: 'taken-over-1' } }))
        .status,
    ).toBe(204);
    expect((await signIn(member.username, PASSWORD)).status).toBe(200);
    expect((await signIn(member.username, 'taken-over-1')).status).toBe(401);
    // The request bodies name no one else: extra fields are ignored, never obeyed.
    const sneaky = await server.http('POST', '/v1/me/recovery-codes', {
      ...asAdmin,
      body: { password: 'taken-over-1', userId: member.id, username: member.username },
    });
    expect(sneaky.status).toBe(201);
    expect(await left(member.token)).toBe(10);
    // An operator cannot redeem for a member who has signed in, either.
    const operator = await server.token('ngo-coordinator', { scope: 'server' });
    expect((await server.http('POST', '/v1/sign-in-links', { token: operator, body: { username: member.username } })).status).toBe(409);
  });
});

describe('password hashes', () => {
  let server: TestServer;
  beforeAll(async () => {
    // OWASP's parameters, as they ship.
    server = await startServer({ mode: 'pglite', env: { ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '2' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a weaker Argon2id hash is rehashed at the next sign-in; an unknown username costs a hash too', async () => {
    const user: TestUser = await server.signUp();
    const db = server.app.storage.db;
    const stored = async () => (await db.select({ h: accounts.passwordHash }).from(accounts).where(eq(accounts.userId, user.id)))[0]!.h!;
    expect(await stored()).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const weak = new PasswordHasher({ scheme: 'argon2id', argon2MemoryKiB: 1024, argon2TimeCost: 1, scryptLogN: 15 });
    await db
      .update(accounts)
      .set({ passwordHash: await weak.hash(PASSWORD) })
      .where(eq(accounts.userId, user.id));
    expect(await stored()).toMatch(/m=1024,t=1,p=1/);
    const username = (await db.select({ u: accounts.username }).from(accounts).where(eq(accounts.userId, user.id)))[0]!.u;
    expect((await server.http('POST', '/v1/sessions', { body: { username, password: PASSWORD } })).status).toBe(200);
    expect(await stored()).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const unknown = await server.http('POST', '/v1/sessions', { body: { username: uniqueName('nobody'), password: PASSWORD } });
    expect(unknown.status).toBe(401);
  });
});
