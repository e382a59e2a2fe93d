import { randomBytes, randomInt } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDatabase } from '../helpers/own-database.js';
import { waitUntil } from '../helpers/replicas.js';
import { type HttpResult, startServer, storageModes, type TestServer } from '../helpers/server.js';
import { sleep } from '../helpers/users.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

// docs/protocol.md §2 "Phone numbers and one-time codes": codes through the signed webhook sender
// (read back from a real receiver that verifies each signature), sign-in and sign-up by code, a
// member's own number, recovery, and the attacks: guessing, replay, a code for another number,
// enumeration by answer and by timing, and another member (a stranger, a community admin)
// learning a number.

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const WAIT_MS = 15_000;

/** A random valid Indian mobile number in E.164. */
function newNumber(): string {
  for (;;) {
    const n = `+91${randomInt(6, 10)}${String(randomInt(0, 1e9)).padStart(9, '0')}`;
    if (parsePhoneNumberFromString(n)?.isValid()) return n;
  }
}

const errorOf = (r: HttpResult) => r.body?.error as { code: string; message: string; details?: Record<string, unknown> } | undefined;

describe.each(storageModes())('phone sign-in (%s)', (mode) => {
  let server: TestServer;
  let strict: TestServer;
  let receiver: WebhookReceiver;
  const databases: { url: string; drop(): Promise<void> }[] = [];

  const otpEnv = (path: string) => ({ OTP_SENDER: 'webhook', OTP_WEBHOOK_URL: `${receiver.url}${path}`, OTP_WEBHOOK_SECRET: SECRET });

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    receiver.expect('/otp', SECRET);
    receiver.expect('/strict', SECRET);
    const db = async (name: string) => {
      if (mode !== 'postgres') return {};
      const d = await ownDatabase(name);
      databases.push(d);
      return { DATABASE_URL: d.url };
    };
    server = await startServer({
      mode,
      env: {
        ...(await db('phone')),
        ...otpEnv('/otp'),
        PHONE_CODE_RESEND_S: '1',
        PHONE_CODE_RATE_NUMBER: '1000/3600',
        PHONE_CODE_RATE_NUMBER_DAY: '1000/3600',
        PHONE_CODE_RATE_ADDRESS: '100000/3600',
        PHONE_CHECK_RATE_NUMBER: '1000/3600',
        PHONE_CHECK_RATE_ADDRESS: '100000/3600',
      },
    });
    // The default limits, but for code checks per address (lower, to reach them quickly).
    strict = await startServer({ mode, env: { ...(await db('phonestrict')), ...otpEnv('/strict'), PHONE_CHECK_RATE_ADDRESS: '30/3600' } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await strict?.stop();
    await receiver?.stop();
    for (const d of databases) await d.drop();
  });

  /** Asks for a code and reads it from the receiver (signature verified). */
  async function codeFor(phone: string, opts: { on?: TestServer; token?: string; path?: string } = {}): Promise<string> {
    const on = opts.on ?? server;
    const path = opts.path ?? '/otp';
    const before = receiver.at(path).length;
    const ask = () => on.http('POST', opts.token ? '/v1/me/phone/codes' : '/v1/phone/codes', { token: opts.token, body: { phone } });
    let r = await ask();
    // A resend waits PHONE_CODE_RESEND_S (1 s on the main test server).
    for (let i = 0; i < 3 && r.status === 429 && Number(errorOf(r)?.details?.retryAfterMs) <= 1000; i++) {
      await sleep(Number(errorOf(r)!.details!.retryAfterMs) + 20);
      r = await ask();
    }
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toEqual({ sent: true });
    const e164 = parsePhoneNumberFromString(phone, 'IN')!.number;
    let code = '';
    await waitUntil(
      () => {
        const got = receiver
          .at(path)
          .slice(before)
          .find((m) => (m.body.data as { phone?: string } | undefined)?.phone === e164);
        if (got) {
          expect(got.verified).toBe(true);
          code = (got.body.data as { code: string }).code;
        }
        return code !== '';
      },
      WAIT_MS,
      `the code for ${phone}`,
    );
    return code;
  }

  const signIn = (body: Record<string, unknown>, on = server) => on.http('POST', '/v1/phone/sign-in', { body });
  const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('sends a signed otp.requested webhook; a new number signs up (name asked only after the code), then signs in', async () => {
    const phone = newNumber();
    const before = receiver.at('/otp').length;
    const code = await codeFor(phone);
    expect(code).toMatch(/^\d{6}$/);
    const sent = receiver
      .at('/otp')
      .slice(before)
      .find((m) => (m.body.data as { phone: string }).phone === phone)!;
    expect(sent.body).toMatchObject({ type: 'otp.requested', data: { phone, code, purpose: 'sign-in' } });
    const expiresAt = Date.parse((sent.body.data as { expiresAt: string }).expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(4 * 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(5 * 60_000);

    // A wrong code says nothing about the name; the right one without a name asks for it, and stays usable.
    expect(errorOf(await signIn({ phone, code: wrong(code) }))?.code).toBe('unauthorized');
    const noName = await signIn({ phone, code });
    expect(noName.status).toBe(400);
    expect(errorOf(noName)?.message).toBe('name required');
    const made = await signIn({ phone, code, name: 'Asha', deviceName: 'Asha’s phone' });
    expect(made.status).toBe(201);
    expect(made.body.user.name).toBe('Asha');
    expect(typeof made.body.token).toBe('string');

    const me = await server.http('GET', '/v1/me', { token: made.body.token });
    expect(me.body.user.phone).toBe(phone);

    // Typed as dialled in India, it is the same number: the same account.
    const local = `0${phone.slice(3, 8)} ${phone.slice(8)}`;
    const again = await signIn({ phone: local, code: await codeFor(local) });
    expect(again.status).toBe(200);
    expect(again.body.user.id).toBe(made.body.user.id);
  });

  it('a new number signs up through an invite and joins in the same step; an invite that fails leaves the code usable', async () => {
    const admin = await server.signUp();
    const c = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Seniors' } })).body.community;
    const inv = (await server.http('POST', `/v1/communities/${c.id}/invites`, { token: admin.token, body: { maxUses: 5 } })).body;
    const phone = newNumber();
    const code = await codeFor(phone);
    expect((await signIn({ phone, code, name: 'Kamala', invite: 'no-such-invite-code' })).status).toBe(404);
    const joined = await signIn({ phone, code, name: 'Kamala', invite: inv.code });
    expect(joined.status).toBe(201);
    expect(joined.body.invite).toMatchObject({ status: 'joined', community: { id: c.id } });
    const members = await server.http('GET', `/v1/communities/${c.id}/members`, { token: admin.token });
    expect(members.body.members.map((m: { userId: string }) => m.userId)).toContain(joined.body.user.id);
  });

  it('refuses numbers that are not numbers, with a clear 400', async () => {
    for (const phone of ['12345', '+447700900123', 'call me']) {
      const r = await server.http('POST', '/v1/phone/codes', { body: { phone } });
      expect(r.status).toBe(400);
      expect(errorOf(r)?.message).toMatch(/not a valid phone number/);
    }
    expect((await signIn({ phone: newNumber(), code: '12345' })).status).toBe(400);
  });

  it('attack: a used code is refused (replay), and so is an earlier code once a newer one was sent', async () => {
    const phone = newNumber();
    const code = await codeFor(phone);
    expect((await signIn({ phone, code, name: 'R' })).status).toBe(201);
    const replay = await signIn({ phone, code, name: 'R' });
    expect(replay.status).toBe(401);
    // Only the newest code sent is live.
    const first = await codeFor(phone);
    const second = await codeFor(phone);
    expect((await signIn({ phone, code: first })).status).toBe(401);
    expect((await signIn({ phone, code: second })).status).toBe(200);
  });

  it('attack: code guessing: after 5 wrong tries the code is dead, even the right one', async () => {
    const phone = newNumber();
    const code = await codeFor(phone);
    for (let i = 0; i < 5; i++) expect((await signIn({ phone, code: wrong(code) })).status).toBe(401);
    expect((await signIn({ phone, code, name: 'G' })).status).toBe(401);
    // Tries sent together cannot spend more than the 5 attempts either.
    const fresh = await codeFor(phone);
    const tries = await Promise.all(Array.from({ length: 12 }, () => signIn({ phone, code: wrong(fresh) })));
    expect(tries.every((r) => r.status === 401)).toBe(true);
    expect((await signIn({ phone, code: fresh, name: 'G' })).status).toBe(401);
  });

  it("attack: a code sent to number A does not sign in number B (nor a member's verify code)", async () => {
    const a = newNumber();
    const b = newNumber();
    const code = await codeFor(a);
    await codeFor(b);
    expect((await signIn({ phone: b, code, name: 'B' })).status).toBe(401);
    const member = await server.signUp();
    const verifyCode = await codeFor(a, { token: member.token });
    expect((await signIn({ phone: a, code: verifyCode, name: 'A' })).status).toBe(401);
  });

  /** What an answer shows a client, without what differs on every request anyway. */
  const shown = (r: HttpResult) => JSON.stringify({ status: r.status, body: r.body });

  it('attack: number enumeration by answer: the same answers for a number with and without an account', async () => {
    const registered = newNumber();
    expect((await signIn({ phone: registered, code: await codeFor(registered), name: 'Known' })).status).toBe(201);
    const unknown = newNumber();
    await sleep(1100); // PHONE_CODE_RESEND_S=1 here: the registered number may have a code again
    const asks = await Promise.all([registered, unknown].map((phone) => server.http('POST', '/v1/phone/codes', { body: { phone } })));
    expect(shown(asks[0]!)).toBe(shown(asks[1]!));
    const guesses = await Promise.all([registered, unknown].map((phone) => signIn({ phone, code: '000000' })));
    expect(shown(guesses[0]!)).toBe(shown(guesses[1]!));
    const nameless = await Promise.all([registered, unknown].map((phone) => signIn({ phone, code: '000001', name: 'X' })));
    expect(shown(nameless[0]!)).toBe(shown(nameless[1]!));
  });

  it('attack: number enumeration by timing: asking for a code and guessing take the same time for both', async () => {
    // Probed as an enumerator would: many numbers, each once; half of them have an account.
    const N = 24;
    const registered: string[] = [];
    for (let i = 0; i < N; i++) {
      const phone = newNumber();
      expect((await signIn({ phone, code: await codeFor(phone), name: `T${i}` })).status).toBe(201);
      registered.push(phone);
    }
    const unknown = Array.from({ length: N }, () => newNumber());
    await sleep(1100); // PHONE_CODE_RESEND_S=1 here
    const timed = async (path: string, body: Record<string, unknown>) => {
      const t0 = performance.now();
      const r = await server.http('POST', path, { body });
      return { ms: performance.now() - t0, shown: shown(r) };
    };
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    for (const [path, body] of [
      ['/v1/phone/codes', {}],
      ['/v1/phone/sign-in', { code: '123456' }],
    ] as const) {
      const answers = new Set<string>();
      // A pair (one of each, the order alternating) runs back to back, so a busy moment of the
      // machine falls on both alike; the median of the pairs' differences then cancels the load.
      // Up to 3 rounds: noise passes one, a difference in the work (a hash, a lookup that waits,
      // a send inline) shows in every round and fails.
      const rounds: string[] = [];
      for (let round = 0; round < 3; round++) {
        const diffs: number[] = [];
        const all: number[] = [];
        for (let i = 0; i < N; i++) {
          const first = i % 2 === 0 ? registered : unknown;
          const a = await timed(path, { phone: first[i], ...body });
          const b = await timed(path, { phone: (first === registered ? unknown : registered)[i], ...body });
          const [r, u] = first === registered ? [a, b] : [b, a];
          diffs.push(r.ms - u.ms);
          all.push(r.ms, u.ms);
          answers.add(r.shown).add(u.shown);
        }
        const [d, typical] = [median(diffs), median(all)];
        rounds.push(`${d.toFixed(1)} ms of ${typical.toFixed(1)} ms`);
        if (Math.abs(d) < Math.max(10, 0.25 * typical)) break;
        if (round === 2) throw new Error(`${path}: registered minus unknown, per round: ${rounds.join('; ')}`);
        await sleep(1100); // PHONE_CODE_RESEND_S=1 here
      }
      expect([...answers], path).toHaveLength(1);
    }
  }, 180_000);

  it('a member verifies a number of theirs, sees it in /v1/me, and removes it; a number on another account answers 409 only after proof', async () => {
    const member = await server.signUp();
    const phone = newNumber();
    expect((await server.http('PUT', '/v1/me/phone', { token: member.token, body: { phone, code: '123456' } })).status).toBe(401);
    const code = await codeFor(phone, { token: member.token });
    const put = await server.http('PUT', '/v1/me/phone', { token: member.token, body: { phone, code } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ phone });
    expect((await server.http('GET', '/v1/me', { token: member.token })).body.user.phone).toBe(phone);

    // Another member wanting the same number: a wrong code tells nothing; a right one is told 409, nothing moves.
    const other = await server.signUp();
    expect((await server.http('PUT', '/v1/me/phone', { token: other.token, body: { phone, code: '123456' } })).status).toBe(401);
    const otherCode = await codeFor(phone, { token: other.token });
    expect((await server.http('PUT', '/v1/me/phone', { token: other.token, body: { phone, code: otherCode } })).status).toBe(409);
    expect((await server.http('GET', '/v1/me', { token: other.token })).body.user.phone).toBeNull();
    expect((await server.http('GET', '/v1/me', { token: member.token })).body.user.phone).toBe(phone);

    // The member has a password: the number can go.
    expect((await server.http('DELETE', '/v1/me/phone', { token: member.token })).status).toBe(204);
    expect((await server.http('GET', '/v1/me', { token: member.token })).body.user.phone).toBeNull();
    expect((await server.http('DELETE', '/v1/me/phone', { token: member.token })).status).toBe(404);

    // An account whose only way in is its number keeps it.
    const lone = newNumber();
    const signedUp = await signIn({ phone: lone, code: await codeFor(lone), name: 'Lone' });
    expect((await server.http('DELETE', '/v1/me/phone', { token: signedUp.body.token })).status).toBe(409);
  });

  it('recovery: a member who forgot the password signs in by phone and sets a new one without the old', async () => {
    const username = `rec${Date.now().toString(36)}${randomInt(1000)}`;
    const up = await server.http('POST', '/v1/accounts', { body: { username, password: 'forgotten-123', name: 'Rec' } });
    expect(up.status).toBe(201);
    const phone = newNumber();
    const code = await codeFor(phone, { token: up.body.token });
    expect((await server.http('PUT', '/v1/me/phone', { token: up.body.token, body: { phone, code } })).status).toBe(200);

    // A password session may not skip the current password.
    expect((await server.http('PUT', '/v1/me/password', { token: up.body.token, body: { newPassword: 'new-password-1' } })).status).toBe(
      403,
    );

    const byPhone = await signIn({ phone, code: await codeFor(phone) });
    expect(byPhone.status).toBe(200);
    expect(byPhone.body.user.id).toBe(up.body.user.id);
    const set = await server.http('PUT', '/v1/me/password', { token: byPhone.body.token, body: { newPassword: 'new-password-1' } });
    expect(set.status).toBe(204);
    expect((await server.http('POST', '/v1/sessions', { body: { username, password: 'new-password-1' } })).status).toBe(200);
    expect((await server.http('POST', '/v1/sessions', { body: { username, password: 'forgotten-123' } })).status).toBe(401);
  });

  it("privacy: neither a stranger nor a community admin can learn a member's number", async () => {
    const admin = await server.signUp();
    const stranger = await server.signUp();
    const phone = newNumber();
    const member = await signIn({ phone, code: await codeFor(phone), name: 'Private' });
    const memberId = member.body.user.id as string;
    const c = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Org' } })).body.community;
    const inv = (await server.http('POST', `/v1/communities/${c.id}/invites`, { token: admin.token, body: {} })).body;
    expect((await server.http('POST', `/v1/invites/${inv.code}/join`, { token: member.body.token })).status).toBe(200);

    const digits = phone.slice(3);
    const looks: [string, string, string][] = [
      [admin.token, 'GET', `/v1/users/${memberId}`],
      [stranger.token, 'GET', `/v1/users/${memberId}`],
      [admin.token, 'GET', `/v1/communities/${c.id}/members`],
      [admin.token, 'GET', `/v1/communities/${c.id}/members?q=${encodeURIComponent(digits)}`],
      [admin.token, 'GET', `/v1/communities/${c.id}/members?q=Private`],
      [admin.token, 'GET', `/v1/groups/${c.announcementGroupId}/members`],
      [admin.token, 'GET', `/v1/search?q=${encodeURIComponent(digits)}`],
      [stranger.token, 'GET', `/v1/search?q=${encodeURIComponent(digits)}`],
    ];
    for (const [token, method, path] of looks) {
      const r = await server.http(method, path, { token });
      expect(JSON.stringify(r.body), path).not.toContain(digits);
    }
    // Adding by a number instead of a username finds nobody.
    const g = (await server.http('POST', '/v1/groups', { token: admin.token, body: { name: 'G' } })).body.group;
    for (const username of [phone, digits]) {
      const add = await server.http('POST', `/v1/groups/${g.id}/members`, { token: admin.token, body: { username } });
      expect(add.status).not.toBe(200);
      expect(JSON.stringify(add.body)).not.toContain(memberId);
    }
  });

  it('the sender retries a webhook that fails, with the same webhook-id, until it is taken', async () => {
    receiver.expect('/flaky', SECRET);
    let calls = 0;
    receiver.answer('/flaky', () => ({ status: ++calls === 1 ? 503 : 200 }));
    const flaky = await startServer({
      mode,
      env: { ...(mode === 'postgres' ? { DATABASE_URL: databases[0]!.url } : {}), ...otpEnv('/flaky') },
    });
    try {
      const phone = newNumber();
      expect((await flaky.http('POST', '/v1/phone/codes', { body: { phone } })).status).toBe(202);
      await waitUntil(() => receiver.at('/flaky').length >= 2, WAIT_MS, 'the retry');
      const [first, second] = receiver.at('/flaky');
      expect(first!.id).toBe(second!.id);
      expect(second!.verified).toBe(true);
      expect((second!.body.data as { phone: string }).phone).toBe(phone);
    } finally {
      await flaky.stop();
    }
  });

  describe('limits (the defaults) that do not tell whether a number has an account', () => {
    it('a resend waits 60 s, alike for a known and an unknown number; 20 codes per address an hour', async () => {
      const known = newNumber();
      const code = await codeFor(known, { on: strict, path: '/strict' });
      expect((await signIn({ phone: known, code, name: 'K' }, strict)).status).toBe(201);
      const unknown = newNumber();
      expect((await strict.http('POST', '/v1/phone/codes', { body: { phone: unknown } })).status).toBe(202);
      const again = await Promise.all([known, unknown].map((phone) => strict.http('POST', '/v1/phone/codes', { body: { phone } })));
      for (const r of again) {
        expect(r.status).toBe(429);
        expect(errorOf(r)?.code).toBe('rate_limited');
        expect(errorOf(r)?.details?.retryAfterMs).toBeGreaterThan(50_000);
      }
      // Every ask counts against the address, the two refused ones too: 16 more numbers, then no more.
      for (let i = 0; i < 16; i++)
        expect((await strict.http('POST', '/v1/phone/codes', { body: { phone: newNumber() } })).status).toBe(202);
      const over = await strict.http('POST', '/v1/phone/codes', { body: { phone: newNumber() } });
      expect(over.status).toBe(429);
      expect(errorOf(over)?.details?.retryAfterMs).toBeGreaterThan(3000_000);
    });

    it('code checks are limited per address across many numbers', async () => {
      let refused: HttpResult | undefined;
      let i = 0;
      // 1 check was spent above; PHONE_CHECK_RATE_ADDRESS=30/3600 here.
      for (; i < 40 && !refused; i++) {
        const r = await signIn({ phone: newNumber(), code: '000000' }, strict);
        if (r.status === 429) refused = r;
        else expect(r.status).toBe(401);
      }
      expect(refused, 'a check past the address limit').toBeDefined();
      expect(i).toBeLessThanOrEqual(30);
      expect(errorOf(refused!)?.details?.retryAfterMs).toBeGreaterThan(1000);
    });
  });
});
