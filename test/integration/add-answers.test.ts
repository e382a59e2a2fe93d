import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { tokenUser } from '../helpers/users.js';

// Issue 35 (9): an add's answer, and the time it takes, tell nothing of whether the user named
// exists, blocked the adder or does not let them add (docs/protocol.md §8 "Privacy and safety").
// Measured as an attacker would: many probes of each kind, interleaved, compared by median.

const PROBES = 16;
const WARM_UP = 4;

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

describe.each(storageModes())('adds answer alike whoever is named (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode, env: { DEFAULT_GROUP_ADD: 'shared', ADD_BY_USERNAME_RATE: '10000/3600' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const privacy = async (u: TestUser, groupAdd: string) =>
    expect((await server.http('PATCH', '/v1/me', { token: u.token, body: { privacy: { groupAdd } } })).status).toBe(200);
  const accounts = async (n: number, label: string) => {
    const out: TestUser[] = [];
    for (let i = 0; i < n; i++) out.push(await server.signUp(`${label}-${Math.random().toString(36).slice(2, 10)}`));
    return out;
  };

  it('unknown, blocking, nobody and not-sharing users: the same answer, in the same time, by username and by id', async () => {
    const adder = await tokenUser(server, 'prober');
    const group = await createGroup(server, adder, [], 'Probe');
    const n = PROBES + WARM_UP;
    // Each probe names a user never named before: the first add of a user is the one that counts.
    const [notSharing, blocking, private_] = [await accounts(n, 'shy'), await accounts(n, 'blk'), await accounts(n, 'prv')];
    for (const u of blocking) expect((await server.http('PUT', `/v1/blocks/${adder.id}`, { token: u.token })).status).toBe(204);
    for (const u of private_) await privacy(u, 'nobody');
    const kinds = {
      unknown: Array.from({ length: n }, (_, i) => `nobody-${i}-${Math.random().toString(36).slice(2, 8)}`),
      notSharing: notSharing.map((u) => u.name),
      blocking: blocking.map((u) => u.name),
      private: private_.map((u) => u.name),
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
    const answers = new Set<string>();
    const names = Object.keys(kinds) as (keyof typeof kinds)[];
    for (let i = 0; i < n; i++) {
      // Interleaved, each round in another order: load and warm-up fall on every kind alike.
      const order = names.map((_, j) => names[(i + j) % names.length]!);
      for (const kind of order) {
        const started = performance.now();
        const r = await server.http('POST', `/v1/groups/${group}/members`, { token: adder.token, body: { username: kinds[kind][i] } });
        const took = performance.now() - started;
        answers.add(JSON.stringify(r));
        if (i >= WARM_UP) times[kind]!.push(took);
      }
    }
    expect([...answers]).toEqual([JSON.stringify({ status: 202, body: { status: 'invited' } })]);
    const medians = Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
    console.log(`[${mode}] add by username, median ms: ${JSON.stringify(medians, (_, v) => (typeof v === 'number' ? +v.toFixed(1) : v))}`);
    const values = Object.values(medians);
    // Wide margins (a busy machine): before the fix an invitation's add took about 3× an unknown's.
    expect(Math.max(...values) / Math.min(...values)).toBeLessThan(1.35);

    // By id: the same answers (an unknown id, a blocker, a private user).
    const byId = async (userId: string) => server.http('POST', `/v1/groups/${group}/members`, { token: adder.token, body: { userId } });
    const [fresh] = await accounts(1, 'fresh');
    const [blocker] = await accounts(1, 'blk2');
    await server.http('PUT', `/v1/blocks/${adder.id}`, { token: blocker!.token });
    const invited = { status: 202, body: { status: 'invited' } };
    for (const id of ['u_nobody_has_this', fresh!.id, blocker!.id, private_[0]!.id]) expect(await byId(id)).toEqual(invited);
    // Only the users who may be invited were: the blocker and the unknown got nothing.
    const pending = async (u: TestUser) => (await server.http('GET', '/v1/invitations', { token: u.token })).body.invitations.length;
    expect(await pending(fresh!)).toBe(1);
    expect(await pending(blocker!)).toBe(0);
    expect(await pending(blocking[0]!)).toBe(0);
  }, 180_000);

  it('a member who blocked the adder is answered as any member: already a member', async () => {
    const admin = await tokenUser(server, 'adm');
    const member = await tokenUser(server, 'mem');
    await privacy(member, 'everyone');
    const group = await createGroup(server, admin, [member], 'Members');
    expect((await server.http('PUT', `/v1/blocks/${admin.id}`, { token: member.token })).status).toBe(204);
    const other = await tokenUser(server, 'oth');
    await privacy(other, 'everyone');
    expect((await server.http('POST', `/v1/groups/${group}/members`, { token: admin.token, body: { userId: other.id } })).status).toBe(201);
    const again = await server.http('POST', `/v1/groups/${group}/members`, { token: admin.token, body: { userId: other.id } });
    const blockedMember = await server.http('POST', `/v1/groups/${group}/members`, { token: admin.token, body: { userId: member.id } });
    expect(again.status).toBe(409);
    expect(blockedMember).toEqual(again);
  });
});
