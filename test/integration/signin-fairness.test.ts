import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, storageModes, uniqueName, type TestServer } from '../helpers/server.js';
import { range, sleep } from '../helpers/users.js';
import { type Answer, call } from '../helpers/addresses.js';

// Issue 35, defects 4 and 10, as the audit found them: ten addresses, each within its own sign-in
// limits, flood the password hashing so that nobody else signs in; and strangers spend a known
// username's sign-in allowance so that its owner is refused.

const PASSWORD = 'password-123';
const FLOODERS = range(70, 79).map((n) => `127.0.0.${n}`);

describe.each(storageModes())('sign-in under a flood (%s)', (mode) => {
  let server: TestServer;
  const signIn = (address: string, body: Record<string, unknown>) => call(server.url, 'POST', '/v1/sessions', { body, address });

  beforeAll(async () => {
    server = await startServer({
      mode,
      env: {
        TRUST_PROXY: 'on',
        // Each flooding address stays within its own limits: only the hashing is contended.
        SIGNIN_RATE_ADDRESS: '1000/60',
        SIGNIN_RATE_USERNAME: '1000/60',
        SIGNIN_FREE_FAILS: '1000',
        SIGNIN_ADDRESS_FREE_FAILS: '100000',
        // The line as it ships (the test helpers raise it for tests that sign up many users at once).
        PASSWORD_LINE_PER_KEY: '4',
        PASSWORD_LINE_MAX: '64',
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a fresh address signs in after a few hashes, not after the flood; surplus is refused at once with Retry-After', {
    timeout: 180_000,
  }, async () => {
    const user = await server.signUp();
    // Answers in the order they arrive, to count the hashing done around each (work, not time).
    const arrivals: { who: string; answer: Answer }[] = [];
    const track = (who: string, pending: Promise<Answer>) =>
      pending.then((answer) => {
        arrivals.push({ who, answer });
        return answer;
      });
    const flood = FLOODERS.flatMap((address) =>
      range(1, 15).map(() => track('flood', signIn(address, { username: uniqueName('nobody'), password: 'wrong-password' }))),
    );
    // The flood is in: its first hashed answers are back.
    while (arrivals.filter((a) => a.answer.status === 401).length < 2 && arrivals.length < flood.length) await sleep(20);
    const hashedBefore = arrivals.filter((a) => a.answer.status === 401).length;
    const fresh = await track('fresh', signIn('127.0.0.90', { username: user.name, password: PASSWORD }));
    const hashedMeanwhile = arrivals.filter((a) => a.answer.status === 401).length - hashedBefore;
    const answers = await Promise.all(flood);

    expect(fresh.status).toBe(200);
    // Served ahead of the addresses that have been hashing: only what was running, or hashed in the
    // other place meanwhile, went first (behind the flood, it would be the ~40 waiting, or all 150).
    expect(hashedMeanwhile).toBeLessThanOrEqual(15);

    const refused = answers.filter((a) => a.status === 429);
    expect(answers.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    // Each address keeps only a few in line; the rest is refused, with the wait, before being hashed.
    expect(refused.length).toBeGreaterThan(answers.length / 2);
    for (const answer of refused) {
      expect(answer.body.error).toMatchObject({ code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } });
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // Promptly: every refusal came back while most of the hashing was still ahead.
    const hashed = arrivals.filter((a) => a.answer.status === 401).length;
    const lastRefusal = arrivals.findLastIndex((a) => a.answer.status === 429);
    const hashedBeforeLastRefusal = arrivals.slice(0, lastRefusal).filter((a) => a.answer.status === 401).length;
    expect(hashedBeforeLastRefusal).toBeLessThan(hashed / 2 + 2);
  });

  it('sign-up shares the line: a flooding address is refused sign-up too, a fresh one signs up', async () => {
    const address = FLOODERS[0]!;
    const flood = range(1, 30).map(() => signIn(address, { username: uniqueName('nobody'), password: 'wrong-password' }));
    const signUp = (from: string) =>
      call(server.url, 'POST', '/v1/accounts', { body: { username: uniqueName(), password: PASSWORD }, address: from });
    const [crowded, fresh] = await Promise.all([signUp(address), signUp('127.0.0.91')]);
    await Promise.all(flood);
    expect(crowded).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    expect(fresh.status).toBe(201);
  });
});

describe.each(storageModes())('a known username under attack (%s)', (mode) => {
  let server: TestServer;
  const signIn = (address: string, body: Record<string, unknown>) => call(server.url, 'POST', '/v1/sessions', { body, address });

  beforeAll(async () => {
    server = await startServer({ mode, env: { TRUST_PROXY: 'on', SIGNIN_RATE_USERNAME: '10/60', SIGNIN_FREE_FAILS: '5' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("strangers locking a username do not lock out its owner's trusted device; a made-up device does not pass", async () => {
    const owner = await server.signUp();
    const first = await signIn('127.0.0.20', { username: owner.name, password: PASSWORD });
    expect(first.status).toBe(200);
    const device = first.body.device as string;
    expect(device).toEqual(expect.any(String));

    // Three addresses spend the username's allowance with wrong passwords.
    for (const address of ['127.0.0.30', '127.0.0.31', '127.0.0.32'])
      await Promise.all(range(1, 4).map(() => signIn(address, { username: owner.name, password: 'wrong-password' })));
    const plain = await signIn('127.0.0.21', { username: owner.name, password: PASSWORD });
    expect(plain).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });

    // The owner's device passes, with the right password only, and keeps its device value.
    const trusted = await signIn('127.0.0.21', { username: owner.name, password: PASSWORD, device });
    expect(trusted.status).toBe(200);
    expect(trusted.body.device).toBe(device);
    expect((await signIn('127.0.0.21', { username: owner.name, password: 'wrong-password', device })).status).toBe(401);

    // A made-up device, or one issued to another account, is no key.
    const other = await server.signUp();
    const othersDevice = (await signIn('127.0.0.33', { username: other.name, password: PASSWORD })).body.device as string;
    for (const fake of [`${device.slice(0, -4)}AAAA`, 'made-up-device', othersDevice])
      expect((await signIn('127.0.0.30', { username: owner.name, password: PASSWORD, device: fake })).status).toBe(429);
  });
});
