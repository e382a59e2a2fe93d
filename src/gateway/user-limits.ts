import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * What one user may do over all of their sockets together (docs/protocol.md §3, docs/protocol.md §9): hold at most
 * `maxSockets` sockets on this replica, and send frames from one token bucket shared by those
 * sockets (`perS`, `burst`), beside each socket's own bucket. Without it, each socket's limit
 * multiplies by the sockets a user opens.
 *
 * With Redis, frames are also counted across replicas in a shared window of `SHARED_WINDOW_S`,
 * reported in batches of `SHARED_BATCH` frames without waiting (no Redis round trip per frame):
 * when the user's frames on every replica together pass the window's budget, each replica that
 * learns it refuses the user's frames until the window ends. A Redis outage leaves the local
 * bucket (and the shared limiter's in-memory insurance).
 */
export interface UserLimitSettings {
  perS: number;
  burst: number;
  maxSockets: number;
}

interface UserEntry {
  sockets: number;
  tokens: number;
  last: number;
  /** Frames taken here and not yet reported to the shared budget. */
  unreported: number;
  /** Refused until then: the shared budget said so. */
  blockedUntil: number;
}

export const SHARED_WINDOW_S = 10;
export const SHARED_BATCH = 10;

/** The shared budget's points in one window: the bucket's rate over the window, plus its burst. */
export const sharedPoints = (s: Pick<UserLimitSettings, 'perS' | 'burst'>) => s.perS * SHARED_WINDOW_S + s.burst;

export class UserLimits {
  private readonly users = new Map<string, UserEntry>();
  private lastSweep = 0;

  constructor(
    private readonly settings: UserLimitSettings,
    /** The across-replica budget (RateLimiterRedis), when REDIS_URL is set. */
    private readonly shared?: RateLimiterAbstract,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `userId` may open one more socket here (checked before an upgrade; `opened` decides). */
  hasRoom(userId: string): boolean {
    return (this.users.get(userId)?.sockets ?? 0) < this.settings.maxSockets;
  }

  /** Counts a socket of `userId` in; false (not counted) when the user already holds the most. */
  opened(userId: string): boolean {
    const entry = this.entry(userId);
    if (entry.sockets >= this.settings.maxSockets) return false;
    entry.sockets++;
    return true;
  }

  /** A socket counted by `opened` closed. */
  closed(userId: string): void {
    const entry = this.users.get(userId);
    if (entry) entry.sockets = Math.max(0, entry.sockets - 1);
  }

  /** One frame of `userId`: 0 when it may go, else the ms until it may. */
  takeFrame(userId: string): number {
    const now = this.now();
    const entry = this.entry(userId, now);
    if (entry.blockedUntil > now) return entry.blockedUntil - now;
    this.refill(entry, now);
    if (entry.tokens < 1) return Math.max(1, Math.ceil(((1 - entry.tokens) / this.settings.perS) * 1000));
    entry.tokens -= 1;
    if (this.shared && ++entry.unreported >= SHARED_BATCH) {
      entry.unreported = 0;
      this.report(userId, entry);
    }
    return 0;
  }

  private report(userId: string, entry: UserEntry): void {
    this.shared?.consume(userId, SHARED_BATCH).catch((res: unknown) => {
      // Over the shared budget; a store error (Redis down, no insurance answer) leaves the local bucket.
      if (res instanceof RateLimiterRes) entry.blockedUntil = Math.max(entry.blockedUntil, this.now() + res.msBeforeNext);
    });
  }

  private refill(entry: UserEntry, now: number): void {
    entry.tokens = Math.min(this.settings.burst, entry.tokens + ((now - entry.last) / 1000) * this.settings.perS);
    entry.last = now;
  }

  private entry(userId: string, now = this.now()): UserEntry {
    let entry = this.users.get(userId);
    if (!entry) {
      this.sweep(now);
      entry = { sockets: 0, tokens: this.settings.burst, last: now, unreported: 0, blockedUntil: 0 };
      this.users.set(userId, entry);
    }
    return entry;
  }

  /**
   * Forgets users with no socket whose bucket is full again and who are not blocked: they would
   * start the same. Kept until then, so closing and reopening sockets never refills a bucket.
   * At most once a second, when a user is added.
   */
  private sweep(now: number): void {
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [userId, entry] of this.users) {
      if (entry.sockets > 0 || entry.blockedUntil > now) continue;
      this.refill(entry, now);
      if (entry.tokens >= this.settings.burst) this.users.delete(userId);
    }
  }

  /** Users remembered now (for tests of the memory bound). */
  get size(): number {
    return this.users.size;
  }
}
