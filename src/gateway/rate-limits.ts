import { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { parseSeeds } from '../bus/redis-bus.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/obs/logger.js';
import { sharedPoints, SHARED_WINDOW_S, UserLimits } from './user-limits.js';
import { WindowCounter } from './window-counter.js';
import { FairLine } from '../features/accounts/fair-line.js';
import { HASHES_AT_ONCE } from '../features/accounts/password.js';
import { AppError } from '../protocol/errors.js';

// Every limit of the HTTP API and of per-group socket actions, in one place, with its numbers
// from config (README's settings table). rate-limiter-flexible counts in windows that start with
// the first action of a key. The limits that matter for brute force (sign-in, sign-up) are kept in
// Redis when REDIS_URL is set, so every replica counts the same attempts; the rest are per replica.

export interface Rate {
  points: number;
  durationS: number;
}

/** A day: how long failures of one address, and failures in a row of one username, are remembered. */
const FAILS_WINDOW_S = 24 * 3600;

export const rateLimited = (msBeforeNext: number) =>
  new AppError('rate_limited', 'too many requests: wait retryAfterMs', { retryAfterMs: Math.max(1, Math.ceil(msBeforeNext)) });

/** Takes one point, or throws `rate_limited` with the wait; store errors go to the insurance limiter. */
async function take(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw rateLimited(err.msBeforeNext);
    throw err;
  }
}

type Store = (name: string, rate: Rate) => RateLimiterAbstract;

const memoryStore: Store = (name, rate) => new RateLimiterMemory({ keyPrefix: name, points: rate.points, duration: rate.durationS });

/**
 * Sign-in guard (OWASP's login throttling): attempts per address and per username; after
 * SIGNIN_FREE_FAILS failures in a row of one username from one address, or SIGNIN_ADDRESS_FREE_FAILS
 * failures of one address in a day, that pair (or address) is locked for a delay that doubles with
 * each further failure, from 1 s up to SIGNIN_MAX_DELAY_S. A locked attempt is refused before any hashing,
 * whatever the password. Keys are the username as typed: an unknown username is counted exactly
 * like a known one, so the answers do not tell them apart.
 *
 * An attempt from a trusted device (`device`: the id of a valid device token for that username,
 * docs/protocol.md §2) is counted per device instead of per username and per username+address:
 * strangers spending the username's allowance do not lock its owner out.
 */
class SignInGuard {
  private readonly attemptsByAddress: RateLimiterAbstract;
  private readonly attemptsByUsername: RateLimiterAbstract;
  private readonly attemptsByDevice: RateLimiterAbstract;
  private readonly fails: RateLimiterAbstract;
  private readonly locks: RateLimiterAbstract;

  constructor(
    store: Store,
    private readonly settings: Pick<
      Config,
      'SIGNIN_RATE_ADDRESS' | 'SIGNIN_RATE_USERNAME' | 'SIGNIN_FREE_FAILS' | 'SIGNIN_ADDRESS_FREE_FAILS' | 'SIGNIN_MAX_DELAY_S'
    >,
  ) {
    this.attemptsByAddress = store('signin-address', settings.SIGNIN_RATE_ADDRESS);
    this.attemptsByUsername = store('signin-username', settings.SIGNIN_RATE_USERNAME);
    this.attemptsByDevice = store('signin-device', settings.SIGNIN_RATE_USERNAME);
    this.fails = store('signin-fails', { points: 2 ** 30, durationS: FAILS_WINDOW_S });
    this.locks = store('signin-lock', { points: 1, durationS: 1 });
  }

  /** Before checking a password: throws rate_limited when locked or over a rate. */
  async admit(username: string, address: string, device?: string): Promise<void> {
    const pair = pairKey(username, address, device);
    const locks = await Promise.all([this.locks.get(pair), this.locks.get(addressKey(address))]);
    const wait = Math.max(0, ...locks.map((lock) => (lock && lock.consumedPoints > 1 ? lock.msBeforeNext : 0)));
    if (wait > 0) throw rateLimited(wait);
    await take(this.attemptsByAddress, address);
    await (device === undefined ? take(this.attemptsByUsername, username) : take(this.attemptsByDevice, device));
    // Counted as a failure until it succeeds, so attempts sent together cannot all pass the check above.
    const { consumedPoints: n } = await this.fails.consume(pair);
    const free = this.settings.SIGNIN_FREE_FAILS;
    if (n > free) {
      // Past the free ones, one attempt per delay: the first to take the gate goes, the others wait.
      try {
        await this.locks.consume(pair);
      } catch (err) {
        await this.fails.reward(pair);
        if (err instanceof RateLimiterRes) throw rateLimited(err.msBeforeNext);
        throw err;
      }
    }
    if (n >= free) await this.locks.block(pair, this.delayS(n - free));
  }

  /** A wrong password: the pair's delay runs from now (its failure was counted on admission), the address's failures grow. */
  async failed(username: string, address: string, device?: string): Promise<void> {
    const pair = pairKey(username, address, device);
    const n = (await this.fails.get(pair))?.consumedPoints ?? 0;
    const over = n - this.settings.SIGNIN_FREE_FAILS;
    if (over >= 0) await this.locks.block(pair, this.delayS(over));
    const key = addressKey(address);
    const overByAddress = (await this.fails.consume(key)).consumedPoints - this.settings.SIGNIN_ADDRESS_FREE_FAILS;
    if (overByAddress >= 0) await this.locks.block(key, this.delayS(overByAddress));
  }

  /** Admitted but never checked (its place in the password line was given to another): not a failure. */
  async unchecked(username: string, address: string, device?: string): Promise<void> {
    await this.fails.reward(pairKey(username, address, device));
  }

  /** The right password: the pair's failures in a row start again (the address's do not). */
  async succeeded(username: string, address: string, device?: string): Promise<void> {
    const pair = pairKey(username, address, device);
    await Promise.all([this.fails.delete(pair), this.locks.delete(pair)]);
  }

  private delayS(over: number): number {
    return Math.min(2 ** Math.min(over, 30), this.settings.SIGNIN_MAX_DELAY_S);
  }
}

/** Failures in a row: of a username from an address, or of a trusted device (whatever its address). */
const pairKey = (username: string, address: string, device: string | undefined) =>
  device === undefined ? `u:${username}|${address}` : `d:${device}`;
const addressKey = (address: string) => `a:${address}`;

export class RateLimits {
  readonly signIn: SignInGuard;
  /** Password checks wait here, fairly between addresses and accounts (auth/fair-line.ts). */
  readonly passwordLine: FairLine;
  private readonly signUps: RateLimiterAbstract;
  private readonly reports: RateLimiterAbstract;
  private readonly httpByAddress: WindowCounter;
  private readonly httpByUser: WindowCounter;
  private readonly groupActions: Record<'react' | 'typing', RateLimiterAbstract>;
  private readonly searches: RateLimiterAbstract;
  private readonly addsByUsername: RateLimiterAbstract;
  /** One user's sockets together: how many, and their frames (across replicas with Redis). */
  readonly perUser: UserLimits;

  private constructor(
    config: Config,
    shared: Store,
    private readonly redis: Redis | Cluster | undefined,
  ) {
    this.signIn = new SignInGuard(shared, config);
    this.passwordLine = new FairLine({
      concurrency: HASHES_AT_ONCE,
      perKey: config.PASSWORD_LINE_PER_KEY,
      maxWaiting: config.PASSWORD_LINE_MAX,
    });
    this.signUps = shared('signup-address', config.SIGNUP_RATE_ADDRESS);
    // Shared like sign-ups: one member flooding admins' queues from every replica counts once.
    this.reports = shared('report-user', config.REPORT_RATE);
    this.httpByAddress = new WindowCounter(config.HTTP_RATE_ADDRESS.points, config.HTTP_RATE_ADDRESS.durationS * 1000);
    this.httpByUser = new WindowCounter(config.HTTP_RATE_USER.points, config.HTTP_RATE_USER.durationS * 1000);
    this.groupActions = { react: memoryStore('react', config.REACT_RATE), typing: memoryStore('typing', config.TYPING_RATE) };
    this.searches = memoryStore('search', config.SEARCH_RATE);
    // Shared: trying usernames from every replica counts once.
    this.addsByUsername = shared('add-username', config.ADD_BY_USERNAME_RATE);
    const perUser = {
      perS: config.USER_RATE_LIMIT_PER_S ?? config.RATE_LIMIT_PER_S,
      burst: config.USER_RATE_LIMIT_BURST ?? config.RATE_LIMIT_BURST,
      maxSockets: config.SOCKETS_PER_USER,
    };
    const sharedFrames = redis ? shared('user-frames', { points: sharedPoints(perUser), durationS: SHARED_WINDOW_S }) : undefined;
    this.perUser = new UserLimits(perUser, sharedFrames);
  }

  /** In memory, or the brute-force limits in Redis when REDIS_URL is set (a small connection of their own). */
  static create(config: Config, logger: Logger): RateLimits {
    if (!config.REDIS_URL) return new RateLimits(config, memoryStore, undefined);
    const redis = connectRedis(config.REDIS_URL, config.REDIS_SHARDED);
    redis.on('error', (err: Error) => logger.warn('rate-limit redis error; counting in memory meanwhile', { err: err.message }));
    const shared: Store = (name, rate) =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `banyan:rl:${name}`,
        points: rate.points,
        duration: rate.durationS,
        // Redis down: each replica counts alone rather than letting every attempt through.
        rejectIfRedisNotReady: true,
        insuranceLimiter: memoryStore(name, rate),
      });
    return new RateLimits(config, shared, redis);
  }

  /** Every `/v1` request, before its body is read; throws `rate_limited` (at once: upgrades decide without waiting). */
  httpAddress(address: string): void {
    const waitMs = this.httpByAddress.take(address);
    if (waitMs > 0) throw rateLimited(waitMs);
  }

  /** Every authenticated `/v1` request; throws `rate_limited`. */
  httpUser(userId: string): void {
    const waitMs = this.httpByUser.take(userId);
    if (waitMs > 0) throw rateLimited(waitMs);
  }

  /** Each search, per user (a search reads more than any other request). */
  search(userId: string): Promise<void> {
    return take(this.searches, userId);
  }

  /** Each add by username, per user, whatever its answer. */
  addByUsername(userId: string): Promise<void> {
    return take(this.addsByUsername, userId);
  }

  signUp(address: string): Promise<void> {
    return take(this.signUps, address);
  }

  /** Each report a user files, repeats included. */
  report(userId: string): Promise<void> {
    return take(this.reports, userId);
  }

  /** Reactions and typing, per user per group: the wait in ms when over the limit, else 0. */
  async groupAction(kind: 'react' | 'typing', userId: string, groupId: string): Promise<number> {
    try {
      await this.groupActions[kind].consume(`${userId}|${groupId}`);
      return 0;
    } catch (err) {
      if (err instanceof RateLimiterRes) return Math.max(1, Math.ceil(err.msBeforeNext));
      throw err;
    }
  }

  async close(): Promise<void> {
    if (!this.redis) return;
    await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}

function connectRedis(url: string, sharded: boolean): Redis | Cluster {
  const options = { enableOfflineQueue: false, connectionName: 'banyan-limits', commandTimeout: 1000, maxRetriesPerRequest: 0 };
  if (!sharded) return new Redis(url, options);
  const { nodes, redisOptions } = parseSeeds(url);
  return new Cluster(nodes, { enableOfflineQueue: false, redisOptions: { ...redisOptions, ...options } });
}
