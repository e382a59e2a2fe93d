import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, randomAddress } from '../helpers/addresses.js';
import { killAll, noScaleServers, startReplicas, type ReplicaSet } from '../helpers/replicas.js';
import { range } from '../helpers/users.js';
import { connect } from '../helpers/ws-client.js';

// Two replicas on one PostgreSQL and one Redis: a brute force spread over both meets one count,
// and signing out everywhere reaches the user's sockets on both.

describe.skipIf(noScaleServers)('limits across replicas', () => {
  let set: ReplicaSet;
  beforeAll(async () => {
    set = await startReplicas(2, {
      env: { TRUST_PROXY: 'on', SIGNIN_FREE_FAILS: '4', SIGNIN_RATE_ADDRESS: '100/60', SIGNIN_RATE_USERNAME: '100/60' },
    });
  });
  afterAll(async () => {
    await set?.stop();
    await killAll();
  });

  it('counts sign-in failures in Redis: guesses alternating between replicas are locked after the free ones', async () => {
    const user = await set.signUp();
    const address = randomAddress();
    const [r0, r1] = set.replicas as [(typeof set.replicas)[0], (typeof set.replicas)[0]];
    const guess = (on: number, password: string) =>
      call([r0, r1][on]!.url, 'POST', '/v1/sessions', { body: { username: user.name, password }, address });
    // Four failures, two on each replica: alone, neither would have reached four.
    for (const i of range(0, 3)) expect((await guess(i % 2, 'wrong-password')).status).toBe(401);
    for (const on of [0, 1]) {
      const locked = await guess(on, 'password-123');
      expect(locked.status).toBe(429);
      expect(locked.body.error).toMatchObject({ code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } });
    }
    // Another address signs the same user in at once, on either replica.
    expect((await call(r1.url, 'POST', '/v1/sessions', { body: { username: user.name, password: 'password-123' } })).status).toBe(200);
  });

  it('DELETE /v1/sessions closes the user’s sockets on both replicas with 4403', async () => {
    const user = await set.signUp(0);
    const second = (await set.replicas[1]!.http('POST', '/v1/sessions', { body: { username: user.name, password: 'password-123' } })).body
      .token as string;
    const onR0 = await connect(set.replicas[0]!.wsUrl, user.token);
    const onR1 = await connect(set.replicas[1]!.wsUrl, second);
    const alsoR1 = await connect(set.replicas[1]!.wsUrl, user.token);
    expect((await set.replicas[0]!.http('DELETE', '/v1/sessions', { token: user.token })).status).toBe(204);
    const codes = await Promise.all([onR0.closed, onR1.closed, alsoR1.closed]);
    expect(codes.map((c) => c.code)).toEqual([4403, 4403, 4403]);
    for (const token of [user.token, second]) expect((await set.replicas[1]!.http('GET', '/v1/me', { token })).status).toBe(401);
  });
});

// Issue 35 (5): one user's frames are counted over their sockets on every replica (in Redis, in
// batches of 10): a budget no replica's own bucket would reach is still enforced.
describe.skipIf(noScaleServers)('a user’s frames across replicas', () => {
  let set: ReplicaSet;
  beforeAll(async () => {
    // Each replica lets a user send 30 frames at once; both together 40 in 10 s (1/s × 10 + 30).
    set = await startReplicas(2, {
      env: { RATE_LIMIT_PER_S: '1', RATE_LIMIT_BURST: '100', USER_RATE_LIMIT_PER_S: '1', USER_RATE_LIMIT_BURST: '30' },
    });
  });
  afterAll(async () => {
    await set?.stop();
    await killAll();
  });

  it('30 frames on one replica, then the second replica refuses the user rate_limited before its own bucket is spent', async () => {
    const [user, other] = [await set.signUp(0), await set.signUp(1)];
    const [onR0, onR1] = [await connect(set.replicas[0]!.wsUrl, user.token), await connect(set.replicas[1]!.wsUrl, user.token)];
    const first = await Promise.all(range(1, 30).map((i) => onR0.request({ type: 'ping', id: `a${i}` }, 20_000)));
    expect(first.map((f) => f.type)).toEqual(range(1, 30).map(() => 'pong'));
    // 20 at once, then one at a time: the replica's own bucket still holds 10 when the refusals start.
    const second = await Promise.all(range(1, 20).map((i) => onR1.request({ type: 'ping', id: `b${i}` }, 20_000)));
    const later = [];
    for (const i of range(1, 9)) {
      const answer = await onR1.request({ type: 'ping', id: `c${i}` }, 20_000);
      later.push(answer);
      if (answer.type === 'error') break;
    }
    const refused = [...second, ...later].filter((f) => f.type === 'error');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } });
    expect([...second, ...later].filter((f) => f.type === 'pong').length).toBeLessThan(30);
    // Another user on the same replica is not counted with them.
    const theirs = await connect(set.replicas[1]!.wsUrl, other.token);
    expect(await theirs.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    for (const s of [onR0, onR1, theirs]) s.terminate();
  });
});
