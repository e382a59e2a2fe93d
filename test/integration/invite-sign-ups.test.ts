import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanHttp } from '../../src/client/http.js';
import { invites } from '../../src/platform/db/schema.js';
import { loadConfig } from '../../src/platform/config.js';
import { startServer, storageModes, uniqueName, type TestServer, type TestUser } from '../helpers/server.js';
import { range, tokenUser } from '../helpers/users.js';
import { type Answer, call, randomAddress } from '../helpers/addresses.js';
import { open } from '../helpers/ws-client.js';

// Issue 28 (2): limits that suit shared addresses. A school's parents on one Wi-Fi, or thousands of
// phones behind a carrier's CGNAT, sign up through their community's invite link: each sign-up is
// counted against the invite's maxUses (the admin's consent), not the address; members with an
// account are counted by it, not by the address they share.

const PASSWORD = 'password-123';
/** Empty: the setting's default (config.ts), as a server out of the box has it. */
const defaultLimits = {
  HTTP_RATE_ADDRESS: '',
  HTTP_RATE_ADDRESS_ALL: '',
  HTTP_RATE_USER: '',
  SIGNIN_RATE_ADDRESS: '',
  SIGNIN_RATE_USERNAME: '',
  SIGNUP_RATE_ADDRESS: '',
  PASSWORD_LINE_PER_KEY: '',
  PASSWORD_LINE_MAX: '',
};
const defaults = loadConfig({}).limits;
/** The last storage mode: PostgreSQL when DATABASE_URL is set (as CI runs), else PGlite. */
const mode = storageModes().at(-1)!;

/** Runs `jobs` with at most `width` at a time (a client holds at most PASSWORD_LINE_PER_KEY places). */
async function inTurns<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < jobs.length; i = next++) results[i] = await jobs[i]!();
  };
  await Promise.all(range(1, width).map(worker));
  return results;
}

const signUp = (server: TestServer, address: string, extra: { invite?: string; username?: string } = {}) =>
  call(server.url, 'POST', '/v1/accounts', {
    body: { username: extra.username ?? uniqueName('p'), password: PASSWORD, ...(extra.invite ? { invite: extra.invite } : {}) },
    address,
  });

async function community(server: TestServer, admin: TestUser, settings: Record<string, unknown> = {}) {
  const r = await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'School parents', settings } });
  expect(r.status).toBe(201);
  return r.body.community as { id: string; announcementGroupId: string };
}

async function invite(server: TestServer, admin: TestUser, communityId: string, body: Record<string, unknown>) {
  const r = await server.http('POST', `/v1/communities/${communityId}/invites`, { token: admin.token, body });
  expect(r.status).toBe(201);
  return r.body.code as string;
}

async function usesOf(server: TestServer, code: string) {
  const [row] = await server.app.storage.db.select({ uses: invites.uses }).from(invites).where(eq(invites.code, code));
  return row!.uses;
}

async function memberCount(server: TestServer, admin: TestUser, communityId: string) {
  return (await server.http('GET', `/v1/communities/${communityId}`, { token: admin.token })).body.community.memberCount as number;
}

const statuses = (answers: Answer[]) => answers.map((a) => a.status);

describe(`sign-ups through an invite, with the default limits (${mode})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode, env: { ...defaultLimits, TRUST_PROXY: 'on', SCRYPT_LOG_N: '14' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(
    '500 sign-ups through one link (maxUses 500) from one address all join; the 501st is refused and costs the address, not the invite',
    async () => {
      const admin = await tokenUser(server, 'admin');
      const c = await community(server, admin);
      const code = await invite(server, admin, c.id, { maxUses: 500 });
      const address = randomAddress();
      const started = performance.now();
      const answers = await inTurns(
        range(1, 500).map(() => () => signUp(server, address, { invite: code })),
        defaults.passwordLine.perKey,
      );
      expect(performance.now() - started).toBeLessThan(10 * 60_000);
      expect(statuses(answers).filter((s) => s !== 201)).toEqual([]);
      for (const a of answers) expect(a.body.invite).toMatchObject({ status: 'joined', community: { id: c.id } });
      expect(await usesOf(server, code)).toBe(500);
      expect(await memberCount(server, admin, c.id)).toBe(501);
      // A new member's token works at once, and they see the community.
      const me = await call(server.url, 'GET', '/v1/me', { token: answers[499]!.body.token, address });
      expect(me.body.communities).toEqual([expect.objectContaining({ id: c.id })]);

      // Used up: answered as joining by it would be, no account made, no use taken.
      const late = uniqueName('late');
      const refused = await signUp(server, address, { invite: code, username: late });
      expect(refused).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
      expect(await usesOf(server, code)).toBe(500);
      expect((await call(server.url, 'POST', '/v1/sessions', { body: { username: late, password: PASSWORD }, address })).status).toBe(401);

      // The address's own sign-ups were untouched by the 500; the refused one took one of them.
      const plain = await inTurns(
        range(1, defaults.signUp.points).map(() => () => signUp(server, address)),
        defaults.passwordLine.perKey,
      );
      expect(statuses(plain)).toEqual([...range(1, defaults.signUp.points - 1).map(() => 201), 429]);
      // The bound is ten minutes for the 500 (checked above); the rest gets room on a busy machine.
    },
    15 * 60_000,
  );

  it('a group link of a community that approves joins: the new accounts ask to join, and admins see their requests', async () => {
    const admin = await tokenUser(server, 'admin');
    const c = await community(server, admin, { approvalRequired: true });
    const group = await server.http('POST', `/v1/communities/${c.id}/groups`, { token: admin.token, body: { name: 'Class 4B' } });
    const code = await invite(server, admin, c.id, { maxUses: 5, groupId: group.body.group.id });
    const address = randomAddress();
    const answers = await Promise.all(range(1, 3).map(() => signUp(server, address, { invite: code })));
    expect(statuses(answers)).toEqual([201, 201, 201]);
    for (const a of answers) expect(a.body.invite).toEqual({ status: 'pending' });
    const requests = await server.http('GET', `/v1/communities/${c.id}/requests`, { token: admin.token });
    expect(requests.body.requests.map((r: { userId: string }) => r.userId).sort()).toEqual(answers.map((a) => a.body.user.id).sort());
    expect(await usesOf(server, code)).toBe(3);
  });
});

describe(`invites that carry no allowance (${mode})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode, env: { TRUST_PROXY: 'on', SCRYPT_LOG_N: '14', SIGNUP_RATE_ADDRESS: '3/3600' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('an invite without maxUses joins, but is held to the address limit; one with maxUses still works from that address', async () => {
    const admin = await tokenUser(server, 'admin');
    const c = await community(server, admin);
    const unlimited = await invite(server, admin, c.id, {});
    const limited = await invite(server, admin, c.id, { maxUses: 2 });
    const address = randomAddress();
    const answers = [];
    for (const _ of range(1, 4)) answers.push(await signUp(server, address, { invite: unlimited }));
    expect(statuses(answers)).toEqual([201, 201, 201, 429]);
    expect(answers[0]!.body.invite).toMatchObject({ status: 'joined' });
    expect((await signUp(server, address, { invite: limited })).status).toBe(201);
    expect(await memberCount(server, admin, c.id)).toBe(5);
  });

  it('unknown and revoked codes answer as joining by them would, without a hash, and cost the address: probing is limited', async () => {
    const admin = await tokenUser(server, 'admin');
    const c = await community(server, admin);
    const revoked = await invite(server, admin, c.id, { maxUses: 100 });
    expect((await server.http('DELETE', `/v1/communities/${c.id}/invites/${revoked}`, { token: admin.token })).status).toBe(204);
    const address = randomAddress();
    const answers = [];
    for (const code of ['no-such-code', revoked, 'another-guess', revoked]) answers.push(await signUp(server, address, { invite: code }));
    expect(statuses(answers)).toEqual([404, 404, 404, 429]);
    expect(answers[0]!.body).toEqual(answers[1]!.body);
    expect(await memberCount(server, admin, c.id)).toBe(1);
  });

  it('every attempt through an invite takes a use, a taken username too: an invite buys no more tries than maxUses', async () => {
    const admin = await tokenUser(server, 'admin');
    const c = await community(server, admin);
    const code = await invite(server, admin, c.id, { maxUses: 2 });
    const taken = await server.signUp();
    const address = randomAddress();
    const first = await signUp(server, address, { invite: code, username: taken.name });
    expect(first).toMatchObject({ status: 409, body: { error: { message: 'username is taken' } } });
    expect((await signUp(server, address, { invite: code })).status).toBe(201);
    const third = await signUp(server, address, { invite: code });
    expect(third).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(third.body.error.message).not.toBe('username is taken');
    expect(await usesOf(server, code)).toBe(2);
    expect(await memberCount(server, admin, c.id)).toBe(2);
  });
});

describe(`the SDK (${mode})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode, env: { SCRYPT_LOG_N: '14' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('signUp takes the invite and answers what joining did', async () => {
    const admin = await tokenUser(server, 'admin');
    const c = await community(server, admin);
    const code = await invite(server, admin, c.id, { maxUses: 3 });
    const http = new BanyanHttp({ url: server.url });
    const signedIn = await http.signUp({ username: uniqueName('sdk'), password: PASSWORD, invite: code });
    expect(signedIn.invite).toMatchObject({ status: 'joined', community: { id: c.id } });
    const plain = await http.signUp({ username: uniqueName('sdk'), password: PASSWORD });
    expect(plain.invite).toBeUndefined();
  });
});

describe(`the last uses, raced for (${mode}${mode === 'postgres' ? ', two replicas' : ''})`, () => {
  const servers: TestServer[] = [];
  beforeAll(async () => {
    const env = { TRUST_PROXY: 'on', SCRYPT_LOG_N: '14', PASSWORD_LINE_PER_KEY: '', SIGNUP_RATE_ADDRESS: '' };
    servers.push(await startServer({ mode, env }));
    // Two replicas on one PostgreSQL: the use is taken in the database, whichever replica asks.
    if (mode === 'postgres') servers.push(await startServer({ mode, env }));
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('concurrent sign-ups never pass maxUses: exactly the uses left succeed and join', async () => {
    const [first] = servers as [TestServer];
    const admin = await tokenUser(first, 'admin');
    const c = await community(first, admin);
    const code = await invite(first, admin, c.id, { maxUses: 10 });
    // Four addresses, each with as many at once as the password line lets it, on every replica.
    const racers = servers.flatMap((server) =>
      range(1, 4).flatMap(() => {
        const address = randomAddress();
        return range(1, defaults.passwordLine.perKey).map(() => signUp(server, address, { invite: code }));
      }),
    );
    const answers = await Promise.all(racers);
    expect(statuses(answers).filter((s) => s === 201)).toHaveLength(10);
    expect(statuses(answers).filter((s) => s !== 201)).toEqual(range(11, answers.length).map(() => 409));
    expect(await usesOf(first, code)).toBe(10);
    expect(await memberCount(first, admin, c.id)).toBe(11);
  });
});

describe('members behind one address are counted by their account', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({
      env: { TRUST_PROXY: 'on', HTTP_RATE_ADDRESS: '5/60', HTTP_RATE_USER: '5/60', HTTP_RATE_ADDRESS_ALL: '1000/60' },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('two members do not exhaust each other, nor does anonymous traffic or a bad token from their address exhaust them', async () => {
    const [asha, ben] = [await tokenUser(server, 'asha'), await tokenUser(server, 'ben')];
    const address = randomAddress();
    const me = (token?: string) => call(server.url, 'GET', '/v1/me', { address, ...(token ? { token } : {}) });
    // tokenUser made one request each already (from another address).
    const ashas = [];
    for (const _ of range(1, 5)) ashas.push(await me(asha.token));
    expect(statuses(ashas)).toEqual([200, 200, 200, 200, 429]);
    // Without a token, the address's own limit: five, then refused; a bad token counts the same.
    const anonymous = [];
    for (const _ of range(1, 5)) anonymous.push(await me());
    anonymous.push(await me('not-a-token'));
    expect(statuses(anonymous)).toEqual([401, 401, 401, 401, 401, 429]);
    // Ben, behind the same address, has his whole allowance.
    const bens = [];
    for (const _ of range(1, 3)) bens.push(await me(ben.token));
    expect(statuses(bens)).toEqual([200, 200, 200]);
    // So does his socket, with the token in the upgrade; one without a token, or with a bad one, is the address's.
    const upgrade = (authorization?: string) =>
      open(server.wsUrl, { headers: { 'x-forwarded-for': address, ...(authorization ? { authorization } : {}) } }).then(
        (socket) => {
          socket.terminate();
          return 101;
        },
        (err: Error) => Number(/unexpected response (\d+)/.exec(err.message)?.[1] ?? 0),
      );
    expect([await upgrade(`Bearer ${ben.token}`), await upgrade(), await upgrade('Bearer not-a-token')]).toEqual([101, 429, 429]);
  });

  it('the backstop counts every request of an address', async () => {
    const backstopped = await startServer({
      env: { TRUST_PROXY: 'on', HTTP_RATE_ADDRESS: '100/60', HTTP_RATE_USER: '100/60', HTTP_RATE_ADDRESS_ALL: '6/60' },
    });
    try {
      const [asha, ben] = [await tokenUser(backstopped, 'asha'), await tokenUser(backstopped, 'ben')];
      const address = randomAddress();
      const answers = [];
      for (const user of [asha, ben, asha, ben, asha, ben, asha])
        answers.push(await call(backstopped.url, 'GET', '/v1/me', { address, token: user.token }));
      expect(statuses(answers)).toEqual([200, 200, 200, 200, 200, 200, 429]);
      expect((await call(backstopped.url, 'GET', '/v1/me', { token: asha.token })).status).toBe(200);
    } finally {
      await backstopped.stop();
    }
  });
});
