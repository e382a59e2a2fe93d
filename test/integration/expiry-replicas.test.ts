import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, noScaleServers, replicaSockets, startReplicas, waitUntil, type Replica, type ReplicaSet } from '../helpers/replicas.js';
import { ownDatabase } from '../helpers/own-database.js';
import type { TestUser } from '../helpers/server.js';

// docs/protocol.md §8 "Pins and disappearing messages" across replicas: every replica runs the expiry sweeper,
// small batches and a short interval so they overlap, and each message is erased exactly once.
// A database of their own: other test files' servers would sweep these messages too.

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
const GROUPS = 4;
const PER_GROUP = 30;

const metric = async (replica: Replica, line: RegExp): Promise<number> => {
  const text = await (await fetch(`${replica.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  return Number(line.exec(text)?.[1] ?? 0);
};
const erasedBy = (replica: Replica) => metric(replica, /^banyan_messages_expired_total (\d+)/m);
/** Expiry sweeps the replica has finished (counted after the sweep's erasures). */
const sweepsBy = (replica: Replica) => metric(replica, /^banyan_job_runs_total\{job="messages\.expiry"\} (\d+)/m);

describe.skipIf(noScaleServers)('disappearing messages across replicas', () => {
  let set: ReplicaSet;
  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;
  const { sockets, on } = replicaSockets(() => set);

  beforeAll(async () => {
    database = await ownDatabase('expiry');
    set = await startReplicas(2, {
      databaseUrl: database.url,
      env: { MESSAGE_TTL_ALLOWED: '1', EXPIRY_SWEEP_MS: '100', EXPIRY_SWEEP_BATCH: '7', METRICS_TOKEN },
    });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await set?.stop();
    await killAll();
    await database?.drop();
  });

  it('two replicas sweeping erase each expired message once, and sockets on either hear of it', async () => {
    const [r0, r1] = set.replicas as [Replica, Replica];
    const [admin, member] = (await Promise.all([set.user(), set.user()])) as [TestUser, TestUser];
    const before = (await erasedBy(r0)) + (await erasedBy(r1));
    const groups: string[] = [];
    for (let g = 0; g < GROUPS; g++) {
      const created = await r0.http('POST', '/v1/groups', { token: admin.token, body: { name: `V${g}`, members: [member.id] } });
      groups.push(created.body.group.id);
      expect(
        (await r1.http('PATCH', `/v1/groups/${groups[g]}`, { token: admin.token, body: { settings: { messageTtlS: 1 } } })).status,
      ).toBe(200);
    }
    const socket = await on(1, member);
    const sent = new Map<string, number[]>(groups.map((g) => [g, []]));
    await Promise.all(
      groups.map(async (group, g) => {
        for (let i = 0; i < PER_GROUP; i++) {
          const r = await set.replicas[i % 2]!.http('POST', `/v1/groups/${group}/messages`, {
            token: admin.token,
            body: { clientMsgId: `m${g}-${i}`, text: `vanishing ${i}` },
          });
          expect(r.status).toBe(201);
          sent.get(group)!.push(r.body.seq);
        }
      }),
    );
    const total = GROUPS * PER_GROUP;
    const erased = async () => (await erasedBy(r0)) + (await erasedBy(r1)) - before;
    await waitUntil(async () => (await erased()) >= total, 30_000, 'every message erased');
    // Two more sweeps on both (at least one begun after every erasure above): nothing is erased twice.
    const swept = await Promise.all([sweepsBy(r0), sweepsBy(r1)]);
    await waitUntil(
      async () => (await sweepsBy(r0)) >= swept[0]! + 2 && (await sweepsBy(r1)) >= swept[1]! + 2,
      10_000,
      'two more sweeps on each replica',
    );
    expect(await erased()).toBe(total);

    // The socket on replica 1 heard of every message once, whichever replica erased it.
    await waitUntil(
      () => socket.frames.filter((f) => f.type === 'expired').flatMap((f) => f.seqs as number[]).length >= total,
      10_000,
      'expired frames',
    );
    for (const group of groups) {
      const heard = socket.frames.filter((f) => f.type === 'expired' && f.group === group).flatMap((f) => f.seqs as number[]);
      expect(heard.sort((a, b) => a - b)).toEqual(sent.get(group)!.sort((a, b) => a - b));
      const history = await r0.http('GET', `/v1/groups/${group}/messages?limit=100`, { token: member.token });
      const messages = history.body.messages as { seq: number; text: string | null; expired?: boolean }[];
      expect(messages.filter((m) => sent.get(group)!.includes(m.seq)).every((m) => m.expired === true && m.text === null)).toBe(true);
    }
  });
});
