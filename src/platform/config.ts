import { z } from 'zod';

// The only reader of process.env. Every setting is documented in README.md with its default.

const bool = z.enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no']).transform((v) => ['1', 'true', 'on', 'yes'].includes(v));

const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());
// Digits only: `0x10`, `1e3` or ` 80 ` are typos here, not numbers.
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
/** `points/seconds`: at most `points` actions in a window of `seconds` that starts with the first. */
const rate = z
  .string()
  .regex(/^\d{1,9}\/\d{1,7}$/, 'must be points/seconds, e.g. 30/60')
  .transform((v) => {
    const [points, seconds] = v.split('/').map(Number) as [number, number];
    return { points, durationS: seconds };
  })
  .refine((r) => r.points >= 1 && r.durationS >= 1, 'points and seconds must be at least 1');
/** off, on (one proxy in front: the rightmost X-Forwarded-For entry) or the number of proxies. */
const trustProxy = z.union([bool.transform((on) => (on ? 1 : 0)), int(0, 16)]);

const envSchema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.preprocess(emptyAsUndefined, z.url().optional()),
  /** Embedded mode: sync every commit to disk before acknowledging it. Off survives a killed process, not an OS crash. */
  EMBEDDED_FSYNC: bool.default(true),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  /** Connections of session starts' prepared reads, beside DATABASE_POOL_SIZE (connect.ts, `reads`). */
  DATABASE_READ_POOL_SIZE: int(1, 200).default(4),
  /** One redis:// URL, or with REDIS_SHARDED a comma-separated list of cluster seed URLs. */
  REDIS_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .refine(
        (v) => v.split(',').every((u) => /^rediss?:\/\/[^\s]+$/.test(u.trim())),
        'must be redis:// or rediss:// URLs, comma-separated',
      )
      .optional(),
  ),
  REDIS_SHARDED: bool.default(false),
  JWT_SECRET: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
  JWT_PUBLIC_KEY: optionalString,
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  TOKEN_TTL_S: int(60, 365 * 24 * 3600).default(7 * 24 * 3600),
  LOCAL_ACCOUNTS: bool.default(true),
  MAX_FRAME_BYTES: int(1024, 16 * 1024 * 1024).default(65536),
  MAX_BODY_BYTES: int(1024, 16 * 1024 * 1024).default(65536),
  MAX_TEXT_CHARS: int(1, 65536).default(4096),
  SYNC_LIMIT: int(1, 10000).default(500),
  /** Bytes of events in one sync or history answer (at least one event always goes). */
  MAX_REPLY_BYTES: int(4096, 64 * 1024 * 1024).default(1024 * 1024),
  /** Members one request may add; more go through further calls (or a community invite). */
  MAX_MEMBERS_PER_CALL: int(1, 100_000).default(256),
  /** Each user's rows read by sync and history, per second and in a burst (per replica). */
  READ_BUDGET_ROWS_PER_S: int(1, 10_000_000).default(5000),
  READ_BUDGET_BURST_ROWS: int(1, 100_000_000).default(20_000),
  READ_BUDGET_BYTES_PER_S: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  READ_BUDGET_BURST_BYTES: int(1024, 16 * 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  EDIT_WINDOW_S: int(0, 365 * 24 * 3600).default(900),
  MAX_GROUP_MEMBERS: int(2, 10_000_000).default(1_000_000),
  MAX_COMMUNITY_GROUPS: int(1, 100_000).default(10_000),
  AUTH_TIMEOUT_MS: int(100, 600_000).default(10_000),
  SLOW_CONSUMER_BYTES: int(16 * 1024, 1024 * 1024 * 1024).default(1024 * 1024),
  RATE_LIMIT_PER_S: int(1, 1_000_000).default(50),
  RATE_LIMIT_BURST: int(1, 1_000_000).default(200),
  /** Frames per second, and burst, of one user's sockets together; unset: RATE_LIMIT_PER_S and RATE_LIMIT_BURST. */
  USER_RATE_LIMIT_PER_S: z.preprocess(emptyAsUndefined, int(1, 1_000_000).optional()),
  USER_RATE_LIMIT_BURST: z.preprocess(emptyAsUndefined, int(1, 1_000_000).optional()),
  /** Sockets one user may hold open on one replica. */
  SOCKETS_PER_USER: int(1, 1_000_000).default(10),
  /** Per client address and per user, every `/v1` request (HTTP). */
  HTTP_RATE_ADDRESS: rate.default({ points: 1200, durationS: 60 }),
  HTTP_RATE_USER: rate.default({ points: 600, durationS: 60 }),
  /** Sign-in attempts per address and per username, whatever their outcome. */
  SIGNIN_RATE_ADDRESS: rate.default({ points: 30, durationS: 60 }),
  SIGNIN_RATE_USERNAME: rate.default({ points: 10, durationS: 60 }),
  /** Failures of one username from one address (in a row) and of one address (in a day) before delays start. */
  SIGNIN_FREE_FAILS: int(1, 1_000_000).default(5),
  SIGNIN_ADDRESS_FREE_FAILS: int(1, 1_000_000).default(50),
  /** The delay after a failure past the free ones doubles from 1 s up to this. */
  SIGNIN_MAX_DELAY_S: int(1, 24 * 3600).default(900),
  SIGNUP_RATE_ADDRESS: rate.default({ points: 10, durationS: 3600 }),
  /** Password checks (sign-in, sign-up, password change) one address or account may have waiting or running, and all waiting. */
  PASSWORD_LINE_PER_KEY: int(1, 1000).default(4),
  PASSWORD_LINE_MAX: int(1, 100_000).default(64),
  /** Per user per group, over the socket: reactions (over it: rate_limited) and typing (over it: dropped). */
  REACT_RATE: rate.default({ points: 30, durationS: 10 }),
  TYPING_RATE: rate.default({ points: 10, durationS: 10 }),
  /** Reports each user may file (counted across replicas when REDIS_URL is set). */
  REPORT_RATE: rate.default({ points: 20, durationS: 3600 }),
  TRUST_PROXY: trustProxy.default(0),
  /** scrypt cost 2^SCRYPT_LOG_N (r=8, p=1); older hashes are rehashed at the next sign-in. */
  SCRYPT_LOG_N: int(14, 20).default(17),
  DRAIN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  /** On SIGTERM, how long /readyz answers 503 before sockets are closed (load balancers notice). */
  DRAIN_NOTICE_MS: int(0, 600_000).default(0),
  /** How often each replica checks its followed groups against storage for events the bus lost. */
  FEED_CHECK_MS: int(100, 3_600_000).default(5000),
  /** How long a replica keeps following a group after its last socket of it leaves (0: not at all). */
  FEED_LINGER_MS: int(0, 600_000).default(30_000),
  /** Bearer token /metrics asks for; unset, /metrics is not served (it is not for clients). */
  METRICS_TOKEN: z.preprocess(emptyAsUndefined, z.string().min(16, 'must be at least 16 characters').optional()),
  /** Who may add a user who never chose (`privacy.groupAdd`): everyone, shared (docs/protocol.md §8 "Privacy and safety") or nobody. */
  DEFAULT_GROUP_ADD: z.enum(['everyone', 'shared', 'nobody']).default('shared'),
  /** At most one reaction tally per message of an announcement group per this many ms. */
  TALLY_INTERVAL_MS: int(100, 3_600_000).default(2000),
  /** messageTtlS values allowed besides the protocol's (86400, 604800, 7776000): e.g. `2` for tests. */
  MESSAGE_TTL_ALLOWED: z
    .string()
    .regex(/^(\d{1,9}(,\d{1,9})*)?$/, 'must be a comma-separated list of seconds')
    .transform((v) => (v === '' ? [] : v.split(',').map(Number)))
    .refine((list) => list.every((n) => n >= 1), 'each value must be at least 1 second')
    .default([]),
  /** How often each replica looks for expired messages to erase (any number of replicas may). */
  EXPIRY_SWEEP_MS: int(100, 3_600_000).default(30_000),
  /** Expired messages one replica erases per sweep at most; the rest wait for the next. */
  EXPIRY_SWEEP_BATCH: int(1, 100_000).default(1000),
  /** Members who answered going or maybe to an event get a reminder this many seconds before it starts. */
  EVENT_REMINDER_S: int(1, 30 * 24 * 3600).default(3600),
  /** Groups up to this many members notify `all` by default, larger ones `mentions` (docs/protocol.md §8 "Notifications"). */
  NOTIFY_ALL_MAX_MEMBERS: int(0, 10_000_000).default(256),
  /** At most one push per user per group in this window; later messages collapse into the next. */
  PUSH_COALESCE_MS: int(0, 3_600_000).default(3000),
  /** VAPID key pair (RFC 8292, base64url); unset, one is generated (DATA_DIR or the database). */
  VAPID_PUBLIC_KEY: optionalString,
  VAPID_PRIVATE_KEY: optionalString,
  /** The contact a push service may use (`mailto:` or `https:`). */
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)\S+$/, 'must be a mailto: or https:// URL')
    .default('mailto:admin@banyan.invalid'),
  /** Push endpoints and webhooks on private, loopback or link-local addresses (and plain http) allowed. */
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  /** How long a replica owns claimed notification work before another replica may take it over. */
  NOTIFY_LEASE_MS: int(1000, 3_600_000).default(30_000),
  /** A push or webhook request not answered in this time fails (and is retried). */
  PUSH_TIMEOUT_MS: int(100, 600_000).default(10_000),
  /** How long a webhook delivery is retried (with backoff) before it is marked failed. */
  WEBHOOK_RETRY_S: int(1, 30 * 24 * 3600).default(24 * 3600),
  /** Webhook requests in flight per replica; per community; per endpoint (docs/protocol.md §8). */
  WEBHOOK_CONCURRENCY: int(1, 10_000).default(128),
  WEBHOOK_COMMUNITY_CONCURRENCY: int(1, 10_000).default(16),
  WEBHOOK_ENDPOINT_CONCURRENCY: int(1, 10_000).default(8),
  /** An endpoint that timed out (or failed 5 times in a row) is skipped this long, doubling per failed probe up to 5 min. */
  WEBHOOK_BREAKER_MS: int(100, 300_000).default(5000),
  /** With Redis: a replica's connected users stop counting this long after its last heartbeat. */
  PRESENCE_TTL_MS: int(1000, 600_000).default(15_000),
  /** Presence is shared only through ordinary and direct groups of at most this many members. */
  PRESENCE_MAX_MEMBERS: int(2, 10_000).default(256),
  /** Presence changes of a replica are gathered this long and sent together (the latest per user). */
  PRESENCE_COALESCE_MS: int(10, 60_000).default(1000),
  WORKERS: int(1, 256).default(1),
  /** Where attachment bytes live: unset = files under DATA_DIR/blobs; `file:///path`; `s3://bucket?endpoint=…&region=…`. */
  STORAGE_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^(file|s3):\/\/\S+$/, 'must be a file:// or s3:// URL')
      .optional(),
  ),
  /** One upload's bytes at most (a longer body is refused with 413, mid-stream if need be). */
  MAX_UPLOAD_BYTES: int(1, 1024 * 1024 * 1024).default(25 * 1024 * 1024),
  /** All of one user's stored uploads together. */
  UPLOAD_QUOTA_BYTES: int(1, Number.MAX_SAFE_INTEGER).default(1024 * 1024 * 1024),
  /** Pixels an uploaded image may have, all frames of an animation together (read from its header; over it: 400). */
  IMAGE_MAX_PIXELS: int(1, 1_000_000_000).default(40_000_000),
  /** The same for AVIF, whose decoder costs many times more per pixel. */
  IMAGE_MAX_PIXELS_AVIF: int(1, 1_000_000_000).default(16_000_000),
  /** Seconds one image's processing may take; past it the upload is refused (400). */
  IMAGE_TIMEOUT_S: int(1, 3600).default(20),
  /** Per user: searches (over it: rate_limited). */
  SEARCH_RATE: rate.default({ points: 30, durationS: 10 }),
  /** Per search: messages looked at, newest first, before the page is answered as it stands (with a cursor on). */
  SEARCH_SCAN_ROWS: int(100, 1_000_000).default(2000),
  /** Per user: adds by username (`POST /v1/groups/:id/members {username}`), so nobody can try usernames in bulk. */
  ADD_BY_USERNAME_RATE: rate.default({ points: 60, durationS: 3600 }),
  /**
   * The least time an add answered `invited` takes, so its time tells nothing of whether the user
   * exists, blocked the adder or does not let them add (docs/protocol.md §8); a timer, no CPU. 0: none.
   */
  ADD_ANSWER_FLOOR_MS: int(0, 2000).default(100),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type Config = z.output<typeof envSchema>;
export type ConfigInput = Partial<Record<keyof z.input<typeof envSchema>, string | undefined>>;

/**
 * A setting (or the key material it points at) the server cannot start with: main.ts prints its
 * message as one line and exits non-zero, with no stack, since nothing in the code is at fault.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The one shape of a bad setting: `invalid NAME="value": why`; the value is left out for secrets and keys. */
export const invalidSetting = (name: string, why: string, value?: string) =>
  new ConfigError(`invalid ${name}${value === undefined ? '' : `=${JSON.stringify(value)}`}: ${why}`);

/** Parses settings from an environment-like record; throws ConfigError naming the variable. */
export function loadConfig(env: ConfigInput = process.env as ConfigInput): Config {
  const picked: Record<string, string | undefined> = {};
  // An empty value (`PORT=` in a compose file) means unset: the default, never 0 or an error.
  for (const key of Object.keys(envSchema.shape))
    picked[key] = emptyAsUndefined((env as Record<string, string | undefined>)[key]) as string | undefined;
  const result = envSchema.safeParse(picked);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw invalidSetting(name, issue.message, picked[name] ?? '');
  }
  return result.data;
}
