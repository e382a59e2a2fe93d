import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ownDatabase } from '../helpers/own-database.js';
import { LocalPushService } from '../helpers/push-service.js';
import { killAll, noScaleServers, replicaSockets, sleep, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import type { Frame } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Polls and events" polls and events across gateway processes over PostgreSQL and Redis: votes and
// RSVPs made on different replicas, tallies neither lost nor doubled, and a reminder that
// survives a restart of every replica and is fired once whatever the number of replicas.

const TALLY_INTERVAL_MS = 500;

describe.skipIf(noScaleServers)('polls and events across replicas', () => {
  let set: ReplicaSet | undefined;
  const { sockets, on } = replicaSockets(() => set!);
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    await set?.stop();
    set = undefined;
  });
  afterAll(killAll);

  const r = (i: number) => set!.replicas[i]!;

  it('votes and RSVPs on two replicas reach a watcher on a third, in order; announcement tallies end at the true counts', async () => {
    set = await startReplicas(3, { env: { TALLY_INTERVAL_MS: String(TALLY_INTERVAL_MS) } });
    const [owner, a, b] = await Promise.all([set.user(), set.user(), set.user()]);
    const g = (await r(0).http('POST', '/v1/groups', { token: owner.token, body: { name: 'G', members: [a.id, b.id] } })).body.group.id;
    const post = async (replica: number, group: string, body: Record<string, unknown>) => {
      const res = await r(replica).http('POST', `/v1/groups/${group}/messages`, {
        token: owner.token,
        body: { clientMsgId: `m${Math.random()}`, text: '', ...body },
      });
      expect(res.status).toBe(201);
      return res.body.seq as number;
    };
    const poll = await post(0, g, { poll: { question: 'Q?', options: ['A', 'B', 'C'] } });
    const event = await post(0, g, { event: { title: 'Meet', startsAt: new Date(Date.now() + 3600_000).toISOString() } });
    const watcher = await on(2, owner);
    const [as, bs] = [await on(0, a), await on(1, b)];
    for (let k = 0; k < 5; k++) {
      await Promise.all([
        as.request({ type: 'vote', group: g, target: poll, options: [k % 3] }),
        bs.request({ type: 'vote', group: g, target: poll, options: [(k + 1) % 3] }),
      ]);
    }
    await Promise.all([
      as.request({ type: 'rsvp', group: g, target: event, answer: 'going' }),
      bs.request({ type: 'rsvp', group: g, target: event, answer: 'maybe' }),
    ]);
    // 10 votes and 2 answers, each an event, gapless after the two messages.
    await waitUntil(() => watcher.events(g).length >= 12, 8000, 'the votes and answers');
    expect(watcher.events(g).map((e: Frame) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => event + 1 + i));
    expect(watcher.events(g).filter((e: Frame) => e.kind === 'vote')).toHaveLength(10);
    expect((await r(2).http('GET', `/v1/groups/${g}/messages/${poll}/votes`, { token: owner.token })).body).toMatchObject({
      counts: [0, 1, 1],
      voters: [[], [a.id], [b.id]],
    });
    expect((await r(1).http('GET', `/v1/groups/${g}/messages/${event}/rsvps`, { token: a.token })).body).toMatchObject({
      counts: { going: 1, maybe: 1, no: 0 },
      mine: 'going',
    });

    // An announcement group: 6 voters over two replicas, changing their votes.
    const members = await Promise.all(Array.from({ length: 6 }, () => set!.user()));
    const c = (await r(0).http('POST', '/v1/communities', { token: owner.token, body: { name: 'C' } })).body.community;
    const invite = await r(0).http('POST', `/v1/communities/${c.id}/invites`, { token: owner.token, body: {} });
    for (const m of members) await r(0).http('POST', `/v1/invites/${invite.body.code}/join`, { token: m.token });
    const ag = c.announcementGroupId;
    const apoll = await post(1, ag, { poll: { question: 'Which?', options: ['X', 'Y'], multiple: true } });
    const awatch = await on(2, members[0]!);
    const voters = await Promise.all(members.map((m, i) => on(i % 2, m)));
    await Promise.all(
      voters.map(async (s, i) => {
        for (let k = 0; k < 10; k++) await s.request({ type: 'vote', group: ag, target: apoll, options: k % 2 ? [0] : [1] });
        await s.request({ type: 'vote', group: ag, target: apoll, options: i < 4 ? [0, 1] : [1] });
      }),
    );
    // Kept, as the test is about time: the last tally comes at most an interval after the last vote.
    await sleep(2 * TALLY_INTERVAL_MS + 500);
    const tallies = awatch.events(ag).filter((e: Frame) => e.kind === 'tally');
    expect(tallies.at(-1)!.counts).toEqual([4, 6]);
    // 66 votes: a handful of tallies, never one per vote.
    expect(tallies.length).toBeLessThan(15);
    expect(awatch.events(ag).some((e: Frame) => e.kind === 'vote')).toBe(false);
  });

  it('a reminder survives every replica stopping and is fired once by one of three new ones', async () => {
    const database = await ownDatabase('remindrep');
    const push = await LocalPushService.start();
    try {
      // A killed replica may die holding a lease on the going member's message push, which the reminder joins:
      // a short lease lets the new replicas take it over within the wait.
      const env = { WEBHOOK_ALLOW_PRIVATE: 'on', EVENT_REMINDER_S: '2', PUSH_COALESCE_MS: '200', NOTIFY_LEASE_MS: '5000' };
      set = await startReplicas(2, { databaseUrl: database.url, env });
      push.expectVapidKey((await r(0).http('GET', '/v1/push/vapid-key')).body.publicKey);
      const [owner, going, no] = await Promise.all([set.user(), set.user(), set.user()]);
      const subs = [push.subscribe(), push.subscribe()];
      for (const [u, s] of [
        [going, subs[0]!],
        [no, subs[1]!],
      ] as const) {
        expect(
          (await r(1).http('POST', '/v1/push/subscriptions', { token: u.token, body: { endpoint: s.endpoint, keys: s.keys } })).status,
        ).toBe(201);
      }
      const g = (await r(0).http('POST', '/v1/groups', { token: owner.token, body: { name: 'G', members: [going.id, no.id] } })).body.group
        .id;
      const startsAt = new Date(Date.now() + 12_000);
      const posted = await r(0).http('POST', `/v1/groups/${g}/messages`, {
        token: owner.token,
        body: { clientMsgId: 'e', text: '', event: { title: 'Shift', startsAt: startsAt.toISOString() } },
      });
      expect(
        (await r(1).http('POST', `/v1/groups/${g}/messages/${posted.body.seq}/rsvp`, { token: going.token, body: { answer: 'going' } }))
          .status,
      ).toBe(200);
      expect(
        (await r(0).http('POST', `/v1/groups/${g}/messages/${posted.body.seq}/rsvp`, { token: no.token, body: { answer: 'no' } })).status,
      ).toBe(200);
      // Every replica gone (killed) well before the reminder is due; three new ones take over.
      await set.stop();
      const reminders = (i: number) => push.deliveredTo(subs[i]!.id).filter((d) => d.payload.kind === 'event_reminder');
      expect(reminders(0)).toEqual([]);
      set = await startReplicas(3, { databaseUrl: database.url, env });
      await waitUntil(() => reminders(0).length > 0, 15_000, 'the reminder after the restart');
      expect(reminders(0)[0]!.at).toBeLessThan(startsAt.getTime());
      // Nothing more can come: the reminder fired (its row is gone, so no replica fires it again) and
      // every push owed in the group has been sent (the queue keeps a row at count 0 once sent).
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      try {
        await waitUntil(
          async () => {
            const [row] = await sql<{ owed: number }[]>`
              select (select count(*) from event_reminders where group_id = ${g} and message_seq = ${posted.body.seq})
                   + (select count(*) from push_queue where group_id = ${g} and count > 0) as owed`;
            return Number(row?.owed) === 0;
          },
          15_000,
          'the reminder fired and every push owed in the group sent',
        );
      } finally {
        await sql.end();
      }
      expect(reminders(0)).toHaveLength(1);
      expect(reminders(1)).toEqual([]);
      expect(push.rejected).toEqual([]);
    } finally {
      await set?.stop();
      set = undefined;
      await push.stop();
      await database.drop();
    }
  }, 90_000);
});
