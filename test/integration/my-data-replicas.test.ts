import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, noScaleServers, replicaSockets, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';

// docs/protocol.md §2 "Your data: export and erasure" across two gateway processes over PostgreSQL
// and Redis: an erasure asked for on one replica closes the member's socket on the other, and
// neither replica serves their profile or their words (search) afterwards; an export asked for on
// one replica is made by one of them and downloaded from the other.

describe.skipIf(noScaleServers)('a member’s own data across replicas', () => {
  let set: ReplicaSet;
  const { sockets, on } = replicaSockets(() => set);
  const r = (i: number) => set.replicas[i]!;

  beforeAll(async () => {
    set = await startReplicas(2, { env: { DEFAULT_GROUP_ADD: 'everyone', SEARCH_RATE: '1000/1' } });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await set?.stop();
    await killAll();
  });

  it('an export asked for on one replica is downloaded once from the other', async () => {
    const asha = await set.signUp(0);
    const asked = await r(0).http('POST', '/v1/me/exports', { token: asha.token });
    expect(asked.status).toBe(202);
    const id = asked.body.export.id as string;
    await waitUntil(
      async () => (await r(1).http('GET', `/v1/me/exports/${id}`, { token: asha.token })).body.export.status === 'ready',
      60_000,
      'export ready',
    );
    const res = await fetch(`${r(1).url}/v1/me/exports/${id}/download`, { headers: { authorization: `Bearer ${asha.token}` } });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    expect((await r(0).http('GET', `/v1/me/exports/${id}/download`, { token: asha.token })).status).toBe(410);
  }, 120_000);

  it('an erasure on one replica closes the member’s socket on the other; neither serves their profile or words', async () => {
    const asha = await set.signUp(0);
    const ben = await set.user();
    const unique = `wombat${randomBytes(4).toString('hex')}`;
    // A direct chat is between people who share a group.
    await r(0).http('POST', '/v1/groups', { token: asha.token, body: { name: 'Walkers', members: [ben.id] } });
    const direct = (await r(0).http('POST', '/v1/direct', { token: asha.token, body: { userId: ben.id } })).body.group.id as string;
    expect(
      (
        await r(0).http('POST', `/v1/groups/${direct}/messages`, {
          token: asha.token,
          body: { clientMsgId: 'c1', text: `${unique} at noon` },
        })
      ).status,
    ).toBe(201);
    const search = async (i: number) => (await r(i).http('GET', `/v1/search?q=${unique}`, { token: ben.token })).body.results as unknown[];
    expect(await search(1)).toHaveLength(1);
    expect((await r(1).http('GET', `/v1/users/${asha.id}`, { token: ben.token })).body).toMatchObject({ user: { name: asha.name } });

    const theirs = await on(1, asha);
    expect(
      (await r(0).http('DELETE', '/v1/me', { token: asha.token, body: { confirm: 'delete my account', password: 'password-123' } })).status,
    ).toBe(202);
    expect((await theirs.closed).code).toBe(4403);
    expect((await r(1).http('GET', '/v1/me', { token: asha.token })).status).toBe(401);

    await waitUntil(async () => (await search(1)).length === 0 && (await search(0)).length === 0, 60_000, 'words gone from search');
    await waitUntil(
      async () => (await r(1).http('GET', `/v1/users/${asha.id}`, { token: ben.token })).status === 404,
      60_000,
      'profile gone',
    );
    expect((await r(0).http('GET', `/v1/users/${asha.id}`, { token: ben.token })).status).toBe(404);
    const signIn = await r(1).http('POST', '/v1/sessions', { body: { username: asha.name, password: 'password-123' } });
    expect(signIn.status).toBe(401);
  }, 120_000);
});
