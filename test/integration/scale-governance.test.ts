import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, noScaleServers, replicaSockets, startReplicas, type ReplicaSet } from '../helpers/replicas.js';
import type { TestUser } from '../helpers/server.js';

// Two replicas over PostgreSQL and Redis: a mute or a ban issued on one takes effect on the
// other's sockets at once (docs/protocol.md §8 "Privacy and safety"; the membership cache learns it over the bus).

describe.skipIf(noScaleServers)('governance across two replicas', () => {
  let set: ReplicaSet;
  const { sockets, on } = replicaSockets(() => set);

  beforeAll(async () => {
    set = await startReplicas(2);
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await set?.stop();
    await killAll();
  });

  const r = (i: number) => set.replicas[i]!;
  const call = async (i: number, method: string, path: string, u: TestUser, body?: unknown, status = 200) => {
    const res = await r(i).http(method, path, { token: u.token, ...(body === undefined ? {} : { body }) });
    expect({ path, status: res.status, body: res.body }).toMatchObject({ path, status });
    return res.body;
  };

  async function communityWithGroup(owner: TestUser, members: TestUser[]) {
    const { community } = await call(0, 'POST', '/v1/communities', owner, { name: 'Across' }, 201);
    const { group } = await call(0, 'POST', `/v1/communities/${community.id}/groups`, owner, { name: 'g', settings: { open: true } }, 201);
    const { code } = await call(0, 'POST', `/v1/communities/${community.id}/invites`, owner, {}, 201);
    for (const m of members) {
      await call(1, 'POST', `/v1/invites/${code}/join`, m);
      await call(1, 'POST', `/v1/communities/${community.id}/groups/${group.id}/join`, m);
    }
    return { community: community as { id: string; announcementGroupId: string }, group: group.id as string };
  }

  it('a member muted on replica A is refused at once on replica B, and free again once lifted', async () => {
    const [owner, member] = await Promise.all([set.user(), set.user()]);
    const { group } = await communityWithGroup(owner!, [member!]);
    const onB = await on(1, member!);
    // Replica B has the membership cached before the mute.
    expect(await onB.request({ type: 'send', group, clientMsgId: 'before', text: 'hi' })).toMatchObject({ type: 'ack' });

    await call(0, 'PUT', `/v1/groups/${group}/mutes/${member!.id}`, owner!, { forS: 600 }, 204);
    expect(await onB.request({ type: 'send', group, clientMsgId: 'during', text: 'hi' })).toMatchObject({
      type: 'error',
      code: 'forbidden',
      details: { reason: 'muted', until: expect.any(String) },
    });
    expect(await onB.request({ type: 'typing', group })).toMatchObject({ code: 'forbidden' });

    await call(0, 'DELETE', `/v1/groups/${group}/mutes/${member!.id}`, owner!, undefined, 204);
    expect(await onB.request({ type: 'send', group, clientMsgId: 'after', text: 'hi' })).toMatchObject({ type: 'ack' });
  });

  it("a ban issued on replica A removes the user's sockets on replica B from every group at once", async () => {
    const [owner, target] = await Promise.all([set.user(), set.user()]);
    const { community, group } = await communityWithGroup(owner!, [target!]);
    const onB = await on(1, target!);
    expect(await onB.request({ type: 'send', group, clientMsgId: 'before', text: 'hi' })).toMatchObject({ type: 'ack' });

    await call(0, 'PUT', `/v1/communities/${community.id}/bans/${target!.id}`, owner!, {}, 204);
    await onB.next((f) => f.type === 'group_removed' && f.group === group);
    await onB.next((f) => f.type === 'group_removed' && f.group === community.announcementGroupId);
    expect(await onB.request({ type: 'send', group, clientMsgId: 'after', text: 'hi' })).toMatchObject({
      type: 'error',
      code: 'not_found',
    });
  });
});
