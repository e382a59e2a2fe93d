import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, runMigrations } from '../../src/platform/db/connect.js';
import { appendMessages } from '../../src/features/messages/queries.js';
import { scaleEnv } from '../helpers/replicas.js';
import { createGroup, startServer, storageModes, type TestServer } from '../helpers/server.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// The fast send path: group commit across groups in one statement, and the membership cache
// that spares the per-message membership query, invalidated exactly on every change.

const seqsOf = (s: TestSocket, group: string) => s.events(group).map((e) => e.seq as number);
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe.each(storageModes())('send path (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores a burst to several groups in batches with gapless seqs, delivered in order', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const g1 = await createGroup(server, asha, [ben]);
    const g2 = await createGroup(server, ben, [asha]);
    const a = await connect(server.wsUrl, asha.token);
    const b = await connect(server.wsUrl, ben.token);
    // Both groups start at seq 2 (owner joined, member added).
    const sends = range(0, 40).map((i) => {
      const [socket, user, group] = i % 2 ? [a, 'a', g1] : [b, 'b', g2];
      return socket.request({ type: 'send', group, clientMsgId: `${user}${i}`, text: `m${i}` });
    });
    const acks = await Promise.all(sends);
    expect(acks.every((f) => f.type === 'ack')).toBe(true);
    expect(acks.filter((f) => f.group === g1).map((f) => f.seq)).toEqual(range(3, 20));
    expect(acks.filter((f) => f.group === g2).map((f) => f.seq)).toEqual(range(3, 20));
    for (const s of [a, b]) {
      for (const g of [g1, g2]) {
        await s.waitForEvents(g, 20);
        expect(seqsOf(s, g)).toEqual(range(3, 20));
      }
      expect(s.events(g1).map((e) => e.text)).toEqual(range(0, 20).map((i) => `m${2 * i + 1}`));
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('answers a repeated clientMsgId with its first ack, in or across batches, leaving no gap', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const a = await connect(server.wsUrl, asha.token);
    const first = await a.request({ type: 'send', group, clientMsgId: 'same', text: 'one' });
    expect(first).toMatchObject({ type: 'ack', seq: 3 });
    // One burst: a repeat of a stored send, a fresh send twice (same content: a retry; other
    // content is 409, tested in privacy.test.ts), other fresh ids, and another
    // group's message in the same batch.
    const other = await createGroup(server, asha);
    const burst = await Promise.all([
      a.request({ type: 'send', group, clientMsgId: 'n1', text: 'two' }),
      a.request({ type: 'send', group, clientMsgId: 'same', text: 'one' }),
      a.request({ type: 'send', group: other, clientMsgId: 'o1', text: 'elsewhere' }),
      a.request({ type: 'send', group, clientMsgId: 'twice', text: 'three' }),
      a.request({ type: 'send', group, clientMsgId: 'twice', text: 'three' }),
      a.request({ type: 'send', group, clientMsgId: 'n2', text: 'four' }),
    ]);
    expect(burst.map((f) => f.type)).toEqual(['ack', 'ack', 'ack', 'ack', 'ack', 'ack']);
    expect(burst[1]).toMatchObject({ seq: 3, ts: first.ts });
    expect(burst[3]!.seq).toBe(burst[4]!.seq);
    expect(new Set([burst[0]!.seq, burst[3]!.seq, burst[5]!.seq])).toEqual(new Set([4, 5, 6]));
    expect(burst[2]).toMatchObject({ group: other, seq: 2 });
    // The socket follows from lastSeq 2 (its ready frame): it receives 3..6, once each.
    await a.waitForEvents(group, 4);
    expect(seqsOf(a, group)).toEqual([3, 4, 5, 6]);
    const texts = a.events(group).map((e) => e.text);
    expect(texts.sort()).toEqual(['four', 'one', 'three', 'two']);
    const history = await server.http('GET', `/v1/groups/${group}/messages`, { token: asha.token });
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual([6, 5, 4, 3]);
    await a.close();
  });

  it('refuses a send right after the sender was removed, though it was allowed (cached) before', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const b = await connect(server.wsUrl, ben.token);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b1', text: 'hi' })).toMatchObject({ type: 'ack' });
    expect((await server.http('DELETE', `/v1/groups/${group}/members/${ben.id}`, { token: asha.token })).status).toBe(204);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b2', text: 'still here?' })).toMatchObject({
      type: 'error',
      code: 'not_found',
    });
    expect(
      (await server.http('POST', `/v1/groups/${group}/messages`, { token: ben.token, body: { clientMsgId: 'b3', text: 'x' } })).status,
    ).toBe(404);
    // Back in: allowed again (the refusal was not cached).
    expect((await server.http('POST', `/v1/groups/${group}/members`, { token: asha.token, body: { userId: ben.id } })).status).toBe(201);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b4', text: 'back' })).toMatchObject({ type: 'ack' });
    await b.close();
  });

  it('applies a change of who may post at once (group settings)', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const b = await connect(server.wsUrl, ben.token);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b1', text: 'hi' })).toMatchObject({ type: 'ack' });
    const patch = (adminsOnlyPost: boolean) =>
      server.http('PATCH', `/v1/groups/${group}`, {
        token: asha.token,
        body: { settings: { adminsOnlyPost, open: false, approvalRequired: false } },
      });
    expect((await patch(true)).status).toBe(200);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b2', text: 'muted?' })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect((await patch(false)).status).toBe(200);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b3', text: 'unmuted' })).toMatchObject({ type: 'ack' });
    await b.close();
  });
});

describe.runIf(process.env.DATABASE_URL && process.env.REDIS_URL)('membership cache across replicas (postgres + redis)', () => {
  let one: TestServer;
  let two: TestServer;
  beforeAll(async () => {
    const env = { REDIS_URL: process.env.REDIS_URL };
    [one, two] = await Promise.all([startServer({ mode: 'postgres', env }), startServer({ mode: 'postgres', env })]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
  });

  it('refuses on replica two a member removed through replica one', async () => {
    const asha = await one.signUp();
    const ben = await one.signUp();
    const group = await createGroup(one, asha, [ben]);
    const b = await connect(two.wsUrl, ben.token);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b1', text: 'hi' })).toMatchObject({ type: 'ack' });
    expect((await one.http('DELETE', `/v1/groups/${group}/members/${ben.id}`, { token: asha.token })).status).toBe(204);
    await b.next((f) => f.type === 'group_removed' && f.group === group);
    expect(await b.request({ type: 'send', group, clientMsgId: 'b2', text: 'gone' })).toMatchObject({ type: 'error', code: 'not_found' });
    await b.close();
  });
});

describe.skipIf(!scaleEnv.databaseUrl)('send path on PostgreSQL', () => {
  it('prepares the commit statement once per connection, so a send costs one round trip, not two', async () => {
    const options = { databaseUrl: scaleEnv.databaseUrl, dataDir: '', poolSize: 1 };
    await runMigrations(options);
    const storage = await openStorage(options);
    try {
      // To a group that does not exist: nothing is stored, and the statement is prepared all the same.
      const send = (clientMsgId: string) =>
        appendMessages(storage.db, [
          { groupId: 'no-such-group', ord: 1, senderId: 'nobody', clientMsgId, text: 'x', replyTo: null, mentions: [] },
        ]);
      expect(await send('p1')).toEqual([]);
      expect(await send('p2')).toEqual([]);
      // One connection in the pool: this is the session that ran both.
      const result: unknown = await storage.db.execute(sql`select statement from pg_prepared_statements`);
      const prepared = (result as { statement: string }[]).filter((r) => r.statement.includes('jsonb_to_recordset'));
      expect(prepared).toHaveLength(1);
      expect(prepared[0]!.statement).toContain('notify_outbox');
    } finally {
      await storage.close();
    }
  });
});
