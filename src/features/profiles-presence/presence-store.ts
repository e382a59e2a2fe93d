import { connectRedis, type RedisClient } from '../../platform/redis.js';
import type { Logger } from '../../platform/obs/logger.js';
import { type Clock, systemClock } from '../../platform/clock.js';
import type { Job } from '../../platform/jobs/job.js';

/** A user came online or went offline (`lastSeen`: when, in ms since the epoch). */
export interface PresenceChange {
  userId: string;
  online: boolean;
  lastSeen: number | null;
}

/**
 * Who has a live socket (docs/protocol.md §8 "Notifications": they are not pushed; docs/protocol.md §8: presence frames). A session
 * follows every group of its user, so a user connected anywhere follows the group. This replica's
 * sessions are known exactly (the hub); other replicas' are known through Redis when it is
 * configured. Ephemeral: nothing of it is in PostgreSQL.
 */
export interface Presence {
  /** The hub's first session of a user opened / last one closed, on this replica. */
  online(userId: string): void;
  offline(userId: string): void;
  /** Of these users, those connected on any replica. */
  connectedAmong(userIds: readonly string[]): Promise<Set<string>>;
  /** When each of these users last went offline (ms), for those it is known of. */
  lastSeenOf(userIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * Told of each change this replica is the one to report: a user's first session here opened,
   * their last one anywhere closed, or the users of a replica that died (once, by one replica).
   */
  onChange(listener: (change: PresenceChange) => void): void;
  /** Its background jobs (the Redis store's heartbeat), for the composition root's runner. */
  jobs(): Job[];
  close(): Promise<void>;
}

const noListener = (_change: PresenceChange) => {};

/** One replica (no Redis): this process's sessions are everyone's. */
export class LocalPresence implements Presence {
  private readonly users = new Set<string>();
  private readonly lastSeen = new Map<string, number>();
  private listener = noListener;

  /** `lastSeen` times come from `clock`. */
  constructor(private readonly clock: Pick<Clock, 'now'> = systemClock) {}
  jobs(): Job[] {
    return [];
  }

  online(userId: string): void {
    this.users.add(userId);
    this.listener({ userId, online: true, lastSeen: null });
  }

  offline(userId: string): void {
    this.users.delete(userId);
    const now = this.clock.now();
    this.lastSeen.set(userId, now);
    this.listener({ userId, online: false, lastSeen: now });
  }

  async lastSeenOf(userIds: readonly string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for (const u of userIds) {
      const at = this.lastSeen.get(u);
      if (at !== undefined) found.set(u, at);
    }
    return found;
  }

  onChange(listener: (change: PresenceChange) => void): void {
    this.listener = listener;
  }

  has(userId: string): boolean {
    return this.users.has(userId);
  }

  get size(): number {
    return this.users.size;
  }

  localUsers(): IterableIterator<string> {
    return this.users.values();
  }

  async connectedAmong(userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((u) => this.users.has(u)));
  }

  async close(): Promise<void> {}
}

// Not the key of earlier versions (`…:replicas`): they drop stale entries themselves, and the entry of a
// dead replica must stay until a replica of this version reports its users offline.
const REPLICAS_KEY = 'banyan:presence:heartbeats';
const LAST_SEEN_KEY = 'banyan:presence:last-seen';
const usersKey = (replica: string) => `banyan:presence:users:${replica}`;
const MEMBERSHIP_CHUNK = 5000;
/**
 * How long changes of this replica's set are gathered before they go to Redis: other replicas see
 * a session that long later (at worst a push to someone just connected), and offline reports wait
 * as long (presence frames are gathered for PRESENCE_COALESCE_MS anyway).
 */
const WRITE_GATHER_MS = 50;

/**
 * Presence across replicas: each replica keeps a Redis set of its connected users and a
 * heartbeat (its score in a sorted set of replicas) every ttl/3. A replica that dies stops
 * heartbeating: its users stop counting as connected at most `ttlMs` after its last heartbeat,
 * so they are pushed again; the first live replica to notice (its next heartbeat, within ttl/3)
 * takes the dead one's entry (ZREM answers 1 to one replica only) and reports its users offline,
 * last seen at its last heartbeat. Its set expires after 3 × ttl if every replica died.
 * A Redis that answers no query counts nobody remote as connected: a duplicate push is better
 * than a missed one.
 */
export class RedisPresence implements Presence {
  private readonly local = new LocalPresence();
  private listener = noListener;
  private heartbeats = 0;
  /** Changes of this replica's set not yet sent (see queueWrite). */
  private writes: ['sadd' | 'srem', string][] = [];
  private written: Promise<void> = Promise.resolve();

  private constructor(
    private readonly redis: RedisClient,
    private readonly replicaId: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  static async connect(options: {
    url: string;
    sharded: boolean;
    replicaId: string;
    ttlMs: number;
    logger: Logger;
  }): Promise<RedisPresence> {
    const redis = connectRedis(
      { url: options.url, sharded: options.sharded },
      {
        name: 'banyan-presence',
        standalone: { maxRetriesPerRequest: 1 },
        // Commands issued in the same tick go out as one write (a flush's, a lookup's).
        node: { enableAutoPipelining: true },
        cluster: { enableAutoPipelining: true },
      },
    );
    redis.on('error', () => {}); // reconnects by itself; failures show up as empty answers below
    const presence = new RedisPresence(redis, options.replicaId, options.ttlMs, options.logger);
    // After a reconnect (Redis restarted) the set may be gone: write it whole again.
    redis.on('ready', () => presence.rewrite());
    // The first heartbeat now, before this replica serves anyone; the next ones are its job.
    await presence.heartbeat();
    return presence;
  }

  online(userId: string): void {
    this.local.online(userId);
    this.queueWrite('sadd', userId);
    this.listener({ userId, online: true, lastSeen: null });
  }

  offline(userId: string): void {
    this.local.offline(userId);
    this.queueWrite('srem', userId);
  }

  /**
   * The set's changes of WRITE_GATHER_MS go to Redis together: each user's last change counts
   * (users are independent members of the set), so one SADD and one SREM per interval. Then those
   * who went offline are looked up and reported together: a stream of session starts and closes
   * costs a few commands per interval, not several per user.
   */
  private queueWrite(op: 'sadd' | 'srem', userId: string): void {
    this.writes.push([op, userId]);
    if (this.writes.length === 1) setTimeout(() => void this.flushWrites(), WRITE_GATHER_MS).unref();
  }

  private flushWrites(): Promise<void> {
    const writes = this.writes;
    if (writes.length === 0) return this.written;
    this.writes = [];
    const key = usersKey(this.replicaId);
    const last = new Map<string, 'sadd' | 'srem'>();
    for (const [op, userId] of writes) last.set(userId, op);
    const added: string[] = [];
    const gone: string[] = [];
    for (const [userId, op] of last) (op === 'sadd' ? added : gone).push(userId);
    const at = Date.now();
    // Issued in one go, so auto-pipelining sends them as one write: this replica's changes and,
    // when someone left, the live replicas to look them up on.
    const written = Promise.all([
      added.length > 0 ? this.redis.sadd(key, ...added) : undefined,
      gone.length > 0 ? this.redis.srem(key, ...gone) : undefined,
    ]).catch(() => {});
    const others = gone.length > 0 ? this.liveOthers(at) : undefined;
    this.written = written.then(() => (others ? this.wentOffline(gone, at, others) : undefined));
    return this.written;
  }

  /** The other replicas that heartbeated within the ttl. Handled at once, so a failure waits unhandled for no one. */
  private liveOthers(now: number): Promise<string[]> {
    const replicas = this.redis.zrangebyscore(REPLICAS_KEY, now - this.ttlMs, '+inf').then((rs) => rs.filter((r) => r !== this.replicaId));
    replicas.catch(() => {});
    return replicas;
  }

  onChange(listener: (change: PresenceChange) => void): void {
    this.listener = listener;
  }

  async lastSeenOf(userIds: readonly string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (userIds.length === 0) return found;
    try {
      const values = await this.redis.hmget(LAST_SEEN_KEY, ...userIds);
      values.forEach((v, i) => {
        if (v !== null) found.set(userIds[i]!, Number(v));
      });
    } catch (err) {
      this.logger.warn('last-seen lookup failed', { err });
    }
    return found;
  }

  /** These users' sessions (here, or on a dead replica) ended: those connected nowhere else went offline at `at`. */
  private async wentOffline(userIds: string[], at: number, others?: Promise<string[]>): Promise<void> {
    try {
      const connected = await this.connectedAmong(userIds, others);
      const gone = userIds.filter((u) => !connected.has(u));
      for (let i = 0; i < gone.length; i += MEMBERSHIP_CHUNK) {
        const chunk = gone.slice(i, i + MEMBERSHIP_CHUNK);
        await this.redis.hset(LAST_SEEN_KEY, Object.fromEntries(chunk.map((u) => [u, String(at)])));
      }
      for (const userId of gone) this.listener({ userId, online: false, lastSeen: at });
    } catch (err) {
      this.logger.warn('presence offline report failed', { err });
    }
  }

  /** Those of `userIds` connected here or on another live replica (`others`, when already asked for). */
  async connectedAmong(userIds: readonly string[], others?: Promise<string[]>): Promise<Set<string>> {
    const connected = await this.local.connectedAmong(userIds);
    const remote = userIds.filter((u) => !connected.has(u));
    if (remote.length === 0) return connected;
    try {
      const lookups: Promise<void>[] = [];
      // Issued in one go: auto-pipelining sends every replica's lookups as one write.
      for (const replica of await (others ?? this.liveOthers(Date.now()))) {
        for (let i = 0; i < remote.length; i += MEMBERSHIP_CHUNK) {
          const chunk = remote.slice(i, i + MEMBERSHIP_CHUNK);
          lookups.push(
            (this.redis.smismember(usersKey(replica), ...chunk) as Promise<number[]>).then((flags) =>
              flags.forEach((f, j) => {
                if (f === 1) connected.add(chunk[j]!);
              }),
            ),
          );
        }
      }
      await Promise.all(lookups);
    } catch (err) {
      this.logger.warn('presence lookup failed: remote users count as not connected', { err });
    }
    return connected;
  }

  /** Periodic, every ttl/3: this replica is alive (and the first to notice a dead one reports its users). */
  jobs(): Job[] {
    return [
      { name: 'presence.heartbeat', kind: 'periodic', everyMs: Math.max(250, Math.floor(this.ttlMs / 3)), run: () => this.heartbeat() },
    ];
  }

  async close(): Promise<void> {
    await (this.writes.length > 0 ? this.flushWrites() : this.written);
    try {
      await this.redis.zrem(REPLICAS_KEY, this.replicaId);
      await this.redis.del(usersKey(this.replicaId));
    } catch {
      // Gone already: the TTL cleans up.
    }
    this.redis.disconnect();
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    try {
      const added = await this.redis.zadd(REPLICAS_KEY, now, this.replicaId);
      if (added === 1 && this.heartbeats > 0) await this.reinstate();
      this.heartbeats++;
      // Outlives the heartbeat's ttl, so the replica that takes a dead one's entry still reads its users.
      await this.redis.pexpire(usersKey(this.replicaId), this.ttlMs * 3);
      const dead = await this.redis.zrangebyscore(REPLICAS_KEY, '-inf', now - this.ttlMs, 'WITHSCORES');
      for (let i = 0; i < dead.length; i += 2) await this.takeDead(dead[i]!, Number(dead[i + 1]));
    } catch (err) {
      this.logger.warn('presence heartbeat failed', { err });
    }
  }

  /** A replica stopped heartbeating: one live replica (the one whose ZREM removed it) reports its users offline. */
  private async takeDead(replica: string, lastHeartbeat: number): Promise<void> {
    if ((await this.redis.zrem(REPLICAS_KEY, replica)) !== 1) return;
    const users = await this.redis.smembers(usersKey(replica));
    await this.redis.del(usersKey(replica));
    this.logger.info('a replica stopped heartbeating: its users are offline', { replica, users: users.length });
    if (users.length > 0) await this.wentOffline(users, lastHeartbeat);
  }

  /**
   * This replica missed heartbeats long enough (a stall) that another took its entry and reported
   * its users offline: its set is written again and they are reported online again.
   */
  private async reinstate(): Promise<void> {
    this.logger.warn('this replica was taken for dead: its users are reported online again');
    const users = [...this.local.localUsers()];
    const key = usersKey(this.replicaId);
    for (let i = 0; i < users.length; i += MEMBERSHIP_CHUNK) await this.redis.sadd(key, ...users.slice(i, i + MEMBERSHIP_CHUNK));
    for (const userId of users) this.listener({ userId, online: true, lastSeen: null });
  }

  private rewrite(): void {
    const users = [...this.local.localUsers()];
    const key = usersKey(this.replicaId);
    void (async () => {
      for (let i = 0; i < users.length; i += MEMBERSHIP_CHUNK) await this.redis.sadd(key, ...users.slice(i, i + MEMBERSHIP_CHUNK));
      await this.heartbeat();
    })().catch(() => {});
  }
}
