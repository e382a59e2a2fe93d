import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanHttp } from '../../src/client/http.js';
import { call } from '../helpers/addresses.js';
import { startServer, storageModes, uniqueName, type TestServer } from '../helpers/server.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

// docs/protocol.md §2 "Passkeys": registration, sign-in with no username, passkey-only sign-up,
// and the attacks (a passkey registered to another account, replayed or misused
// challenges, a cloned authenticator), against a real server; the authenticator is a software
// one answering as a browser would (test/helpers/soft-authenticator.ts).

const originOf = (server: TestServer) => `http://localhost:${server.app.port}`;

/** Registers a new passkey on `auth` for a signed-in user; returns the answer. */
async function addPasskey(server: TestServer, token: string, auth: SoftAuthenticator, name?: string) {
  const o = await server.http('POST', '/v1/me/passkeys/options', { token });
  expect(o.status).toBe(200);
  const response = auth.register(o.body.options);
  return server.http('POST', '/v1/me/passkeys', { token, body: { challengeId: o.body.challengeId, response, ...(name ? { name } : {}) } });
}

async function signInOptions(server: TestServer) {
  const o = await server.http('POST', '/v1/passkeys/options');
  expect(o.status).toBe(200);
  return o.body as { challengeId: string; options: { challenge: string; rpId: string } };
}

async function signInWith(server: TestServer, auth: SoftAuthenticator, over: Parameters<SoftAuthenticator['signIn']>[1] = {}) {
  const { challengeId, options } = await signInOptions(server);
  return server.http('POST', '/v1/passkeys/sign-in', {
    body: { challengeId, response: auth.signIn(options, over), deviceName: 'Test phone' },
  });
}

describe.each(storageModes())('passkeys (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode });
  }, 60_000);
  afterAll(() => server?.stop());

  it('registers a passkey for a signed-in member, lists, renames it, and signs in with it without a username', async () => {
    const asha = await server.signUp();
    const auth = new SoftAuthenticator(originOf(server));
    const o = await server.http('POST', '/v1/me/passkeys/options', { token: asha.token });
    expect(o.body.options).toMatchObject({
      rp: { id: 'localhost', name: 'Banyan' },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    const added = await server.http('POST', '/v1/me/passkeys', {
      token: asha.token,
      body: { challengeId: o.body.challengeId, response: auth.register(o.body.options), name: "Asha's phone" },
    });
    expect(added.status).toBe(201);
    expect(added.body.passkey).toMatchObject({ name: "Asha's phone", lastUsedAt: null });
    const id = added.body.passkey.id as string;

    const signedIn = await signInWith(server, auth);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user).toEqual({ id: asha.id, name: asha.name });
    const me = await server.http('GET', '/v1/me', { token: signedIn.body.token });
    expect(me.body.user.id).toBe(asha.id);

    const renamed = await server.http('PATCH', `/v1/me/passkeys/${id}`, { token: asha.token, body: { name: 'Old phone' } });
    expect(renamed.status).toBe(200);
    const list = await server.http('GET', '/v1/me/passkeys', { token: asha.token });
    expect(list.body.passkeys).toEqual([{ id, name: 'Old phone', createdAt: expect.any(String), lastUsedAt: expect.any(String) }]);

    // A password account may remove its only passkey: the password is still a way in.
    expect((await server.http('DELETE', `/v1/me/passkeys/${id}`, { token: asha.token })).status).toBe(204);
    expect((await signInWith(server, auth)).status).toBe(401);
  });

  it('signs up with a passkey only (no password), and will not remove its last way in', async () => {
    const username = uniqueName('senior');
    const auth = new SoftAuthenticator(originOf(server));
    const o = await server.http('POST', '/v1/passkeys/sign-up/options', { body: { username, name: 'Kamala' } });
    expect(o.status).toBe(200);
    expect(o.body.options.user).toMatchObject({ name: username, displayName: 'Kamala' });
    const up = await server.http('POST', '/v1/passkeys/sign-up', {
      body: { challengeId: o.body.challengeId, response: auth.register(o.body.options) },
    });
    expect(up.status).toBe(201);
    expect(up.body.user.name).toBe('Kamala');
    const token = up.body.token as string;

    // No password: a password sign-in fails like a wrong password.
    const pw = await server.http('POST', '/v1/sessions', { body: { username, password: 'password-123' } });
    expect(pw.status).toBe(401);

    const [only] = (await server.http('GET', '/v1/me/passkeys', { token })).body.passkeys;
    const refused = await server.http('DELETE', `/v1/me/passkeys/${only.id}`, { token });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/last way to sign in/);

    // With a second passkey, the first may go; then the second is the last.
    const second = new SoftAuthenticator(originOf(server));
    const added = await addPasskey(server, token, second, 'Tablet');
    expect(added.status).toBe(201);
    expect((await server.http('DELETE', `/v1/me/passkeys/${only.id}`, { token })).status).toBe(204);
    expect((await server.http('DELETE', `/v1/me/passkeys/${added.body.passkey.id}`, { token })).status).toBe(409);
    expect((await signInWith(server, second)).body.user.id).toBe(up.body.user.id);

    // The username is taken now: options answer as for any name (they tell nothing of who exists,
    // docs/protocol.md §2 "Passkeys"); the sign-ups say 409, as they are counted by the sign-up limit.
    const again = await server.http('POST', '/v1/passkeys/sign-up/options', { body: { username } });
    const free = await server.http('POST', '/v1/passkeys/sign-up/options', { body: { username: uniqueName('free') } });
    expect([again.status, Object.keys(again.body)]).toEqual([free.status, Object.keys(free.body)]);
    expect(again.status).toBe(200);
    const viaPassword = await server.http('POST', '/v1/accounts', { body: { username, password: 'password-123' } });
    expect(viaPassword.status).toBe(409);
  });

  it('signs up with a passkey through an invite: joins the community in the same step', async () => {
    const admin = await server.signUp();
    const c = await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Seniors' } });
    const code = (await server.http('POST', `/v1/communities/${c.body.community.id}/invites`, { token: admin.token, body: { maxUses: 5 } }))
      .body.code as string;
    const auth = new SoftAuthenticator(originOf(server));
    const o = await server.http('POST', '/v1/passkeys/sign-up/options', { body: { username: uniqueName('nani') } });
    const up = await server.http('POST', '/v1/passkeys/sign-up', {
      body: { challengeId: o.body.challengeId, response: auth.register(o.body.options), invite: code },
    });
    expect(up.status).toBe(201);
    expect(up.body.invite).toMatchObject({ status: 'joined', community: { id: c.body.community.id } });
    const me = await server.http('GET', '/v1/me', { token: up.body.token });
    expect(me.body.communities.map((x: { id: string }) => x.id)).toContain(c.body.community.id);
  });

  it('a username taken between the options and the answer: 409, no account', async () => {
    const username = uniqueName('race');
    const auth = new SoftAuthenticator(originOf(server));
    const o = await server.http('POST', '/v1/passkeys/sign-up/options', { body: { username } });
    await server.signUp(username);
    const up = await server.http('POST', '/v1/passkeys/sign-up', {
      body: { challengeId: o.body.challengeId, response: auth.register(o.body.options) },
    });
    expect(up.status).toBe(409);
    expect((await signInWith(server, auth)).status).toBe(401);
  });

  it("a passkey of someone else's id answers 404, like an unknown one", async () => {
    const [a, b] = [await server.signUp(), await server.signUp()];
    const added = await addPasskey(server, a.token, new SoftAuthenticator(originOf(server)));
    const id = added.body.passkey.id as string;
    for (const path of [`/v1/me/passkeys/${id}`, '/v1/me/passkeys/k_unknown']) {
      const patch = await server.http('PATCH', path, { token: b.token, body: { name: 'Mine now' } });
      const del = await server.http('DELETE', path, { token: b.token });
      expect([patch.status, del.status]).toEqual([404, 404]);
      expect(patch.body).toEqual(del.body);
    }
    expect((await server.http('GET', '/v1/me/passkeys', { token: a.token })).body.passkeys[0].name).not.toBe('Mine now');
  });

  it("the SDK's passkey methods: every answer parses with its reply schema", async () => {
    const auth = new SoftAuthenticator(originOf(server));
    const anon = new BanyanHttp({ url: server.url });
    const o = await anon.passkeySignUpOptions({ username: uniqueName('sdk') });
    const up = await anon.passkeySignUp({ challengeId: o.challengeId, response: auth.register(o.options as never), deviceName: 'SDK' });
    const me = new BanyanHttp({ url: server.url, token: up.token });
    const add = await me.passkeyOptionsToAdd();
    const second = new SoftAuthenticator(originOf(server));
    const { passkey } = await me.addPasskey({
      challengeId: add.challengeId,
      response: second.register(add.options as never),
      name: 'Second',
    });
    expect((await me.renamePasskey(passkey.id, 'Tablet')).passkey.name).toBe('Tablet');
    expect((await me.passkeys()).passkeys.map((p) => p.name)).toEqual(['Passkey 1', 'Tablet']);
    await me.removePasskey(passkey.id);
    const s = await anon.passkeySignInOptions();
    const signedIn = await anon.passkeySignIn({ challengeId: s.challengeId, response: auth.signIn(s.options as never) });
    expect(signedIn.user.id).toBe(up.user.id);
  });

  describe('attacks', () => {
    it("a credential id already registered to A, presented in B's registration: refused, A unaffected, B cannot sign in as A", async () => {
      const [a, b] = [await server.signUp(), await server.signUp()];
      const aAuth = new SoftAuthenticator(originOf(server));
      expect((await addPasskey(server, a.token, aAuth)).status).toBe(201);
      const stolenId = aAuth.credentialIds[0]!;

      // B's own key under A's credential id.
      const bAuth = new SoftAuthenticator(originOf(server));
      const o = await server.http('POST', '/v1/me/passkeys/options', { token: b.token });
      const response = bAuth.register(o.body.options, { credentialId: stolenId });
      const r = await server.http('POST', '/v1/me/passkeys', { token: b.token, body: { challengeId: o.body.challengeId, response } });
      expect(r.status).toBe(409);
      expect((await server.http('GET', '/v1/me/passkeys', { token: b.token })).body.passkeys).toEqual([]);

      // B signing with its key under A's credential id: the signature does not match A's key.
      const asA = await signInWith(server, bAuth, { credentialId: stolenId });
      expect(asA.status).toBe(401);
      // A still signs in.
      const aIn = await signInWith(server, aAuth);
      expect(aIn.status).toBe(200);
      expect(aIn.body.user.id).toBe(a.id);
    });

    it('a registration challenge of another user cannot be answered by B', async () => {
      const [a, b] = [await server.signUp(), await server.signUp()];
      const o = await server.http('POST', '/v1/me/passkeys/options', { token: a.token });
      const response = new SoftAuthenticator(originOf(server)).register(o.body.options);
      const r = await server.http('POST', '/v1/me/passkeys', { token: b.token, body: { challengeId: o.body.challengeId, response } });
      expect(r.status).toBe(401);
    });

    it('a challenge is single use: a replayed sign-in is refused', async () => {
      const a = await server.signUp();
      const auth = new SoftAuthenticator(originOf(server));
      await addPasskey(server, a.token, auth);
      const { challengeId, options } = await signInOptions(server);
      const response = auth.signIn(options);
      const first = await server.http('POST', '/v1/passkeys/sign-in', { body: { challengeId, response } });
      expect(first.status).toBe(200);
      const replay = await server.http('POST', '/v1/passkeys/sign-in', { body: { challengeId, response } });
      expect(replay.status).toBe(401);
    });

    it('a challenge issued for registration, or for sign-up, cannot be used to sign in', async () => {
      const a = await server.signUp();
      const auth = new SoftAuthenticator(originOf(server));
      await addPasskey(server, a.token, auth);
      const reg = await server.http('POST', '/v1/me/passkeys/options', { token: a.token });
      const up = await server.http('POST', '/v1/passkeys/sign-up/options', { body: { username: uniqueName('x') } });
      for (const o of [reg.body, up.body]) {
        const response = auth.signIn({ challenge: o.options.challenge, rpId: 'localhost' });
        const r = await server.http('POST', '/v1/passkeys/sign-in', { body: { challengeId: o.challengeId, response } });
        expect(r.status).toBe(401);
      }
      // And a sign-in challenge cannot register.
      const s = await signInOptions(server);
      const response = new SoftAuthenticator(originOf(server)).register({
        challenge: s.options.challenge,
        rp: { id: 'localhost', name: 'x' },
        user: { id: 'eA', name: 'x' },
      });
      const r = await server.http('POST', '/v1/me/passkeys', { token: a.token, body: { challengeId: s.challengeId, response } });
      expect(r.status).toBe(401);
    });

    it('wrong origin, wrong RP, another challenge, an unknown credential: one 401 that does not tell which', async () => {
      const a = await server.signUp();
      const auth = new SoftAuthenticator(originOf(server));
      await addPasskey(server, a.token, auth);
      const answers = [];
      answers.push(await signInWith(server, auth, { origin: 'https://evil.example' }));
      answers.push(await signInWith(server, auth, { rpId: 'evil.example' }));
      const other = await signInOptions(server);
      const { challengeId } = await signInOptions(server);
      answers.push(await server.http('POST', '/v1/passkeys/sign-in', { body: { challengeId, response: auth.signIn(other.options) } }));
      const stranger = new SoftAuthenticator(originOf(server));
      stranger.register({ challenge: 'AAAA', rp: { id: 'localhost', name: 'x' }, user: { id: 'eA', name: 'x' } });
      answers.push(await signInWith(server, stranger));
      answers.push(
        await server.http('POST', '/v1/passkeys/sign-in', { body: { challengeId: 'wc_unknown', response: auth.signIn(other.options) } }),
      );
      for (const r of answers) {
        expect(r.status).toBe(401);
        expect(r.body).toEqual(answers[0]!.body);
      }
      // Registration with a wrong origin, likewise.
      const o = await server.http('POST', '/v1/me/passkeys/options', { token: a.token });
      const bad = auth.register(o.body.options, { origin: 'https://evil.example' });
      const r = await server.http('POST', '/v1/me/passkeys', { token: a.token, body: { challengeId: o.body.challengeId, response: bad } });
      expect(r.status).toBe(401);
      expect(r.body).toEqual(answers[0]!.body);
      // Without user verification, a registration is refused too.
      const o2 = await server.http('POST', '/v1/me/passkeys/options', { token: a.token });
      const unverified = auth.register(o2.body.options, { userVerified: false });
      expect(
        (await server.http('POST', '/v1/me/passkeys', { token: a.token, body: { challengeId: o2.body.challengeId, response: unverified } }))
          .status,
      ).toBe(401);
    });

    it('a cloned authenticator (counter not increasing) is refused, and the original keeps working', async () => {
      const a = await server.signUp();
      const auth = new SoftAuthenticator(originOf(server));
      await addPasskey(server, a.token, auth);
      const clone = auth.clone();
      expect((await signInWith(server, auth)).status).toBe(200); // counter 1
      expect((await signInWith(server, auth)).status).toBe(200); // counter 2
      expect((await signInWith(server, clone)).status).toBe(401); // clone's counter 1
      expect((await signInWith(server, auth, { counter: 2 })).status).toBe(401); // the same counter again
      expect((await signInWith(server, auth)).status).toBe(200); // counter 3
    });
  });
});

describe('passkeys: limits and LOCAL_ACCOUNTS', () => {
  it('the public endpoints are counted per address (PASSKEY_RATE_ADDRESS)', async () => {
    const server = await startServer({ env: { TRUST_PROXY: 'on', PASSKEY_RATE_ADDRESS: '3/3600' } });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(server.url, 'POST', '/v1/passkeys/options', { address: '10.9.9.9' })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const signUp = { username: uniqueName('r') };
      expect((await call(server.url, 'POST', '/v1/passkeys/sign-up/options', { address: '10.9.9.9', body: signUp })).status).toBe(429);
      expect((await call(server.url, 'POST', '/v1/passkeys/options', { address: '10.9.9.10' })).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('passkey sign-ups count against the sign-up limit of POST /v1/accounts', async () => {
    const server = await startServer({ env: { TRUST_PROXY: 'on', SIGNUP_RATE_ADDRESS: '1/3600' } });
    try {
      const address = '10.8.8.8';
      const auth = new SoftAuthenticator(originOf(server));
      const o = (await call(server.url, 'POST', '/v1/passkeys/sign-up/options', { address, body: { username: uniqueName('s') } })).body;
      const up = await call(server.url, 'POST', '/v1/passkeys/sign-up', {
        address,
        body: { challengeId: o.challengeId, response: auth.register(o.options) },
      });
      expect(up.status).toBe(201);
      const pw = await call(server.url, 'POST', '/v1/accounts', { address, body: { username: uniqueName('s'), password: 'password-123' } });
      expect(pw.status).toBe(429);
    } finally {
      await server.stop();
    }
  });

  it('with LOCAL_ACCOUNTS off, the passkey endpoints do not exist', async () => {
    const server = await startServer({ env: { LOCAL_ACCOUNTS: 'off' } });
    try {
      const token = await server.token('u_ext');
      expect((await server.http('POST', '/v1/passkeys/options')).status).toBe(404);
      expect((await server.http('POST', '/v1/passkeys/sign-in', { body: {} })).status).toBe(404);
      expect((await server.http('POST', '/v1/me/passkeys/options', { token })).status).toBe(404);
      expect((await server.http('GET', '/v1/me/passkeys', { token })).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
