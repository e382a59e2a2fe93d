import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  killAll,
  noScaleServers,
  PrivateRedis,
  Replica,
  replicaEnv,
  startReplicas,
  TcpProxy,
  waitUntil,
  type ReplicaSet,
} from '../helpers/replicas.js';
import { uniqueName, type TestUser } from '../helpers/server.js';
import { connect, type CloseInfo, type TestSocket } from '../helpers/ws-client.js';

// Redis stopped while an admin acts on replica A: replica B, which cannot hear of it, must not go
// on serving what was revoked, banned, demoted, muted or removed (docs/protocol.md §1, "During a
// Redis outage"). Each test has a private redis-server; the machine's Redis stays untouched.

/** Replicas whose periodic check against storage is far away: only a bus reconnect can act. */
const RECONNECT_ONLY = { FEED_CHECK_MS: '600000' };
/** Replicas that re-check their sessions against storage every 1.5 s while the bus is down. */
const PERIODIC = { FEED_CHECK_MS: '1500' };

/** Settles with the close, or with `undefined` once `ms` have passed. */
const closedWithin = (socket: TestSocket, ms: number) =>
  Promise.race([socket.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]) as Promise<CloseInfo | undefined>;

describe.skipIf(noScaleServers)('a Redis outage while an action happens on another replica', () => {
  const sockets: TestSocket[] = [];
  const opened: { set: ReplicaSet; redis: PrivateRedis }[] = [];
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    for (const { set, redis } of opened) {
      await set.stop();
      await redis.stop();
    }
    await killAll();
  });

  async function replicas(env: Record<string, string>) {
    const redis = await PrivateRedis.start();
    const set = await startReplicas(2, { redisUrl: redis.url, env });
    opened.push({ set, redis });
    const allReadyz = (status: number) => async () => (await Promise.all(set.replicas.map((r) => r.readyz()))).every((s) => s === status);
    return {
      set,
      on: async (i: number, user: TestUser) => {
        const socket = await connect(set.replicas[i]!.wsUrl, user.token);
        sockets.push(socket);
        return socket;
      },
      call: async (i: number, method: string, path: string, u: TestUser, body?: unknown, status = 200) => {
        const res = await set.replicas[i]!.http(method, path, { token: u.token, ...(body === undefined ? {} : { body }) });
        expect({ path, status: res.status, body: res.body }).toMatchObject({ path, status });
        return res.body;
      },
      /** Stops Redis and waits until both replicas noticed (/readyz 503). */
      redisDown: async () => {
        await redis.stop();
        await waitUntil(allReadyz(503), 15_000, 'readyz 503 on both');
      },
      redisUp: async () => {
        await redis.start();
        await waitUntil(allReadyz(200), 20_000, 'readyz 200 on both');
      },
    };
  }

  describe('re-checked when the bus comes back', () => {
    let r: Awaited<ReturnType<typeof replicas>>;
    beforeAll(async () => {
      r = await replicas(RECONNECT_ONLY);
    });

    it('"sign out everywhere" on A while Redis is down closes the socket on B (4403) once Redis is back', async () => {
      const user = await r.set.signUp(0);
      const onB = await r.on(1, user);
      await r.redisDown();
      await r.call(0, 'DELETE', '/v1/sessions', user, undefined, 204);
      // B cannot know yet (and with no periodic check in reach, it does not guess).
      expect(await closedWithin(onB, 1500)).toBeUndefined();
      await r.redisUp();
      const closed = await closedWithin(onB, 15_000);
      expect(closed?.code).toBe(4403);
    }, 90_000);

    it("a ban on A while Redis is down takes B's socket out of the announcement group once Redis is back", async () => {
      const [owner, target, witness] = await Promise.all([r.set.user(), r.set.user(), r.set.user()]);
      const { community } = await r.call(0, 'POST', '/v1/communities', owner!, { name: 'Outage' }, 201);
      const announcements = community.announcementGroupId as string;
      const { code } = await r.call(0, 'POST', `/v1/communities/${community.id}/invites`, owner!, {}, 201);
      for (const m of [target!, witness!]) await r.call(1, 'POST', `/v1/invites/${code}/join`, m);
      // A group outside the community, where the banned user stays: its later message proves delivery went on.
      const { group: side } = await r.call(0, 'POST', '/v1/groups', owner!, { name: 'side', members: [target!.id] }, 201);
      const targetOnB = await r.on(1, target!);
      const witnessOnB = await r.on(1, witness!);
      expect(targetOnB.frames[0]!.groups.map((g: { id: string }) => g.id)).toContain(announcements);

      await r.redisDown();
      await r.call(0, 'PUT', `/v1/communities/${community.id}/bans/${target!.id}`, owner!, {}, 204);
      await r.redisUp();
      // The frame a live ban brings.
      await targetOnB.next((f) => f.type === 'group_removed' && f.group === announcements, 15_000);

      const posted = await r.call(
        0,
        'POST',
        `/v1/communities/${community.id}/announcements`,
        owner!,
        { clientMsgId: 'a1', text: 'news' },
        201,
      );
      const later = await r.call(0, 'POST', `/v1/groups/${side.id}/messages`, owner!, { clientMsgId: 's1', text: 'later' }, 201);
      await witnessOnB.next((f) => f.type === 'event' && f.group === announcements && f.seq === posted.seq, 15_000);
      await targetOnB.next((f) => f.type === 'event' && f.group === side.id && f.seq === later.seq, 15_000);
      expect(targetOnB.events(announcements).filter((e) => e.seq >= posted.seq)).toStrictEqual([]);
      expect(targetOnB.closeInfo).toBeUndefined();
    }, 90_000);

    it('a demoted admin, a muted member and a removed member are refused on B as soon as B notices the outage', async () => {
      const [owner, admin, muted, removed] = await Promise.all([r.set.user(), r.set.user(), r.set.user(), r.set.user()]);
      const { community } = await r.call(0, 'POST', '/v1/communities', owner!, { name: 'Outage' }, 201);
      const announcements = community.announcementGroupId as string;
      const { group } = await r.call(
        0,
        'POST',
        `/v1/communities/${community.id}/groups`,
        owner!,
        { name: 'g', settings: { open: true } },
        201,
      );
      const { code } = await r.call(0, 'POST', `/v1/communities/${community.id}/invites`, owner!, {}, 201);
      for (const m of [admin!, muted!, removed!]) {
        await r.call(1, 'POST', `/v1/invites/${code}/join`, m);
        await r.call(1, 'POST', `/v1/communities/${community.id}/groups/${group.id}/join`, m);
      }
      await r.call(0, 'PUT', `/v1/communities/${community.id}/admins/${admin!.id}`, owner!, undefined, 204);
      const [adminOnB, mutedOnB, removedOnB] = await Promise.all([r.on(1, admin!), r.on(1, muted!), r.on(1, removed!)]);
      // B has each membership cached before the outage.
      const send = (s: TestSocket, g: string, id: string) => s.request({ type: 'send', group: g, clientMsgId: id, text: id }, 15_000);
      expect(await send(adminOnB, announcements, 'admin-before')).toMatchObject({ type: 'ack' });
      expect(await send(mutedOnB, group.id, 'muted-before')).toMatchObject({ type: 'ack' });
      expect(await send(removedOnB, group.id, 'removed-before')).toMatchObject({ type: 'ack' });

      await r.redisDown();
      await r.call(0, 'DELETE', `/v1/communities/${community.id}/admins/${admin!.id}`, owner!, undefined, 204);
      await r.call(0, 'PUT', `/v1/groups/${group.id}/mutes/${muted!.id}`, owner!, { forS: 600 }, 204);
      await r.call(0, 'DELETE', `/v1/groups/${group.id}/members/${removed!.id}`, owner!, undefined, 204);

      expect(await send(adminOnB, announcements, 'admin-during')).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await send(mutedOnB, group.id, 'muted-during')).toMatchObject({
        type: 'error',
        code: 'forbidden',
        details: { reason: 'muted' },
      });
      expect(await send(removedOnB, group.id, 'removed-during')).toMatchObject({ type: 'error', code: 'not_found' });
      await r.redisUp();
      // And once the bus is back, still refused (what was cached before the outage is gone).
      expect(await send(mutedOnB, group.id, 'muted-after')).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await send(removedOnB, group.id, 'removed-after')).toMatchObject({ type: 'error', code: 'not_found' });
    }, 90_000);
  });

  describe('re-checked periodically while the bus is down', () => {
    let r: Awaited<ReturnType<typeof replicas>>;
    beforeAll(async () => {
      r = await replicas(PERIODIC);
    });

    it('"sign out everywhere" and a password change on A close the sockets on B (4403) while Redis stays down', async () => {
      const password = 'password-123';
      const username = uniqueName('o');
      const signedUp = await r.set.replicas[0]!.http('POST', '/v1/accounts', { body: { username, password, name: username } });
      expect(signedUp.status).toBe(201);
      const first: TestUser = { id: signedUp.body.user.id, name: username, token: signedUp.body.token };
      const signIn = async () => {
        const res = await r.set.replicas[0]!.http('POST', '/v1/sessions', { body: { username, password } });
        expect(res.status).toBe(200);
        return { ...first, token: res.body.token as string };
      };
      const [second, third] = [await signIn(), await signIn()];
      const [firstOnB, secondOnB] = [await r.on(1, first), await r.on(1, second)];

      await r.redisDown();
      // A password change ends every other session: the first one's socket on B closes.
      await r.call(0, 'PUT', '/v1/me/password', third, { currentPassword: password, newPassword: 'password-456' }, 204);
      expect((await closedWithin(firstOnB, 15_000))?.code).toBe(4403);
      // Signing out everywhere ends the rest: the second one's socket on B closes too.
      await r.call(0, 'DELETE', '/v1/sessions', third, undefined, 204);
      expect((await closedWithin(secondOnB, 15_000))?.code).toBe(4403);
      // Redis was down all along.
      expect(await r.set.replicas[1]!.readyz()).toBe(503);
      await r.redisUp();
    }, 90_000);
  });

  it('a replica cut off from Redis alone: its revocation and mute reach B, whose connection never dropped, once it is back', async () => {
    const redis = await PrivateRedis.start();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: redis.port });
    const a = new Replica(0, await freePort(), replicaEnv({ redisUrl: TcpProxy.urlThrough(redis.url, proxy.port), env: RECONNECT_ONLY }));
    const b = new Replica(1, await freePort(), replicaEnv({ redisUrl: redis.url, env: RECONNECT_ONLY }));
    try {
      await a.start();
      await b.start();
      const signUp = async () => {
        const username = uniqueName('p');
        const res = await a.http('POST', '/v1/accounts', { body: { username, password: 'password-123', name: username } });
        expect(res.status).toBe(201);
        return { id: res.body.user.id, name: username, token: res.body.token } as TestUser;
      };
      const [user, owner, member] = [await signUp(), await signUp(), await signUp()];
      const created = await a.http('POST', '/v1/groups', { token: owner.token, body: { name: 'cut', members: [member.id] } });
      expect(created.status).toBe(201);
      const group = created.body.group.id as string;
      const onB = await connect(b.wsUrl, user.token);
      const memberOnB = await connect(b.wsUrl, member.token);
      sockets.push(onB, memberOnB);
      const send = (id: string) => memberOnB.request({ type: 'send', group, clientMsgId: id, text: id }, 15_000);
      // B has the membership cached before A is cut off.
      expect(await send('before')).toMatchObject({ type: 'ack' });

      await proxy.cut();
      await waitUntil(async () => (await a.readyz()) === 503, 15_000, 'readyz 503 on A');
      expect(await b.readyz()).toBe(200);
      expect((await a.http('DELETE', '/v1/sessions', { token: user.token })).status).toBe(204);
      expect((await a.http('PUT', `/v1/groups/${group}/mutes/${member.id}`, { token: owner.token, body: { forS: 600 } })).status).toBe(204);
      // B's bus never dropped: nothing tells it yet.
      expect(await closedWithin(onB, 1500)).toBeUndefined();
      await proxy.restore();
      await waitUntil(async () => (await a.readyz()) === 200, 20_000, 'readyz 200 on A');
      expect((await closedWithin(onB, 15_000))?.code).toBe(4403);
      expect(await send('after')).toMatchObject({ type: 'error', code: 'forbidden', details: { reason: 'muted' } });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await proxy.cut();
      await redis.stop();
    }
  }, 90_000);
});
