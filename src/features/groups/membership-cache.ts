import type { Membership } from './queries.js';
import type { AccessChange } from '../../delivery/access-change.js';
import { type Clock, systemClock } from '../../platform/clock.js';

/** What a cached membership may be used for: who may post (role, kind, settings, mute), nothing else. */
export type CachedMembership = Pick<Membership, 'role' | 'kind' | 'communityId' | 'settings' | 'mutedUntil'>;

/** Reads a membership from storage (findMembershipRow): undefined when the user is not in the group. */
export type MembershipLoader = (groupId: string, userId: string) => Promise<CachedMembership | undefined>;

export interface MembershipCacheOptions {
  /** Safety net for an invalidation lost with the bus; exactness comes from invalidations. */
  ttlMs: number;
  maxEntries: number;
}

/**
 * Memberships for the hot authorization checks (send, react, typing), so a message costs no query
 * before its insert. Exact: every committed membership, mute or settings change reaches every
 * replica's cache as an AccessChange on the bus (publishCommitted -> Hub -> invalidate), and a
 * lookup that raced an invalidation is not stored (epoch check). Only memberships are cached,
 * never "not a member". After the bus lost messages, everything is dropped (clear()). While the
 * bus is down, invalidations from other replicas cannot arrive: every lookup goes to storage and
 * nothing is kept (docs/protocol.md §1, "During a Redis outage").
 */
export class MembershipCache {
  private readonly groups = new Map<string, Map<string, { m: CachedMembership; at: number }>>();
  private size = 0;
  /** Lookups under way: later callers share them, so one socket's sends keep their order. */
  private readonly loading = new Map<string, Promise<CachedMembership | undefined>>();
  /** Bumped by every invalidation; a lookup that saw it change meanwhile is not cached. */
  private epoch = 0;

  constructor(
    private readonly loadMembership: MembershipLoader,
    private readonly options: MembershipCacheOptions = { ttlMs: 60_000, maxEntries: 500_000 },
    /** Whether the bus delivers now: while it does not, other replicas' changes go unheard. */
    private readonly busHealthy: () => boolean = () => true,
    private readonly clock: Pick<Clock, 'now'> = systemClock,
  ) {}

  /**
   * The caller's membership, or undefined: a lookup only; what it allows is platform/policy's
   * (requireMembership and the rest).
   */
  async find(groupId: string, userId: string): Promise<CachedMembership | undefined> {
    const now = this.clock.now();
    if (!this.busHealthy()) {
      // What was cached before the outage may have changed unheard since: storage answers.
      if (this.size > 0) this.forgetAll();
    } else {
      const hit = this.groups.get(groupId)?.get(userId);
      if (hit && now - hit.at < this.options.ttlMs) return hit.m;
    }
    const key = `${groupId}\u0000${userId}`;
    let load = this.loading.get(key);
    if (!load) {
      load = this.load(groupId, userId, now).finally(() => this.loading.delete(key));
      this.loading.set(key, load);
    }
    return load;
  }

  private async load(groupId: string, userId: string, now: number): Promise<CachedMembership | undefined> {
    const epoch = this.epoch;
    const row = await this.loadMembership(groupId, userId);
    if (!row) return undefined;
    const m: CachedMembership = {
      role: row.role,
      kind: row.kind,
      communityId: row.communityId,
      settings: row.settings,
      mutedUntil: row.mutedUntil,
    };
    if (epoch === this.epoch && this.busHealthy()) this.store(groupId, userId, m, now);
    return m;
  }

  invalidate(change: AccessChange): void {
    this.epoch++;
    // A lookup under way may have read the old state: later callers must not share it.
    if (change.user === undefined) this.loading.clear();
    else this.loading.delete(`${change.group}\u0000${change.user}`);
    const members = this.groups.get(change.group);
    if (!members) return;
    if (change.user === undefined) {
      this.size -= members.size;
      this.groups.delete(change.group);
    } else if (members.delete(change.user)) {
      this.size--;
      if (members.size === 0) this.groups.delete(change.group);
    }
  }

  clear(): void {
    this.epoch++;
    this.loading.clear();
    this.forgetAll();
  }

  private forgetAll(): void {
    this.groups.clear();
    this.size = 0;
  }

  private store(groupId: string, userId: string, m: CachedMembership, at: number): void {
    if (this.size >= this.options.maxEntries) this.clear();
    let members = this.groups.get(groupId);
    if (!members) {
      members = new Map();
      this.groups.set(groupId, members);
    }
    if (!members.has(userId)) this.size++;
    members.set(userId, { m, at });
  }
}
