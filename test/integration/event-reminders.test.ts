import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventReminders, pushQueue } from '../../src/platform/db/schema.js';
import { ownDatabase } from '../helpers/own-database.js';
import { LocalPushService, type Subscriber } from '../helpers/push-service.js';
import { waitUntil } from '../helpers/replicas.js';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { sleep, tokenUser } from '../helpers/users.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Polls and events": members who answered going or maybe get a push EVENT_REMINDER_S
// before the event starts, through the notification worker, against a local push service that
// checks VAPID and decrypts every payload. Durability across restarts and replicas: polls-replicas.test.ts.

const REMINDER_S = 2;

describe.each(storageModes())('event reminders (%s)', (mode) => {
  let server: TestServer;
  let push: LocalPushService;
  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;
  const sockets: TestSocket[] = [];
  let n = 0;

  beforeAll(async () => {
    push = await LocalPushService.start();
    // A database of its own: other files' workers would claim reminders with their own settings.
    if (mode === 'postgres') database = await ownDatabase('remind');
    server = await startServer({
      mode,
      env: {
        ...(database ? { DATABASE_URL: database.url } : {}),
        WEBHOOK_ALLOW_PRIVATE: 'on',
        PUSH_COALESCE_MS: '200',
        EVENT_REMINDER_S: String(REMINDER_S),
      },
    });
    push.expectVapidKey((await server.http('GET', '/v1/push/vapid-key')).body.publicKey);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
    await push?.stop();
    await database?.drop();
  });

  const subscribed = async (label: string): Promise<TestUser & { sub: Subscriber }> => {
    const user = await tokenUser(server, label);
    const sub = push.subscribe();
    const r = await server.http('POST', '/v1/push/subscriptions', { token: user.token, body: { endpoint: sub.endpoint, keys: sub.keys } });
    expect(r.status).toBe(201);
    return { ...user, sub };
  };
  const reminders = (s: Subscriber) => push.deliveredTo(s.id).filter((d) => d.payload.kind === 'event_reminder');
  const answer = async (u: TestUser, group: string, seq: number, a: string) => {
    const socket = await connect(server.wsUrl, u.token);
    sockets.push(socket);
    expect(await socket.request({ type: 'rsvp', group, target: seq, answer: a })).toMatchObject({ type: 'ack' });
    // Offline again: a reminder reaches devices whether or not a socket is open; closing keeps the test about RSVPs.
    socket.terminate();
  };

  it('going and maybe are reminded once; no, changed to no, removed and silenced (level none) members are not', async () => {
    const owner = await subscribed('owner');
    const [going, maybe, no, changed, removed, silent, unanswered, blocker] = await Promise.all(
      ['going', 'maybe', 'no', 'changed', 'removed', 'silent', 'unanswered', 'blocker'].map((l) => subscribed(l)),
    );
    const members = [going!, maybe!, no!, changed!, removed!, silent!, unanswered!, blocker!];
    const g = await createGroup(server, owner, members, 'Clean-up crew');
    // Its reminder is due in 10 s: time for the answers below even on a loaded machine.
    const startsAt = new Date(Date.now() + (REMINDER_S + 10) * 1000);
    const r = await server.http('POST', `/v1/groups/${g}/messages`, {
      token: owner.token,
      body: {
        clientMsgId: `e${n++}`,
        text: '',
        event: { title: 'Clean-up', startsAt: startsAt.toISOString(), location: 'The old bridge' },
      },
    });
    expect(r.status).toBe(201);
    const seq = r.body.seq as number;
    await answer(going!, g, seq, 'going');
    await answer(maybe!, g, seq, 'maybe');
    await answer(no!, g, seq, 'no');
    await answer(changed!, g, seq, 'going');
    await answer(changed!, g, seq, 'no');
    await answer(removed!, g, seq, 'going');
    await answer(silent!, g, seq, 'going');
    // Going, then blocks the event's creator: nothing of theirs pushes to the blocker (issue 35, 8).
    await answer(blocker!, g, seq, 'going');
    expect((await server.http('PUT', `/v1/blocks/${owner.id}`, { token: blocker!.token })).status).toBe(204);
    expect((await server.http('DELETE', `/v1/groups/${g}/members/${removed!.id}`, { token: owner.token })).status).toBe(204);
    expect((await server.http('PUT', `/v1/groups/${g}/notifications`, { token: silent!.token, body: { level: 'none' } })).status).toBe(204);

    expect(Date.now(), 'the answers were given before the reminder was due').toBeLessThan(startsAt.getTime() - REMINDER_S * 1000);
    await waitUntil(() => reminders(going!.sub).length > 0 && reminders(maybe!.sub).length > 0, 20_000, 'reminders to going and maybe');
    const [pushed] = reminders(going!.sub);
    // Sent before the event starts, about EVENT_REMINDER_S before it.
    expect(pushed!.at).toBeLessThan(startsAt.getTime());
    expect(pushed!.at).toBeGreaterThanOrEqual(startsAt.getTime() - REMINDER_S * 1000 - 100);
    expect(pushed!.payload).toMatchObject({
      group: g,
      seq,
      kind: 'event_reminder',
      title: '📅 Clean-up',
      startsAt: startsAt.toISOString(),
      sender: { id: owner.id },
    });
    expect(pushed!.payload.body).toContain('The old bridge');
    expect(pushed!.urgency).toBe('high');
    // Nothing more can come: the reminder fired (its row is gone, so no run fires it again) and
    // every push it owed in the group has been sent (the queue keeps a row at count 0 once sent).
    const db = server.app.storage.db;
    await waitUntil(
      async () =>
        (await db.select().from(eventReminders)).every((row) => row.groupId !== g || row.messageSeq !== seq) &&
        (await db.select().from(pushQueue)).every((row) => row.groupId !== g || row.count === 0),
      10_000,
      'the reminder fired and every push it owed sent',
    );
    expect(reminders(going!.sub)).toHaveLength(1);
    expect(reminders(maybe!.sub)).toHaveLength(1);
    for (const u of [no!, changed!, removed!, silent!, unanswered!, blocker!, owner]) expect(reminders(u.sub), u.name).toEqual([]);
    expect(push.rejected).toEqual([]);
  });

  it('an event that starts sooner than EVENT_REMINDER_S gets no reminder; a deleted event none either', async () => {
    const owner = await subscribed('owner2');
    const deleted = await subscribed('deleted');
    const g = await createGroup(server, owner, [deleted]);
    const post = async (title: string, inS: number) => {
      const r = await server.http('POST', `/v1/groups/${g}/messages`, {
        token: owner.token,
        body: { clientMsgId: `e${n++}`, text: '', event: { title, startsAt: new Date(Date.now() + inS * 1000).toISOString() } },
      });
      expect(r.status).toBe(201);
      return r.body.seq as number;
    };
    const owed = async (seq: number) =>
      (await server.app.storage.db.select().from(eventReminders)).filter((r) => r.groupId === g && r.messageSeq === seq);
    // Starts within EVENT_REMINDER_S: no reminder is stored for it at all (nobody could have answered yet).
    const soon = await post('Soon', REMINDER_S - 0.5);
    expect(await owed(soon)).toEqual([]);
    const later = await post('Later', REMINDER_S + 6);
    expect(await owed(later)).toHaveLength(1);
    await answer(deleted, g, later, 'going');
    const socket = await connect(server.wsUrl, owner.token);
    sockets.push(socket);
    expect(await socket.request({ type: 'delete', group: g, target: later })).toMatchObject({ type: 'ack' });
    // Deleting the event takes its reminder (and answers) with it.
    expect(await owed(later)).toEqual([]);
    // Kept: about time, past when the deleted event's reminder was due.
    await sleep((REMINDER_S + 7) * 1000);
    expect(reminders(deleted.sub)).toEqual([]);
  });
});
