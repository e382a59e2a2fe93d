import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparingOften } from '../../src/db/prepared-statements.js';

// Against the real PostgreSQL of DATABASE_URL, on one connection, so that the session's
// pg_prepared_statements shows what the wrapped client prepared.
describe.skipIf(!process.env.DATABASE_URL)('statements run often are prepared (PostgreSQL)', () => {
  let client: postgres.Sql;
  beforeAll(() => {
    client = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await client.end({ timeout: 5 });
  });

  const open = (limits: { after: number; max: number }) => drizzle({ client: preparingOften(client, limits) });
  /** This connection's prepared statements whose text contains `marker` (a parameterless read: simple protocol, never prepared). */
  const preparedWith = async (marker: string) =>
    (await client.unsafe('select statement from pg_prepared_statements')).filter((r) => String(r.statement).includes(marker)).length;
  const marker = () => `m${Math.random().toString(36).slice(2, 10)}`;

  it('prepares a text on its `after`-th run, and answers the same before and after', async () => {
    const db = open({ after: 3, max: 10 });
    const m = marker();
    const run = async (n: number) => (await db.execute(sql`select ${n}::int + 1 as ${sql.raw(m)}`)) as unknown as Record<string, number>[];
    expect((await run(1))[0]![m]).toBe(2);
    expect((await run(2))[0]![m]).toBe(3);
    expect(await preparedWith(m)).toBe(0);
    expect((await run(3))[0]![m]).toBe(4);
    expect(await preparedWith(m)).toBe(1);
    // Later runs use that statement: still one, and still right.
    for (let n = 4; n < 10; n++) expect((await run(n))[0]![m]).toBe(n + 1);
    expect(await preparedWith(m)).toBe(1);
  });

  it('prepares at most `max` texts; the rest run unprepared and answer alike', async () => {
    const db = open({ after: 1, max: 2 });
    const markers = [marker(), marker(), marker()];
    for (const m of markers) {
      for (let n = 0; n < 3; n++) {
        const rows = (await db.execute(sql`select ${n}::int as ${sql.raw(m)}`)) as unknown as Record<string, number>[];
        expect(rows[0]![m]).toBe(n);
      }
    }
    const counts = await Promise.all(markers.map(preparedWith));
    expect(counts).toEqual([1, 1, 0]);
  });

  it('leaves statements without parameters alone', async () => {
    const db = open({ after: 1, max: 10 });
    const m = marker();
    for (let i = 0; i < 3; i++) await db.execute(sql`select 1 as ${sql.raw(m)}`);
    expect(await preparedWith(m)).toBe(0);
  });

  it('prepares inside transactions and savepoints too, and a rolled-back write stays undone', async () => {
    const db = open({ after: 2, max: 10 });
    const m = marker();
    await client.unsafe(`create temporary table ${m} (n int)`);
    await db.transaction(async (tx) => {
      for (let n = 0; n < 3; n++) await tx.execute(sql`insert into ${sql.raw(m)} values (${n}::int)`);
      await expect(
        tx.transaction(async (inner) => {
          await inner.execute(sql`insert into ${sql.raw(m)} values (${99}::int)`);
          throw new Error('roll back the savepoint');
        }),
      ).rejects.toThrow('roll back the savepoint');
    });
    expect(await preparedWith(m)).toBe(1);
    const rows = await client.unsafe(`select n from ${m} order by n`);
    expect(rows.map((r) => r.n)).toEqual([0, 1, 2]);
  });
});
