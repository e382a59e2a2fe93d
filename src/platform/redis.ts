import { Cluster, Redis } from 'ioredis';
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';

// The one way the server connects to Redis (bus, presence, rate limits): REDIS_URL as one
// `redis://[user:pass@]host:port[/db]` or `rediss://` (TLS) URL, or with REDIS_SHARDED a
// comma-separated list of cluster seeds; the same credentials, TLS and reconnect backoff for all.

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  url: string;
  /** Redis Cluster (REDIS_SHARDED): `url` names one or more seed nodes. */
  sharded: boolean;
}

/** What one use of Redis asks of its connection. */
export interface RedisRole {
  /** CLIENT SETNAME: who holds the connection, in CLIENT LIST. */
  name: string;
  /** Options of each connection: to the server, or to each node of the cluster. */
  node?: RedisOptions;
  /** Options of the single-server client only (sharded mode: the cluster decides them for its nodes). */
  standalone?: RedisOptions;
  /** Options of the cluster client (sharded mode only). */
  cluster?: Omit<ClusterOptions, 'redisOptions'>;
}

/** Reconnect backoff: 100 ms doubling to 2 s, with jitter so replicas do not reconnect in step. */
export function redisRetryDelay(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 5), 2000);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** A client for `role`; it connects (and reconnects) by itself, and emits 'error' its owner must listen to. */
export function connectRedis(target: RedisTarget, role: RedisRole): RedisClient {
  if (!target.sharded) {
    if (target.url.includes(',')) throw new Error('redis: a list of nodes needs sharded mode (REDIS_SHARDED)');
    checkScheme(target.url);
    // ioredis reads user, password, db and TLS (`rediss:`) from the URL itself.
    return new Redis(target.url, { retryStrategy: redisRetryDelay, ...role.node, ...role.standalone, connectionName: role.name });
  }
  const { nodes, redisOptions } = parseSeeds(target.url);
  return new Cluster(nodes, {
    clusterRetryStrategy: redisRetryDelay,
    ...role.cluster,
    redisOptions: { ...redisOptions, ...role.node, connectionName: role.name },
  });
}

/**
 * Cluster seeds: their hosts and ports, and the options every node connection needs. Credentials
 * and TLS apply to every node; the first seed that names them wins. The db is ignored (a cluster has one).
 */
function parseSeeds(url: string): { nodes: ClusterNode[]; redisOptions: RedisOptions } {
  const seeds = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (seeds.length === 0) throw new Error('redis: no cluster node in the url');
  const redisOptions: RedisOptions = {};
  const nodes = seeds.map((seed) => {
    const parsed = checkScheme(seed);
    if (parsed.username && redisOptions.username === undefined) redisOptions.username = decodeURIComponent(parsed.username);
    if (parsed.password && redisOptions.password === undefined) redisOptions.password = decodeURIComponent(parsed.password);
    if (parsed.protocol === 'rediss:') redisOptions.tls = {};
    return { host: parsed.hostname, port: parsed.port === '' ? 6379 : Number(parsed.port) };
  });
  return { nodes, redisOptions };
}

function checkScheme(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`redis: invalid url ${redactRedisUrl(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`redis: url must be redis:// or rediss://, got ${parsed.protocol}`);
  }
  return parsed;
}

/** The URL with its passwords masked, for logs and errors. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/g, '//$1:***@');
}
