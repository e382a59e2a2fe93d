import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { Publisher } from '../../src/delivery/publisher.js';
import { openStorage, type Storage } from '../../src/platform/db/connect.js';
import { commit } from '../../src/platform/db/outbox.js';
import { retryConflicts } from '../../src/platform/db/transaction.js';
import type { ChatDeps } from '../../src/platform/deps.js';
import { createLogger } from '../../src/platform/obs/logger.js';
import { createMetrics } from '../../src/platform/obs/metrics.js';
import { timeDatabase } from '../../src/platform/obs/db-timing.js';
import { ownDatabase } from '../helpers/own-database.js';
import { testChatConfig } from '../helpers/fakes.js';

/** Resolves once `count` parties arrived: each side of the deadlock holds its first lock before asking for the other's. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return () => {
    if (++arrived === count) open();
    return opened;
  };
}

describe.skipIf(!process.env.DATABASE_URL)('commit() on PostgreSQL: deadlock and serialization retry', () => {
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  let storage: Storage;
  let deps: ChatDeps;
  const metrics = createMetrics();

  beforeAll(async () => {
    database = await ownDatabase('retry');
    storage = await openStorage({ databaseUrl: database.url, dataDir: '/nonexistent', poolSize: 4 });
    timeDatabase(storage.db, metrics);
    await storage.db.execute(sql`create table counters (id int primary key, n int not null)`);
    deps = {
      db: storage.db,
      reads: storage.reads,
      publisher: new Publisher(new MemoryBus()),
      logger: createLogger('error'),
      metrics,
      config: testChatConfig,
    };
  });

  afterAll(async () => {
    await storage?.close();
    await database?.drop();
  });

  it('two transactions locking two rows in opposite orders deadlock; the victim runs again and both commit', async () => {
    await storage.db.execute(sql`insert into counters values (1, 0), (2, 0)`);
    const bothHoldOne = barrier(2);
    const runs = { forward: 0, backward: 0 };
    const bump = (first: number, second: number, side: keyof typeof runs) =>
      commit(deps, async (tx) => {
        runs[side]++;
        await tx.execute(sql`update counters set n = n + 1 where id = ${first}`);
        // Only the first runs meet: a retry takes its locks after the winner committed.
        if (runs[side] === 1) await bothHoldOne();
        await tx.execute(sql`update counters set n = n + 1 where id = ${second}`);
        return side;
      });
    await expect(Promise.all([bump(1, 2, 'forward'), bump(2, 1, 'backward')])).resolves.toEqual(['forward', 'backward']);
    // PostgreSQL aborted exactly one of them (40P01), and it ran once more.
    expect(runs.forward + runs.backward).toBe(3);
    const rows = (await storage.db.execute(sql`select id, n from counters order by id`)) as unknown as { n: number }[];
    expect(rows.map((r) => r.n)).toEqual([2, 2]);
    expect(await metrics.registry.getSingleMetricAsString('banyan_db_conflict_retries_total')).toMatch(/ 1$/m);
    expect(await metrics.registry.getSingleMetricAsString('banyan_db_transaction_duration_seconds')).toMatch(/_count 3$/m);
  });

  it('a serialization failure (40001) is run again; any other error is not', async () => {
    await storage.db.execute(sql`insert into counters values (3, 0)`);
    const bothRead = barrier(2);
    const runs = { a: 0, b: 0 };
    // Two serializable transactions read then write the same row: the second to commit fails with 40001.
    const readThenWrite = (side: keyof typeof runs) =>
      retryConflicts(() =>
        storage.db.transaction(
          async (tx) => {
            runs[side]++;
            await tx.execute(sql`select n from counters where id = 3`);
            if (runs[side] === 1) await bothRead();
            await tx.execute(sql`update counters set n = n + 1 where id = 3`);
          },
          { isolationLevel: 'serializable' },
        ),
      );
    await Promise.all([readThenWrite('a'), readThenWrite('b')]);
    expect(runs.a + runs.b).toBe(3);
    const [row] = (await storage.db.execute(sql`select n from counters where id = 3`)) as unknown as { n: number }[];
    expect(row!.n).toBe(2);

    let plain = 0;
    await expect(
      commit(deps, async (tx) => {
        plain++;
        await tx.execute(sql`insert into counters values (3, 0)`);
      }),
    ).rejects.toThrow();
    expect(plain).toBe(1);
  });
});
