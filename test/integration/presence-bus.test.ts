import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presenceMarker } from '../helpers/markers.js';
import { killAll, noScaleServers, PrivateRedis, replicaSockets, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import type { TestUser } from '../helpers/server.js';

// What presence costs the bus (docs/protocol.md §8 "Profiles and presence"): one flush is one bus message to every
// replica, however many connected viewers it reaches, and each replica hands its own viewers
// their frames. Counted on a Redis of the test's own, which nobody else publishes to.

const COALESCE_MS = 200;
const VIEWERS = 40;

describe.skipIf(noScaleServers)('presence on the bus', () => {
  let redis: PrivateRedis;
  let set: ReplicaSet;
  let listener: Redis;
  /** Every message published on the private Redis: channel and payload. */
  const heard: { channel: string; payload: string }[] = [];
  const { sockets, on } = replicaSockets(() => set);

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    set = await startReplicas(2, { redisUrl: redis.url, env: { PRESENCE_COALESCE_MS: String(COALESCE_MS) } });
    listener = new Redis(redis.url);
    listener.on('pmessage', (_pattern: string, channel: string, payload: string) => heard.push({ channel, payload }));
    await listener.psubscribe('*');
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    listener?.disconnect();
    await set?.stop();
    await redis?.stop();
    await killAll();
  });

  it('one flush reaching many viewers on two replicas is one PUBLISH, and every viewer gets its frame', async () => {
    const [subject, ...viewers] = await Promise.all(Array.from({ length: VIEWERS + 1 }, () => set.user()));
    const markers = await Promise.all(Array.from({ length: 4 }, () => set.user()));
    /** A flush of each replica gathered after this call has been sent, and heard here when `heardToo`. */
    const flushedOnBoth = async (users: TestUser[], heardToo: boolean) => {
      for (const [i, marker] of users.entries()) {
        await presenceMarker(set.replicas[i]!, marker, [{ user: viewers[0]!, socket: open[0]! }]);
        if (heardToo) await waitUntil(() => heard.some((m) => m.payload.includes(marker.id)), 5000, `replica ${i}'s marker on the bus`);
      }
    };
    const created = await set.replicas[0]!.http('POST', '/v1/groups', {
      token: subject!.token,
      body: { name: 'G', members: viewers.map((v) => v.id) },
    });
    expect(created.status).toBe(201);
    const open = await Promise.all(viewers.map((v, i) => on(i % 2, v)));
    // The viewers' own arrivals are flushed (on each replica) before the subject comes.
    await flushedOnBoth(markers.slice(0, 2), false);
    heard.length = 0;
    await on(0, subject!);
    await Promise.all(open.map((s) => s.next((f) => f.type === 'presence' && f.user === subject!.id && f.online)));
    // A second publish carrying the subject would be on the bus before a later flush of its replica.
    await flushedOnBoth(markers.slice(2), true);
    const carrying = heard.filter((m) => m.payload.includes(subject!.id) && m.payload.includes('presence'));
    expect(carrying.map((m) => m.channel)).toEqual(['banyan:presence']);
    // The subject's frame once, not once per viewer.
    expect(carrying[0]!.payload.split(`\\"user\\":\\"${subject!.id}\\"`)).toHaveLength(2);
  });
});
