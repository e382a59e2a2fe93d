import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../obs/logger.js';

/**
 * Who has a live socket (PROTOCOL.md §7: they are not pushed). A session follows every group of
 * its user, so a user connected anywhere follows the group. This replica's sessions are known
 * exactly (the hub); other replicas' are known through Redis when it is configured.
 */
export interface Presence {
  /** The hub's first session of a user opened / last one closed, on this replica. */
  online(userId: string): void;
  offline(userId: string): void;
  /** Of these users, those connected on any replica. */
  connectedAmong(userIds: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

/** One replica (no Redis): this process's sessions are everyone's. */
export class LocalPresence implements Presence {
  private readonly users = new Set<string>();

  online(userId: string): void {
    this.users.add(userId);
  }

  offline(userId: string): void {
    this.users.delete(userId);
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

const REPLICAS_KEY = 'banyan:presence:replicas';
const usersKey = (replica: string) => `banyan:presence:users:${replica}`;
const MEMBERSHIP_CHUNK = 5000;

/**
 * Presence across replicas: each replica keeps a Redis set of its connected users and a
 * heartbeat (its score in a sorted set of replicas) every ttl/3. A replica that dies stops
 * heartbeating: its users stop counting as connected at most `ttlMs` after its last heartbeat
 * (the set also expires then), so they are pushed again. A Redis that answers no query counts
 * nobody remote as connected: a duplicate push is better than a missed one.
 */
export class RedisPresence implements Presence {
  private readonly local = new LocalPresence();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: Redis | Cluster,
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
    const urls = options.url.split(',').map((u) => u.trim());
    const redis = options.sharded
      ? new Cluster(urls.map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port || 6379) })))
      : new Redis(urls[0]!, { maxRetriesPerRequest: 1, connectionName: 'banyan-presence' });
    redis.on('error', () => {}); // reconnects by itself; failures show up as empty answers below
    const presence = new RedisPresence(redis, options.replicaId, options.ttlMs, options.logger);
    // After a reconnect (Redis restarted) the set may be gone: write it whole again.
    redis.on('ready', () => presence.rewrite());
    presence.timer = setInterval(() => presence.heartbeat(), Math.max(250, Math.floor(options.ttlMs / 3)));
    presence.timer.unref();
    await presence.heartbeat();
    return presence;
  }

  online(userId: string): void {
    this.local.online(userId);
    this.redis.sadd(usersKey(this.replicaId), userId).catch(() => {});
  }

  offline(userId: string): void {
    this.local.offline(userId);
    this.redis.srem(usersKey(this.replicaId), userId).catch(() => {});
  }

  async connectedAmong(userIds: readonly string[]): Promise<Set<string>> {
    const connected = await this.local.connectedAmong(userIds);
    const others = userIds.filter((u) => !connected.has(u));
    if (others.length === 0) return connected;
    try {
      const now = Date.now();
      const replicas = (await this.redis.zrangebyscore(REPLICAS_KEY, now - this.ttlMs, '+inf')).filter((r) => r !== this.replicaId);
      for (const replica of replicas) {
        for (let i = 0; i < others.length; i += MEMBERSHIP_CHUNK) {
          const chunk = others.slice(i, i + MEMBERSHIP_CHUNK);
          const flags = (await this.redis.smismember(usersKey(replica), ...chunk)) as number[];
          flags.forEach((f, j) => {
            if (f === 1) connected.add(chunk[j]!);
          });
        }
      }
    } catch (err) {
      this.logger.warn('presence lookup failed: remote users count as not connected', { err });
    }
    return connected;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
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
      await this.redis.zadd(REPLICAS_KEY, now, this.replicaId);
      await this.redis.pexpire(usersKey(this.replicaId), this.ttlMs);
      await this.redis.zremrangebyscore(REPLICAS_KEY, '-inf', now - this.ttlMs);
    } catch (err) {
      this.logger.warn('presence heartbeat failed', { err });
    }
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
