import { describe, expect, it } from 'vitest';
import { type CachedMembership, MembershipCache, type MembershipCacheOptions } from '../../src/features/groups/membership-cache.js';
import type { Role } from '../../src/platform/db/schema.js';
import { ManualClock } from '../../src/platform/clock.js';

/**
 * Memberships in memory, standing in for storage (findMembershipRow): counts the cache's reads and
 * can hold back the answer of the next one, as a slow query would.
 */
class Storage {
  private readonly groups = new Map<string, { settings: Record<string, unknown>; roles: Map<string, Role> }>();
  loads = 0;
  private hold: { read: () => void; gate: Promise<void> } | undefined;
  private groupCount = 0;

  /** A fresh group with these members (role by user). */
  seedGroup(roles: Record<string, Role>): string {
    const id = `mc-${this.groupCount++}`;
    this.groups.set(id, { settings: {}, roles: new Map(Object.entries(roles)) });
    return id;
  }

  setRole(groupId: string, userId: string, role: Role): void {
    this.groups.get(groupId)!.roles.set(userId, role);
  }

  setSettings(groupId: string, settings: Record<string, unknown>): void {
    this.groups.get(groupId)!.settings = settings;
  }

  readonly load = async (groupId: string, userId: string): Promise<CachedMembership | undefined> => {
    this.loads++;
    const group = this.groups.get(groupId);
    const role = group?.roles.get(userId);
    // What the row says when the query runs; the answer may arrive later.
    const row =
      group && role ? { role, kind: 'group' as const, communityId: null, settings: { ...group.settings }, mutedUntil: null } : undefined;
    const held = this.hold;
    this.hold = undefined;
    if (held) {
      held.read();
      await held.gate;
    }
    return row;
  };

  /** Holds back the answer of the next read (made when it runs) until `release()`. */
  holdNextAnswer(): { read: Promise<void>; release: () => void } {
    let read!: () => void;
    let release!: () => void;
    const done = new Promise<void>((r) => (read = r));
    this.hold = { read, gate: new Promise<void>((r) => (release = r)) };
    return { read: done, release };
  }

  /** What `run` cost in reads. */
  async loadsOf(run: () => Promise<unknown>): Promise<number> {
    const before = this.loads;
    await run();
    return this.loads - before;
  }
}

describe('MembershipCache', () => {
  const setup = (options?: MembershipCacheOptions, busHealthy?: () => boolean) => {
    const storage = new Storage();
    const clock = new ManualClock();
    const cache = new MembershipCache(storage.load, options, busHealthy, clock);
    return { storage, clock, cache };
  };

  it('answers from memory after the first lookup, and reads again once invalidated', async () => {
    const { storage, cache } = setup();
    const g = storage.seedGroup({ u1: 'owner', u2: 'member' });
    expect(await cache.find(g, 'u2')).toEqual({ role: 'member', kind: 'group', communityId: null, settings: {}, mutedUntil: null });
    storage.setRole(g, 'u2', 'admin');
    expect(await storage.loadsOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('member'))).toBe(0);
    cache.invalidate({ group: g, user: 'u2' });
    expect(await storage.loadsOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('admin'))).toBe(1);
  });

  it('while the bus is down, answers from storage every time and keeps nothing, not even what it had (docs/protocol.md §1)', async () => {
    let busUp = true;
    const { storage, cache } = setup(undefined, () => busUp);
    const g = storage.seedGroup({ u1: 'owner', u2: 'member' });
    expect((await cache.find(g, 'u2'))?.role).toBe('member');
    // Demoted or promoted on another replica while the bus is down: no invalidation comes.
    busUp = false;
    storage.setRole(g, 'u2', 'admin');
    expect(await storage.loadsOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('admin'))).toBe(1);
    expect(await storage.loadsOf(() => cache.find(g, 'u2'))).toBe(1);
    storage.setRole(g, 'u2', 'member');
    // Back up: what was cached before the outage is gone, so storage answers once, then memory.
    busUp = true;
    expect(await storage.loadsOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('member'))).toBe(1);
    expect(await storage.loadsOf(() => cache.find(g, 'u2'))).toBe(0);
  });

  /** Starts u2's lookup (a plain member) and lets it read; its answer arrives only on `arrive()`. */
  const startRacedLookup = async () => {
    const { storage, cache } = setup();
    const g = storage.seedGroup({ u1: 'owner', u2: 'member' });
    const held = storage.holdNextAnswer();
    const raced = cache.find(g, 'u2');
    await held.read;
    return { storage, g, cache, raced, arrive: held.release };
  };

  it('does not cache a lookup that raced an invalidation', async () => {
    // The lookup reads "member"; before its answer arrives, u2 is made admin and the change is announced.
    const { storage, g, cache, raced, arrive } = await startRacedLookup();
    storage.setRole(g, 'u2', 'admin');
    cache.invalidate({ group: g, user: 'u2' });
    arrive();
    expect((await raced)?.role).toBe('member');
    expect(await storage.loadsOf(async () => expect((await cache.find(g, 'u2'))?.role).toBe('admin'))).toBe(1);
  });

  it.each([
    ['the member', { user: 'u2' }],
    ['the whole group', {}],
  ])('does not let a caller after an invalidation of %s share a lookup begun before it', async (_, change) => {
    const { storage, g, cache, raced, arrive } = await startRacedLookup();
    storage.setRole(g, 'u2', 'admin');
    cache.invalidate({ group: g, ...change });
    const after = cache.find(g, 'u2');
    arrive();
    expect((await raced)?.role).toBe('member');
    expect((await after)?.role).toBe('admin');
  });

  it('does not cache a lookup that raced a change of the whole group (settings)', async () => {
    const { storage, g, cache, raced, arrive } = await startRacedLookup();
    storage.setSettings(g, { onlyAdminsPost: true });
    cache.invalidate({ group: g });
    arrive();
    expect((await raced)?.settings).toEqual({});
    expect((await cache.find(g, 'u2'))?.settings).toEqual({ onlyAdminsPost: true });
  });

  it('shares one read between concurrent lookups of the same membership', async () => {
    const { storage, cache } = setup();
    const g = storage.seedGroup({ u1: 'owner', u2: 'member' });
    let results: unknown[] = [];
    expect(await storage.loadsOf(async () => (results = await Promise.all([1, 2, 3].map(() => cache.find(g, 'u2')))))).toBe(1);
    expect(results).toEqual([results[0], results[0], results[0]]);
    // Different members are different lookups.
    expect(await storage.loadsOf(() => Promise.all([cache.find(g, 'u1'), cache.find(g, 'u1')]))).toBe(1);
  });

  it('never caches "not a member"', async () => {
    const { storage, cache } = setup();
    const g = storage.seedGroup({ u1: 'owner' });
    expect(await cache.find(g, 'u2')).toBeUndefined();
    expect(await cache.find('no-such-group', 'u1')).toBeUndefined();
    storage.setRole(g, 'u2', 'member');
    expect((await cache.find(g, 'u2'))?.role).toBe('member');
  });

  it('reads again once an entry is older than ttlMs, even with no invalidation', async () => {
    const { storage, clock, cache } = setup({ ttlMs: 1000, maxEntries: 100 });
    const g = storage.seedGroup({ u1: 'owner', u2: 'member' });
    await cache.find(g, 'u2');
    storage.setRole(g, 'u2', 'admin'); // an invalidation lost with the bus
    clock.advance(999);
    expect((await cache.find(g, 'u2'))?.role).toBe('member');
    clock.advance(1);
    expect((await cache.find(g, 'u2'))?.role).toBe('admin');
  });

  it('holds at most maxEntries memberships', async () => {
    const { storage, cache } = setup({ ttlMs: 60_000, maxEntries: 2 });
    const g = storage.seedGroup({ u1: 'owner', u2: 'member', u3: 'member', u4: 'member' });
    const all = ['u1', 'u2', 'u3', 'u4'];
    for (const u of all) await cache.find(g, u);
    // Had all four been kept, asking again would cost nothing.
    expect(
      await storage.loadsOf(async () => {
        for (const u of all) await cache.find(g, u);
      }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('drops everything on clear() (after the bus lost messages)', async () => {
    const { storage, cache } = setup();
    const g = storage.seedGroup({ u1: 'owner', u2: 'member' });
    await cache.find(g, 'u1');
    await cache.find(g, 'u2');
    cache.clear();
    expect(
      await storage.loadsOf(async () => {
        await cache.find(g, 'u1');
        await cache.find(g, 'u2');
      }),
    ).toBe(2);
  });
});
