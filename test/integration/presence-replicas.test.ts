import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, noScaleServers, type Replica, replicaSockets, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import { presenceMarker } from '../helpers/markers.js';
import type { TestUser } from '../helpers/server.js';

// docs/protocol.md §8 "Profiles and presence" and "Presence" across three gateway processes over PostgreSQL and
// Redis: frames cross replicas, a user connected twice is online until both go, and the users of
// a killed replica go offline within PRESENCE_TTL_MS × 4/3 + PRESENCE_COALESCE_MS.

const TTL_MS = 1500;
const COALESCE_MS = 100;
/** The bound the server promises, and slack for a loaded machine. */
const OFFLINE_BOUND_MS = Math.ceil((TTL_MS * 4) / 3) + COALESCE_MS;
const SLACK_MS = 1500;
const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

/** Heartbeat runs the replica has finished (each one looks for dead replicas and reports their users). */
const heartbeatsOf = async (replica: Replica): Promise<number> => {
  const text = await (await fetch(`${replica.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  return Number(/^banyan_job_runs_total\{job="presence\.heartbeat"\} (\d+)/m.exec(text)?.[1] ?? 0);
};

describe.skipIf(noScaleServers)('profiles and presence across replicas', () => {
  let set: ReplicaSet;
  const { sockets, on } = replicaSockets(() => set);

  beforeAll(async () => {
    set = await startReplicas(3, { env: { PRESENCE_TTL_MS: String(TTL_MS), PRESENCE_COALESCE_MS: String(COALESCE_MS), METRICS_TOKEN } });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await set?.stop();
    await killAll();
  });

  const r = (i: number) => set.replicas[i]!;
  const group = async (owner: TestUser, members: TestUser[]) =>
    (await r(0).http('POST', '/v1/groups', { token: owner.token, body: { name: 'G', members: members.map((m) => m.id) } })).body.group
      .id as string;

  it('presence and user frames made on one replica reach sockets on the others; GET …/presence sees every replica', async () => {
    const [asha, bela] = await Promise.all([set.user(), set.user()]);
    const g = await group(asha, [bela]);
    const sa = await on(0, asha);
    const sb = await on(1, bela);
    await sa.next((f) => f.type === 'presence' && f.user === bela.id && f.online);
    expect((await r(2).http('GET', `/v1/groups/${g}/presence`, { token: asha.token })).body.presence).toEqual([
      { user: bela.id, online: true, lastSeen: null },
    ]);
    expect((await r(2).http('PATCH', '/v1/me', { token: bela.token, body: { name: 'Bela R' } })).status).toBe(200);
    expect(await sa.next((f) => f.type === 'user' && f.user.id === bela.id)).toMatchObject({ user: { name: 'Bela R' } });
    await sb.close();
    const off = await sa.next((f) => f.type === 'presence' && f.user === bela.id && !f.online);
    expect(off.lastSeen).toEqual(expect.any(String));
  });

  it('a user connected on two replicas stays online until the last socket closes', async () => {
    const [asha, bela, marker] = await Promise.all([set.user(), set.user(), set.user()]);
    await group(asha, [bela]);
    const sa = await on(0, asha);
    const b1 = await on(1, bela);
    const b2 = await on(2, bela);
    await sa.next((f) => f.type === 'presence' && f.user === bela.id && f.online);
    await b1.close();
    // A wrong offline would be replica 1's (where b1 closed), in a flush before the marker's there.
    await presenceMarker(r(1), marker, [{ user: asha, socket: sa }]);
    expect(sa.frames.filter((f) => f.type === 'presence' && f.user === bela.id && !f.online)).toEqual([]);
    await b2.close();
    await sa.next((f) => f.type === 'presence' && f.user === bela.id && !f.online);
  });

  it("a killed replica's users go offline for the others within the bound, reported once", async () => {
    const [asha, bela, cara, marker0, marker1] = await Promise.all([set.user(), set.user(), set.user(), set.user(), set.user()]);
    await group(asha, [bela, cara]);
    const sa = await on(0, asha);
    const sc = await on(1, cara);
    await on(2, bela);
    await sa.next((f) => f.type === 'presence' && f.user === bela.id && f.online);
    const killedAt = Date.now();
    r(2).kill('SIGKILL');
    const off = await sa.next((f) => f.type === 'presence' && f.user === bela.id && !f.online, OFFLINE_BOUND_MS + SLACK_MS);
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThan(OFFLINE_BOUND_MS + SLACK_MS);
    // Last seen at the dead replica's last heartbeat: before the kill, at most a heartbeat before.
    expect(Date.parse(off.lastSeen)).toBeLessThanOrEqual(killedAt);
    expect(Date.parse(off.lastSeen)).toBeGreaterThan(killedAt - TTL_MS);
    await sc.next((f) => f.type === 'presence' && f.user === bela.id && !f.online);
    // A second report would come from a survivor's own heartbeat: two more on each (one begun after
    // the report), then a flush of each after them.
    const beats = await Promise.all([heartbeatsOf(r(0)), heartbeatsOf(r(1))]);
    await waitUntil(
      async () => (await heartbeatsOf(r(0))) >= beats[0]! + 2 && (await heartbeatsOf(r(1))) >= beats[1]! + 2,
      10_000,
      'two more heartbeats on each survivor',
    );
    await presenceMarker(r(0), marker0, [{ user: asha, socket: sa }]);
    await presenceMarker(r(1), marker1, [{ user: asha, socket: sa }]);
    expect(sa.frames.filter((f) => f.type === 'presence' && f.user === bela.id && !f.online)).toHaveLength(1);
  });
});
