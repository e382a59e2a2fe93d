import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatDeps } from '../../src/platform/deps.js';
import { SendQueue, type NewMessage } from '../../src/features/messages/send-queue.js';
import { events, groups } from '../../src/platform/db/schema.js';
import { Publisher } from '../../src/delivery/publisher.js';
import { createMetrics } from '../../src/platform/obs/metrics.js';
import type { LogEvent } from '../../src/protocol/frames.js';
import { FakeBus, silentLogger, testChatConfig } from '../helpers/fakes.js';
import { seededRandom } from '../helpers/random.js';
import { range } from '../helpers/users.js';
import { openTestDb, type TestDb } from '../helpers/pglite.js';

// On PGlite only: statements, transactions and held answers are observed through its client (test/helpers/pglite.ts).
const message = (clientMsgId: string, senderId = 'u1'): NewMessage => ({
  senderId,
  clientMsgId,
  text: `text ${clientMsgId}`,
  replyTo: null,
  mentions: [],
});
const nextTick = () => new Promise((resolve) => setImmediate(resolve));

describe('SendQueue', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
  }, 120_000);
  afterAll(() => t?.close());

  let groupCount = 0;
  const seedGroups = async (count: number) => {
    const ids = Array.from({ length: count }, () => `sq-${groupCount++}`);
    await t.db.insert(groups).values(ids.map((id) => ({ id, kind: 'group' as const, name: id, createdBy: 'u1' })));
    return ids;
  };

  /** What the queue handed to the publisher, call by call, and what storage held at that moment. */
  interface Published {
    events: LogEvent[];
    inTransaction: boolean;
    /** `group/seq` of the rows in the table when the publisher was called. */
    stored: Promise<Set<string>>;
  }

  const start = () => {
    const publisher = new Publisher(new FakeBus());
    const published: Published[] = [];
    vi.spyOn(publisher, 'events').mockImplementation(async (rows) => {
      const ids = [...new Set(rows.map((r) => `'${r.groupId}'`)), "''"].join(',');
      published.push({
        events: [...rows],
        inTransaction: t.client.isInTransaction(),
        // exec, not query: not counted as one of the queue's statements.
        stored: t.client
          .exec(`select group_id, seq from events where group_id in (${ids})`)
          .then(([r]) => new Set(r!.rows.map((row) => `${String(row.group_id)}/${String(row.seq)}`))),
      });
    });
    const deps: ChatDeps = {
      db: t.db,
      reads: t.db,
      publisher,
      logger: silentLogger,
      metrics: createMetrics(),
      config: testChatConfig,
    };
    return { queue: new SendQueue(deps), published };
  };

  /** Statements the queue sent while `run` ran. */
  const statementsOf = async <T>(run: () => Promise<T>): Promise<{ value: T; statements: number }> => {
    const before = t.queries;
    const value = await run();
    return { value, statements: t.queries - before };
  };

  const storedMessage = async (groupId: string, seq: number) => {
    const [row] = await t.db
      .select()
      .from(events)
      .where(and(eq(events.groupId, groupId), eq(events.seq, seq)));
    return row && { senderId: row.senderId, clientMsgId: row.clientMsgId, text: row.text };
  };

  const countRows = async (groupId: string) => (await t.db.select().from(events).where(eq(events.groupId, groupId))).length;

  /**
   * Durable before visible, and in order: every event was in the table, with no transaction open,
   * when handed to the publisher; per group, each call is in seq order and no event comes before
   * an earlier one's first appearance (a repeated send may be published again).
   */
  const expectPublishedInOrderAfterCommit = async (published: Published[], ends: Record<string, number>) => {
    const firstSeen = new Map<string, number[]>();
    for (const call of published) {
      expect(call.inTransaction).toBe(false);
      const stored = await call.stored;
      for (const e of call.events) expect(stored.has(`${e.groupId}/${e.seq}`), `${e.groupId}/${e.seq} stored`).toBe(true);
      for (const g of new Set(call.events.map((e) => e.groupId))) {
        const seqs = call.events.filter((e) => e.groupId === g).map((e) => e.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        const seen = firstSeen.get(g) ?? [];
        for (const s of seqs) if (!seen.includes(s)) seen.push(s);
        firstSeen.set(g, seen);
      }
    }
    for (const [g, end] of Object.entries(ends)) {
      expect(firstSeen.get(g), `published seqs of ${g}`).toEqual(range(1, end));
    }
  };

  it('sends a lone message at once, in a statement of its own', async () => {
    const [g] = await seedGroups(1);
    const { queue, published } = start();
    const { value: result, statements } = await statementsOf(async () => {
      const sent = queue.enqueue(g!, message('a'));
      await nextTick();
      // Already on its way: nothing waits for company.
      expect(t.queries).toBeGreaterThan(0);
      return sent;
    });
    expect(statements).toBe(1);
    expect(result).toEqual({ group: g, seq: 1, ts: expect.any(Date) });
    expect(await storedMessage(g!, 1)).toEqual({ senderId: 'u1', clientMsgId: 'a', text: 'text a' });
    expect(published.map((p) => p.events.map((e) => [e.groupId, e.seq, e.clientMsgId]))).toEqual([[[g, 1, 'a']]]);
    await expectPublishedInOrderAfterCommit(published, { [g!]: 1 });
  });

  it('stores the sends that arrive during a batch together, in one statement, in arrival order per group', async () => {
    const [g, h] = await seedGroups(2);
    const { queue, published } = start();
    const { value: results, statements } = await statementsOf(() =>
      Promise.all([
        queue.enqueue(g!, message('g1')), // goes at once
        queue.enqueue(g!, message('g2')), // these four wait for it, then go together
        queue.enqueue(h!, message('h1')),
        queue.enqueue(g!, message('g3')),
        queue.enqueue(h!, message('h2', 'u2')),
      ]),
    );
    expect(statements).toBe(2);
    expect(results.map((r) => [r.group, r.seq])).toEqual([
      [g, 1],
      [g, 2],
      [h, 1],
      [g, 3],
      [h, 2],
    ]);
    expect(await storedMessage(h!, 2)).toEqual({ senderId: 'u2', clientMsgId: 'h2', text: 'text h2' });
    await expectPublishedInOrderAfterCommit(published, { [g!]: 3, [h!]: 2 });
  });

  it('gives each group its sends in arrival order, and each send its own result, across many batches', async () => {
    const ids = await seedGroups(3);
    const { queue, published } = start();
    const random = seededRandom(42);
    const sent: { groupId: string; clientMsgId: string; result: Promise<{ group: string; seq: number }> }[] = [];
    for (let wave = 0; wave < 8; wave++) {
      for (let i = 0; i < 1 + Math.floor(random() * 12); i++) {
        const groupId = ids[Math.floor(random() * ids.length)]!;
        const clientMsgId = `w${wave}-${i}`;
        sent.push({ groupId, clientMsgId, result: queue.enqueue(groupId, message(clientMsgId)) });
      }
      if (random() < 0.5) await nextTick();
    }
    const ends: Record<string, number> = {};
    for (const s of sent) {
      const expected = (ends[s.groupId] ?? 0) + 1;
      ends[s.groupId] = expected;
      expect(await s.result).toMatchObject({ group: s.groupId, seq: expected });
      expect((await storedMessage(s.groupId, expected))?.clientMsgId).toBe(s.clientMsgId);
    }
    await expectPublishedInOrderAfterCommit(published, ends);
  });

  it('stores a clientMsgId repeated within a batch once, and answers both with the same ack', async () => {
    const [g] = await seedGroups(1);
    const { queue, published } = start();
    const [first, dup1, dup2, after] = await Promise.all([
      queue.enqueue(g!, message('first')),
      queue.enqueue(g!, message('dup')),
      queue.enqueue(g!, message('dup')),
      queue.enqueue(g!, message('after')),
    ]);
    expect(first.seq).toBe(1);
    expect(dup1).toEqual({ group: g, seq: 2, ts: expect.any(Date) });
    expect(dup2).toEqual(dup1);
    expect(after.seq).toBe(3);
    expect(await countRows(g!)).toBe(3);
    // Another sender may use the same clientMsgId: that is another message.
    expect((await queue.enqueue(g!, message('dup', 'u2'))).seq).toBe(4);
    await expectPublishedInOrderAfterCommit(published, { [g!]: 4 });
  });

  it('answers a clientMsgId stored by an earlier batch with its first ack, and stores the rest of that batch', async () => {
    const [g, h] = await seedGroups(2);
    const { queue, published } = start();
    const original = await queue.enqueue(g!, message('dup'));
    const [, again, fresh, other] = await Promise.all([
      queue.enqueue(h!, message('h1')), // goes at once; the next three go together
      queue.enqueue(g!, message('dup')),
      queue.enqueue(g!, message('fresh')),
      queue.enqueue(h!, message('h2')),
    ]);
    expect(again).toEqual(original);
    expect(fresh).toMatchObject({ group: g, seq: 2 });
    expect(other).toMatchObject({ group: h, seq: 2 });
    expect(await countRows(g!)).toBe(2);
    expect(await storedMessage(g!, 2)).toMatchObject({ clientMsgId: 'fresh' });
    expect(await queue.enqueue(g!, message('dup'))).toEqual(original);
    expect(await countRows(g!)).toBe(2);
    await expectPublishedInOrderAfterCommit(published, { [g!]: 2, [h!]: 2 });
  });

  it('answers not_found for a group that does not exist, without failing the others in its batch', async () => {
    const [g] = await seedGroups(1);
    const { queue, published } = start();
    await expect(queue.enqueue('no-such-group', message('lone'))).rejects.toMatchObject({ code: 'not_found' });
    const first = queue.enqueue(g!, message('g1'));
    const missing = queue.enqueue('no-such-group', message('x'));
    const second = queue.enqueue(g!, message('g2'));
    await expect(missing).rejects.toMatchObject({ code: 'not_found' });
    expect((await first).seq).toBe(1);
    expect((await second).seq).toBe(2);
    expect(published.flatMap((p) => p.events.map((e) => e.groupId))).toEqual([g, g]);
    await expectPublishedInOrderAfterCommit(published, { [g!]: 2 });
  });

  // The careful path (a batch with a repeated clientMsgId) once answered this as `internal`.
  it('answers not_found for a group that does not exist on the careful path too', async () => {
    const [g] = await seedGroups(1);
    const { queue } = start();
    await queue.enqueue(g!, message('dup'));
    const [, again, missing] = await Promise.allSettled([
      queue.enqueue(g!, message('first')), // goes at once; the next two go together
      queue.enqueue(g!, message('dup')),
      queue.enqueue('no-such-group', message('x')),
    ]);
    expect(again).toMatchObject({ status: 'fulfilled', value: { seq: 1 } });
    expect(missing).toMatchObject({ status: 'rejected', reason: { code: 'not_found' } });
  });
});
