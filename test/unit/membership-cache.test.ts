import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MembershipCache } from '../../src/features/groups/membership-cache.js';
import { groups, members, users, type Role } from '../../src/platform/db/schema.js';
import { openTestDb, type TestDb } from '../helpers/pglite.js';

describe('MembershipCache', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
    await t.db.insert(users).values(['u1', 'u2', 'u3', 'u4'].map((id) => ({ id, name: id })));
  }, 120_000);
  afterAll(() => t?.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  let groupCount = 0;
  /** A fresh group with these members (role by user). */
  const seedGroup = async (roles: Record<string, Role>) => {
    const id = `mc-${groupCount++}`;
    await t.db.insert(groups).values({ id, kind: 'group', name: id, createdBy: 'u1' });
    await t.db.insert(members).values(Object.entries(roles).map(([userId, role]) => ({ groupId: id, userId, role })));
    return id;
  };
  const setRole = (groupId: string, userId: string, role: Role) =>
    t.db
      .update(members)
      .set({ role })
      .where(and(eq(members.groupId, groupId), eq(members.userId, userId)));
  /** What the cache's lookups cost in queries. */
  const queriesOf = async (run: () => Promise<unknown>) => {
    const before = t.queries;
    await run();
    return t.queries - before;
  };

  it('answers from memory after the first lookup, and reads again once invalidated', async () => {
    const g = await seedGroup({ u1: 'owner', u2: 'member' });
    const cache = new MembershipCache(t.db);
    expect(await cache.find(g, 'u2')).toEqual({ role: 'member', kind: 'group', communityId: null, settings: {}, mutedUntil: null });
    await setRole(g, 'u2', 'admin');
    expect(await queriesOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('member'))).toBe(0);
    cache.invalidate({ group: g, user: 'u2' });
    expect(await queriesOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('admin'))).toBe(1);
  });

  it('while the bus is down, answers from storage every time and keeps nothing, not even what it had (docs/protocol.md §1)', async () => {
    const g = await seedGroup({ u1: 'owner', u2: 'member' });
    let busUp = true;
    const cache = new MembershipCache(t.db, undefined, () => busUp);
    expect((await cache.find(g, 'u2'))?.role).toBe('member');
    // Demoted or promoted on another replica while the bus is down: no invalidation comes.
    busUp = false;
    await setRole(g, 'u2', 'admin');
    expect(await queriesOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('admin'))).toBe(1);
    expect(await queriesOf(() => cache.find(g, 'u2'))).toBe(1);
    await setRole(g, 'u2', 'member');
    // Back up: what was cached before the outage is gone, so storage answers once, then memory.
    busUp = true;
    expect(await queriesOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('member'))).toBe(1);
    expect(await queriesOf(() => cache.find(g, 'u2'))).toBe(0);
  });

  /** Starts u2's lookup (a plain member) and lets it read; its answer arrives only on `arrive()`. */
  const startRacedLookup = async () => {
    const g = await seedGroup({ u1: 'owner', u2: 'member' });
    const cache = new MembershipCache(t.db);
    const held = t.holdNextAnswer();
    const raced = cache.find(g, 'u2');
    await held.read;
    return { g, cache, raced, arrive: held.release };
  };

  it('does not cache a lookup that raced an invalidation', async () => {
    // The lookup reads "member"; before its answer arrives, u2 is made admin and the change is announced.
    const { g, cache, raced, arrive } = await startRacedLookup();
    await setRole(g, 'u2', 'admin');
    cache.invalidate({ group: g, user: 'u2' });
    arrive();
    expect((await raced)?.role).toBe('member');
    expect(await queriesOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('admin'))).toBe(1);
  });

  it.each([
    ['the member', { user: 'u2' }],
    ['the whole group', {}],
  ])('does not let a caller after an invalidation of %s share a lookup begun before it', async (_, change) => {
    const { g, cache, raced, arrive } = await startRacedLookup();
    await setRole(g, 'u2', 'admin');
    cache.invalidate({ group: g, ...change });
    const after = cache.find(g, 'u2');
    arrive();
    expect((await raced)?.role).toBe('member');
    expect((await after)?.role).toBe('admin');
  });

  it('does not cache a lookup that raced a change of the whole group (settings)', async () => {
    const { g, cache, raced, arrive } = await startRacedLookup();
    await t.db
      .update(groups)
      .set({ settings: { onlyAdminsPost: true } })
      .where(eq(groups.id, g));
    cache.invalidate({ group: g });
    arrive();
    expect((await raced)?.settings).toEqual({});
    expect((await cache.find(g, 'u2'))?.settings).toEqual({ onlyAdminsPost: true });
  });

  it('shares one query between concurrent lookups of the same membership', async () => {
    const g = await seedGroup({ u1: 'owner', u2: 'member' });
    const cache = new MembershipCache(t.db);
    let results: unknown[] = [];
    expect(await queriesOf(async () => (results = await Promise.all([1, 2, 3].map(() => cache.find(g, 'u2')))))).toBe(1);
    expect(results).toEqual([results[0], results[0], results[0]]);
    // Different members are different lookups.
    expect(await queriesOf(() => Promise.all([cache.find(g, 'u1'), cache.find(g, 'u1')]))).toBe(1);
  });

  it('never caches "not a member"', async () => {
    const g = await seedGroup({ u1: 'owner' });
    const cache = new MembershipCache(t.db);
    expect(await cache.find(g, 'u2')).toBeUndefined();
    expect(await cache.find('no-such-group', 'u1')).toBeUndefined();
    await t.db.insert(members).values({ groupId: g, userId: 'u2', role: 'member' });
    expect((await cache.find(g, 'u2'))?.role).toBe('member');
  });

  it('reads again once an entry is older than ttlMs, even with no invalidation', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const g = await seedGroup({ u1: 'owner', u2: 'member' });
    const cache = new MembershipCache(t.db, { ttlMs: 1000, maxEntries: 100 });
    await cache.find(g, 'u2');
    await setRole(g, 'u2', 'admin'); // an invalidation lost with the bus
    vi.advanceTimersByTime(999);
    expect((await cache.find(g, 'u2'))?.role).toBe('member');
    vi.advanceTimersByTime(1);
    expect((await cache.find(g, 'u2'))?.role).toBe('admin');
  });

  it('holds at most maxEntries memberships', async () => {
    const g = await seedGroup({ u1: 'owner', u2: 'member', u3: 'member', u4: 'member' });
    const cache = new MembershipCache(t.db, { ttlMs: 60_000, maxEntries: 2 });
    const all = ['u1', 'u2', 'u3', 'u4'];
    for (const u of all) await cache.find(g, u);
    // Had all four been kept, asking again would cost nothing.
    expect(
      await queriesOf(async () => {
        for (const u of all) await cache.find(g, u);
      }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('drops everything on clear() (after the bus lost messages)', async () => {
    const g = await seedGroup({ u1: 'owner', u2: 'member' });
    const cache = new MembershipCache(t.db);
    await cache.find(g, 'u1');
    await cache.find(g, 'u2');
    cache.clear();
    expect(
      await queriesOf(async () => {
        await cache.find(g, 'u1');
        await cache.find(g, 'u2');
      }),
    ).toBe(2);
  });
});
