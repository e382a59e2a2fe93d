import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { connectRedis, type RedisClient } from '../platform/redis.js';
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

/** Its limits, the socket rate per-user limits fall back to, and where to count them together. */
export type RateLimitsConfig = Pick<Config, 'limits' | 'server' | 'redis'>;

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
    private readonly settings: Config['limits']['signIn'],
  ) {
    this.attemptsByAddress = store('signin-address', settings.address);
    this.attemptsByUsername = store('signin-username', settings.username);
    this.attemptsByDevice = store('signin-device', settings.username);
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
    const free = this.settings.freeFails;
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
    const over = n - this.settings.freeFails;
    if (over >= 0) await this.locks.block(pair, this.delayS(over));
    const key = addressKey(address);
    const overByAddress = (await this.fails.consume(key)).consumedPoints - this.settings.addressFreeFails;
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
    return Math.min(2 ** Math.min(over, 30), this.settings.maxDelayS);
  }
}

/** Failures in a row: of a username from an address, or of a trusted device (whatever its address). */
const pairKey = (username: string, address: string, device: string | undefined) =>
  device === undefined ? `u:${username}|${address}` : `d:${device}`;
const addressKey = (address: string) => `a:${address}`;

/**
 * Phone one-time codes (docs/protocol.md §2 "Phone numbers and one-time codes"): codes sent per
 * number (a resend no sooner than PHONE_CODE_RESEND_S, so many an hour and a day) and per
 * address; code checks per number and per address. Keys never depend on whether the number has
 * an account, so the answers cannot tell; numbers are kept hashed, not as typed, in the store.
 */
class PhoneLimits {
  private readonly resend: RateLimiterAbstract;
  private readonly codesByNumber: RateLimiterAbstract;
  private readonly codesByNumberDay: RateLimiterAbstract;
  private readonly codesByAddress: RateLimiterAbstract;
  private readonly checksByNumber: RateLimiterAbstract;
  private readonly checksByAddress: RateLimiterAbstract;

  constructor(store: Store, settings: Config['limits']['phone']) {
    this.resend = store('phone-resend', { points: 1, durationS: settings.resendS });
    this.codesByNumber = store('phone-codes-number', settings.codesPerNumber);
    this.codesByNumberDay = store('phone-codes-number-day', settings.codesPerNumberDay);
    this.codesByAddress = store('phone-codes-address', settings.codesPerAddress);
    this.checksByNumber = store('phone-checks-number', settings.checksPerNumber);
    this.checksByAddress = store('phone-checks-address', settings.checksPerAddress);
  }

  /** Before a code is sent to `phone` (E.164): throws rate_limited. */
  async codeRequested(phone: string, address: string): Promise<void> {
    const number = numberKey(phone);
    await take(this.codesByAddress, address);
    await take(this.resend, number);
    await take(this.codesByNumber, number);
    await take(this.codesByNumberDay, number);
  }

  /** Before a code for `phone` is checked, right or wrong: throws rate_limited. */
  async codeChecked(phone: string, address: string): Promise<void> {
    await take(this.checksByAddress, address);
    await take(this.checksByNumber, numberKey(phone));
  }
}

const numberKey = (phone: string) => createHash('sha256').update(`banyan phone|${phone}`).digest('base64url').slice(0, 22);

export class RateLimits {
  readonly signIn: SignInGuard;
  readonly phone: PhoneLimits;
  /** Password checks wait here, fairly between addresses and accounts (auth/fair-line.ts). */
  readonly passwordLine: FairLine;
  private readonly signUps: RateLimiterAbstract;
  private readonly passkeys: RateLimiterAbstract;
  private readonly reports: RateLimiterAbstract;
  private readonly httpByAddress: WindowCounter;
  private readonly httpByUser: WindowCounter;
  private readonly httpByAddressAll: WindowCounter;
  private readonly groupActions: Record<'react' | 'typing', RateLimiterAbstract>;
  private readonly searches: RateLimiterAbstract;
  private readonly refreshes: RateLimiterAbstract;
  private readonly addsByUsername: RateLimiterAbstract;
  /** One user's sockets together: how many, and their frames (across replicas with Redis). */
  readonly perUser: UserLimits;

  private constructor(
    config: RateLimitsConfig,
    shared: Store,
    private readonly redis: RedisClient | undefined,
  ) {
    const { limits } = config;
    this.signIn = new SignInGuard(shared, limits.signIn);
    this.phone = new PhoneLimits(shared, limits.phone);
    this.passwordLine = new FairLine({ concurrency: HASHES_AT_ONCE, ...limits.passwordLine });
    this.signUps = shared('signup-address', limits.signUp);
    this.passkeys = shared('passkey-address', limits.passkey);
    this.refreshes = shared('refresh-address', limits.refresh);
    // Shared like sign-ups: one member flooding admins' queues from every replica counts once.
    this.reports = shared('report-user', limits.report);
    this.httpByAddress = new WindowCounter(limits.httpAddress.points, limits.httpAddress.durationS * 1000);
    this.httpByUser = new WindowCounter(limits.httpUser.points, limits.httpUser.durationS * 1000);
    this.httpByAddressAll = new WindowCounter(limits.httpAddressAll.points, limits.httpAddressAll.durationS * 1000);
    this.groupActions = { react: memoryStore('react', limits.react), typing: memoryStore('typing', limits.typing) };
    this.searches = memoryStore('search', limits.search);
    // Shared: trying usernames from every replica counts once.
    this.addsByUsername = shared('add-username', limits.addByUsername);
    // Unset, a user's sockets together have the rate of one socket (README: USER_RATE_LIMIT_PER_S).
    const perUser = {
      perS: limits.user.perS ?? config.server.rateLimitPerS,
      burst: limits.user.burst ?? config.server.rateLimitBurst,
      maxSockets: limits.user.maxSockets,
    };
    const sharedFrames = redis ? shared('user-frames', { points: sharedPoints(perUser), durationS: SHARED_WINDOW_S }) : undefined;
    this.perUser = new UserLimits(perUser, sharedFrames);
  }

  /** In memory, or the brute-force limits in Redis when REDIS_URL is set (a small connection of their own). */
  static create(config: RateLimitsConfig, logger: Logger): RateLimits {
    if (!config.redis.url) return new RateLimits(config, memoryStore, undefined);
    const redis = connectRedis(
      { url: config.redis.url, sharded: config.redis.sharded },
      {
        name: 'banyan-limits',
        node: { commandTimeout: 1000, maxRetriesPerRequest: 0, enableOfflineQueue: false },
        cluster: { enableOfflineQueue: false },
      },
    );
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

  /**
   * A `/v1` request or WebSocket upgrade without a token (before its body is read), or whose token
   * failed: per address. Throws `rate_limited` (at once: upgrades decide without waiting).
   */
  httpAddress(address: string): void {
    const waitMs = this.httpByAddress.take(address);
    if (waitMs > 0) throw rateLimited(waitMs);
  }

  /** Every authenticated `/v1` request: per user, whatever the address; throws `rate_limited`. */
  httpUser(userId: string): void {
    const waitMs = this.httpByUser.take(userId);
    if (waitMs > 0) throw rateLimited(waitMs);
  }

  /** Every `/v1` request and upgrade, with a token or not: the address's backstop; throws `rate_limited`. */
  httpAddressAll(address: string): void {
    const waitMs = this.httpByAddressAll.take(address);
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

  /** Each public passkey request (options, sign-in, sign-up), per address. */
  passkey(address: string): Promise<void> {
    return take(this.passkeys, address);
  }
  /** Each refresh-token use of an address, whatever its outcome (docs/protocol.md §2). */
  refresh(address: string): Promise<void> {
    return take(this.refreshes, address);
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
