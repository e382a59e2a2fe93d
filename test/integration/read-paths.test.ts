import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, noScaleServers, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import { createGroup, startServer, storageModes, type HttpResult, type TestServer, type TestUser } from '../helpers/server.js';
import { tokenUsers } from '../helpers/users.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// The hot read paths (issue 16): the newest history page served from memory, listings of
// concurrent session starts in one statement, revoked sessions kept in memory. Each is checked
// against the database while it changes. `?before=<past the end>` asks for the same page as the
// newest one but always from storage: the two must be equal.

type Http = (method: string, path: string, opts?: { token?: string; body?: unknown }) => Promise<HttpResult>;

/** The newest page (from memory when current) and the same page read from storage. */
async function bothPages(http: Http, token: string, group: string, limit = 20) {
  const lastSeq = (await http('GET', `/v1/groups/${group}`, { token })).body.group.lastSeq as number;
  const [cached, stored] = await Promise.all([
    http('GET', `/v1/groups/${group}/messages?limit=${limit}`, { token }),
    http('GET', `/v1/groups/${group}/messages?limit=${limit}&before=${lastSeq + 1}`, { token }),
  ]);
  expect(cached.status).toBe(200);
  expect(stored.status).toBe(200);
  return { cached: cached.body, stored: stored.body };
}

describe.each(storageModes())('hot read paths (%s)', (mode) => {
  let server: TestServer;
  const sockets: TestSocket[] = [];
  const open = async (u: TestUser) => {
    const s = await connect(server.wsUrl, u.token);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    server = await startServer({ mode });
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
  });

  it('the newest page equals the stored one right after every send, edit, delete and reaction, read while they happen', async () => {
    const [owner, alice, bob] = (await tokenUsers(server, 3, 'page')) as [TestUser, TestUser, TestUser];
    const group = await createGroup(server, owner, [alice, bob]);
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    const seqs: number[] = [];
    const send = async (s: TestSocket, text: string) => {
      const ack = await s.request({ type: 'send', group, clientMsgId: `c-${Math.random()}`, text });
      expect(ack.type).toBe('ack');
      seqs.push(ack.seq as number);
      return ack.seq as number;
    };
    for (let i = 0; i < 25; i++) await send(i % 2 ? a : b, `m${i}`);
    // Readers keep the page in memory (and hot) the whole time.
    let reading = true;
    const readers = [owner, alice, bob].map(async (u) => {
      while (reading) expect((await server.http('GET', `/v1/groups/${group}/messages?limit=20`, { token: u.token })).status).toBe(200);
    });
    const steps: [string, () => Promise<unknown>][] = [
      ['send', () => a.request({ type: 'send', group, clientMsgId: 'new-1', text: 'new one' })],
      ['edit', () => a.request({ type: 'edit', group, target: seqs.findLast((_, i) => i % 2 === 1)!, text: 'edited' })],
      ['react', () => b.request({ type: 'react', group, target: seqs.at(-1)!, emoji: '👍' })],
      ['react again', () => a.request({ type: 'react', group, target: seqs.at(-1)!, emoji: '👍' })],
      ['change reaction', () => a.request({ type: 'react', group, target: seqs.at(-1)!, emoji: '🙏' })],
      ['remove reaction', () => b.request({ type: 'react', group, target: seqs.at(-1)!, emoji: null })],
      ['delete', () => a.request({ type: 'delete', group, target: seqs.at(-3)! })],
      ['send with a reply', () => a.request({ type: 'send', group, clientMsgId: 'reply-1', text: 'reply', replyTo: seqs.at(-2)! })],
    ];
    try {
      for (const [what, step] of steps) {
        const ack = await step();
        expect(ack, what).toMatchObject({ type: 'ack' });
        if (what === 'send') seqs.push((ack as Frame).seq);
        // Right after the ack, on the replica that committed it: no wait for the bus.
        const { cached, stored } = await bothPages(server.http, owner.token, group);
        expect(cached, what).toStrictEqual(stored);
      }
    } finally {
      reading = false;
      await Promise.all(readers);
    }
    const { cached } = await bothPages(server.http, bob.token, group);
    expect(cached.messages.find((m: Frame) => m.seq === seqs.at(-3))).toMatchObject({ text: null, deleted: true });
    expect(cached.messages.find((m: Frame) => m.seq === seqs.at(-1))).toMatchObject({ reactions: { '🙏': 1 } });
  });

  it('an announcement page counts reactions at once, before their tally event', async () => {
    const [admin, m1, m2] = (await tokenUsers(server, 3, 'ann')) as [TestUser, TestUser, TestUser];
    const c = await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Org', description: '' } });
    const group = c.body.community.announcementGroupId as string;
    const invite = await server.http('POST', `/v1/communities/${c.body.community.id}/invites`, { token: admin.token, body: {} });
    for (const u of [m1, m2])
      expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: u.token })).status).toBe(200);
    const s = await open(admin);
    const ack = await s.request({ type: 'send', group, clientMsgId: 'a1', text: 'announcement' });
    expect((await bothPages(server.http, m1.token, group)).cached.messages[0]).toMatchObject({ seq: ack.seq, reactions: {} });
    const r = await open(m2);
    expect(await r.request({ type: 'react', group, target: ack.seq, emoji: '👍' })).toMatchObject({ type: 'ack' });
    const { cached, stored } = await bothPages(server.http, m1.token, group);
    expect(cached).toStrictEqual(stored);
    expect(cached.messages[0]).toMatchObject({ reactions: { '👍': 1 } });
  });

  it('a page in memory is no answer to a non-member, nor to a member once removed', async () => {
    const [owner, member, stranger] = (await tokenUsers(server, 3, 'gate')) as [TestUser, TestUser, TestUser];
    const group = await createGroup(server, owner, [member]);
    const s = await open(owner);
    await s.request({ type: 'send', group, clientMsgId: 'g1', text: 'members only' });
    expect((await server.http('GET', `/v1/groups/${group}/messages`, { token: member.token })).status).toBe(200);
    expect((await server.http('GET', `/v1/groups/${group}/messages`, { token: stranger.token })).status).toBe(404);
    expect((await server.http('DELETE', `/v1/groups/${group}/members/${member.id}`, { token: owner.token })).status).toBe(204);
    expect((await server.http('GET', `/v1/groups/${group}/messages`, { token: member.token })).status).toBe(404);
  });

  it('session starts in one burst each list exactly their own groups, as /v1/me does', async () => {
    const users = await tokenUsers(server, 30, 'burst');
    // User i is in the groups of owners i-1, i and i+1 (a ring), so every listing differs.
    const groups = await Promise.all(users.map((u, i) => createGroup(server, u, [users[(i + 1) % users.length]!])));
    const expected = users.map((_, i) => [groups[i], groups[(i - 1 + users.length) % users.length]].sort());
    const readies = await Promise.all(
      users.map(async (u) => {
        const s = await open(u);
        return s.next((f) => f.type === 'ready');
      }),
    );
    for (const [i, ready] of readies.entries()) {
      expect(ready.groups.map((g: Frame) => g.id).sort()).toStrictEqual(expected[i]);
      const me = await server.http('GET', '/v1/me', { token: users[i]!.token });
      expect(ready.groups.map(({ lastSeq, ...g }: Frame) => g)).toStrictEqual(me.body.groups.map(({ lastSeq, ...g }: Frame) => g));
    }
  });
});

describe.skipIf(noScaleServers)('hot read paths across three replicas', () => {
  let set: ReplicaSet;

  beforeAll(async () => {
    set = await startReplicas(3);
  });
  afterAll(async () => {
    await set?.stop();
    await killAll();
  });

  const r = (i: number) => set.replicas[i]!;
  const me = (i: number, token: string) => r(i).http('GET', '/v1/me', { token });

  it('a revoked session is refused on every replica from the moment the revoking request is answered', async () => {
    const user = await set.signUp(0);
    const signIn = async () => {
      const res = await r(1).http('POST', '/v1/sessions', { body: { username: user.name, password: 'password-123' } });
      expect(res.status).toBe(200);
      return res.body.token as string;
    };
    const [second, third] = [await signIn(), await signIn()];
    for (const i of [0, 1, 2]) for (const token of [user.token, second, third]) expect((await me(i, token)).status).toBe(200);

    // Requests with the token run on replicas 1 and 2 throughout; none started after the answer may pass.
    let answeredAt = Number.POSITIVE_INFINITY;
    let hammering = true;
    const late: number[] = [];
    /** Requests each hammer has started, in all and after the answer. */
    const started = [0, 0];
    const afterAnswer = [0, 0];
    const hammer = [1, 2].map(async (i, h) => {
      while (hammering) {
        const startedAt = performance.now();
        started[h]!++;
        if (startedAt > answeredAt) afterAnswer[h]!++;
        const res = await me(i, user.token);
        if (res.status === 200 && startedAt > answeredAt) late.push(i);
      }
    });
    // Both replicas are answering the token when it is revoked, and go on well past the answer.
    await waitUntil(() => started.every((n) => n >= 3), 10_000, 'requests running on both replicas');
    const out = await r(0).http('DELETE', '/v1/sessions/current', { token: user.token });
    answeredAt = performance.now();
    expect(out.status).toBe(204);
    // At once, not after some propagation time: the very next request on each replica.
    expect(await Promise.all([0, 1, 2].map(async (i) => (await me(i, user.token)).status))).toStrictEqual([401, 401, 401]);
    await waitUntil(() => afterAnswer.every((n) => n >= 5), 10_000, 'requests started after the answer on both replicas');
    hammering = false;
    await Promise.all(hammer);
    expect(late).toStrictEqual([]);
    for (const i of [0, 1, 2]) expect((await me(i, second)).status).toBe(200);

    // A password change revokes every other session (revoke_all): the third, not the second.
    const changed = await r(2).http('PUT', '/v1/me/password', {
      token: second,
      body: { currentPassword: 'password-123', newPassword: 'password-456' },
    });
    expect(changed.status).toBe(204);
    expect(await Promise.all([0, 1, 2].map(async (i) => (await me(i, third)).status))).toStrictEqual([401, 401, 401]);
    expect(await Promise.all([0, 1, 2].map(async (i) => (await me(i, second)).status))).toStrictEqual([200, 200, 200]);
    // The WebSocket upgrade too.
    for (const i of [0, 1, 2]) await expect(connect(r(i).wsUrl, third)).rejects.toThrow(/401/);

    // A replica started later reads what was revoked before it.
    await r(1).stop();
    await r(1).start();
    expect((await me(1, user.token)).status).toBe(401);
    expect((await me(1, third)).status).toBe(401);
    expect((await me(1, second)).status).toBe(200);
  }, 60_000);

  it('a page kept on one replica follows edits, deletes and reactions made on another', async () => {
    const [owner, alice] = await Promise.all([set.user(), set.user()]);
    const created = await r(0).http('POST', '/v1/groups', { token: owner.token, body: { name: 'pages', members: [alice.id] } });
    const group = created.body.group.id as string;
    // Nobody of the group has a socket on replica 2: its page alone keeps the group's feed there.
    const a = await connect(r(0).wsUrl, alice.token);
    try {
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const ack = await a.request({ type: 'send', group, clientMsgId: `x${i}`, text: `m${i}` });
        seqs.push(ack.seq as number);
      }
      const pageOn2 = () => bothPages(r(2).http.bind(r(2)), owner.token, group, 5);
      expect((await pageOn2()).cached.messages).toHaveLength(5);
      const steps: Frame[] = [
        { type: 'edit', group, target: seqs.at(-1)!, text: 'edited elsewhere' },
        { type: 'react', group, target: seqs.at(-2)!, emoji: '👍' },
        { type: 'delete', group, target: seqs.at(-3)! },
        { type: 'send', group, clientMsgId: 'y1', text: 'newest' },
      ];
      for (const step of steps) {
        expect(await a.request(step)).toMatchObject({ type: 'ack' });
        // Replica 2 hears of it over the bus: its page is current once the event arrived there.
        let last: Awaited<ReturnType<typeof pageOn2>> | undefined;
        await waitUntil(
          async () => {
            last = await pageOn2();
            return JSON.stringify(last.cached) === JSON.stringify(last.stored);
          },
          3000,
          `replica 2's page after ${step.type}`,
        );
        expect(last!.cached).toStrictEqual(last!.stored);
      }
    } finally {
      a.terminate();
    }
  }, 60_000);
});
