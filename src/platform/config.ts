import { z } from 'zod';

// The only reader of process.env (a unit test checks). Every setting is documented in README.md with its default.

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

/** A share from 0 to 1. */
const ratio = z
  .string()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
  .transform(Number);
/**
 * `name=value,name2=value2` (OTLP's header list; values may be percent-encoded). Never refused,
 * since a refusal would print the value (an API key): a pair without `=` is left out.
 */
const keyValues = z.string().transform((v) =>
  Object.fromEntries(
    v
      .split(',')
      .filter((pair) => pair.indexOf('=') > 0)
      .map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), safeDecode(pair.slice(pair.indexOf('=') + 1).trim())]),
  ),
);
const safeDecode = (v: string) => {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
};

/** One environment variable: its name (README's settings table) and how it parses, default included. */
class Setting<Name extends string = string, Schema extends z.ZodType = z.ZodType> {
  constructor(
    readonly name: Name,
    readonly schema: Schema,
  ) {}
}
const env = <const Name extends string, Schema extends z.ZodType>(name: Name, schema: Schema) => new Setting(name, schema);

interface Section {
  readonly [key: string]: Setting | Section;
}

/**
 * Every setting, placed in the section of the part that uses it; app.ts hands each part its section
 * whole. Order matters only for errors: when several variables are bad, the first here is named.
 */
const settings = {
  server: {
    port: env('PORT', int(0, 65535).default(8080)),
    host: env('HOST', z.string().min(1).default('0.0.0.0')),
    workers: env('WORKERS', int(1, 256).default(1)),
    trustProxy: env('TRUST_PROXY', trustProxy.default(0)),
    maxFrameBytes: env('MAX_FRAME_BYTES', int(1024, 16 * 1024 * 1024).default(65536)),
    maxBodyBytes: env('MAX_BODY_BYTES', int(1024, 16 * 1024 * 1024).default(65536)),
    authTimeoutMs: env('AUTH_TIMEOUT_MS', int(100, 600_000).default(10_000)),
    /** Frames per second, and burst, of one socket. */
    rateLimitPerS: env('RATE_LIMIT_PER_S', int(1, 1_000_000).default(50)),
    rateLimitBurst: env('RATE_LIMIT_BURST', int(1, 1_000_000).default(200)),
    drainTimeoutMs: env('DRAIN_TIMEOUT_MS', int(0, 600_000).default(10_000)),
    /** On SIGTERM, how long /readyz answers 503 before sockets are closed (load balancers notice). */
    drainNoticeMs: env('DRAIN_NOTICE_MS', int(0, 600_000).default(0)),
    /** Bearer token /metrics asks for; unset, /metrics is not served (it is not for clients). */
    metricsToken: env('METRICS_TOKEN', z.preprocess(emptyAsUndefined, z.string().min(16, 'must be at least 16 characters').optional())),
    logLevel: env('LOG_LEVEL', z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info')),
  },
  /** The hub's feeds and sockets (delivery/hub.ts). */
  delivery: {
    /** How often each replica checks its followed groups against storage for events the bus lost. */
    feedCheckMs: env('FEED_CHECK_MS', int(100, 3_600_000).default(5000)),
    /** How long a replica keeps following a group after its last socket of it leaves (0: not at all). */
    feedLingerMs: env('FEED_LINGER_MS', int(0, 600_000).default(30_000)),
    slowConsumerBytes: env('SLOW_CONSUMER_BYTES', int(16 * 1024, 1024 * 1024 * 1024).default(1024 * 1024)),
  },
  storage: {
    dataDir: env('DATA_DIR', z.string().min(1).default('./data')),
    databaseUrl: env('DATABASE_URL', z.preprocess(emptyAsUndefined, z.url().optional())),
    /** Embedded mode: sync every commit to disk before acknowledging it. Off survives a killed process, not an OS crash. */
    embeddedFsync: env('EMBEDDED_FSYNC', bool.default(true)),
    poolSize: env('DATABASE_POOL_SIZE', int(1, 200).default(10)),
    /** Connections of session starts' prepared reads, beside DATABASE_POOL_SIZE (connect.ts, `reads`). */
    readPoolSize: env('DATABASE_READ_POOL_SIZE', int(1, 200).default(4)),
  },
  redis: {
    /** One redis:// URL, or with REDIS_SHARDED a comma-separated list of cluster seed URLs. */
    url: env(
      'REDIS_URL',
      z.preprocess(
        emptyAsUndefined,
        z
          .string()
          .refine(
            (v) => v.split(',').every((u) => /^rediss?:\/\/[^\s]+$/.test(u.trim())),
            'must be redis:// or rediss:// URLs, comma-separated',
          )
          .optional(),
      ),
    ),
    sharded: env('REDIS_SHARDED', bool.default(false)),
  },
  auth: {
    secret: env('JWT_SECRET', z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional())),
    publicKey: env('JWT_PUBLIC_KEY', optionalString),
    issuer: env('JWT_ISSUER', optionalString),
    audience: env('JWT_AUDIENCE', optionalString),
    tokenTtlS: env('TOKEN_TTL_S', int(60, 365 * 24 * 3600).default(7 * 24 * 3600)),
    /** With a refresh token (a sign-in asking `refresh: true`): the access token's lifetime. */
    accessTokenTtlS: env('ACCESS_TOKEN_TTL_S', int(1, 24 * 3600).default(900)),
    /** A refresh token unused this long expires; each use starts it again. */
    refreshIdleTtlS: env('REFRESH_IDLE_TTL_S', int(1, 5 * 365 * 24 * 3600).default(90 * 24 * 3600)),
    /** How long after a rotation the token it replaced still gets the same new pair (a retry after a lost answer). */
    refreshGraceS: env('REFRESH_GRACE_S', int(0, 600).default(30)),
    localAccounts: env('LOCAL_ACCOUNTS', bool.default(true)),
    /** How new password hashes are made: Argon2id, or scrypt (for comparing them, load/sign-in.mjs). */
    passwordHash: env('PASSWORD_HASH', z.enum(['argon2id', 'scrypt']).default('argon2id')),
    /** Argon2id's memory (KiB) and passes: OWASP's m=19456, t=2 (p=1); weaker hashes are rehashed at the next sign-in. */
    argon2MemoryKiB: env('ARGON2_MEMORY_KIB', int(1024, 1_048_576).default(19456)),
    argon2TimeCost: env('ARGON2_TIME_COST', int(1, 20).default(2)),
    /** scrypt cost 2^SCRYPT_LOG_N (r=8, p=1): for PASSWORD_HASH=scrypt; scrypt hashes are rehashed at the next sign-in. */
    scryptLogN: env('SCRYPT_LOG_N', int(14, 20).default(17)),
    /**
     * The web client's address as members open it (`https://chat.example.org`), for the links of
     * `POST /v1/sign-in-links`; unset, those links are relative (`/#/link/<code>`).
     */
    publicUrl: env('PUBLIC_URL', z.preprocess(emptyAsUndefined, z.url().optional())),
  },
  /** Passkeys (docs/protocol.md §2 "Passkeys"), served with LOCAL_ACCOUNTS. */
  webauthn: {
    /** The relying party's id: the domain the web client is served from (never taken from a request's Host). */
    rpId: env('WEBAUTHN_RP_ID', z.string().min(1).default('localhost')),
    /** The name authenticators show beside the account. */
    rpName: env('WEBAUTHN_RP_NAME', z.string().min(1).default('Banyan')),
    /** Origins a passkey answer may come from, comma-separated; unset: `http://localhost:<port listened on>`. */
    origins: env(
      'WEBAUTHN_ORIGINS',
      z.preprocess(
        emptyAsUndefined,
        z
          .string()
          .transform((v) =>
            v
              .split(',')
              .map((o) => o.trim())
              .filter(Boolean),
          )
          .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be origins like https://chat.example.org, comma-separated')).min(1))
          .optional(),
      ),
    ),
  },
  /** What one request may carry (the wire schemas of protocol/). */
  protocol: {
    maxTextChars: env('MAX_TEXT_CHARS', int(1, 65536).default(4096)),
    /** Members one request may add; more go through further calls (or a community invite). */
    maxMembersPerCall: env('MAX_MEMBERS_PER_CALL', int(1, 100_000).default(256)),
  },
  /** Rate limits against abuse (gateway/rate-limits.ts). */
  limits: {
    /** Frames per second, and burst, of one user's sockets together, and how many sockets one user may hold open on one replica. */
    user: {
      /** Unset: RATE_LIMIT_PER_S and RATE_LIMIT_BURST. */
      perS: env('USER_RATE_LIMIT_PER_S', z.preprocess(emptyAsUndefined, int(1, 1_000_000).optional())),
      burst: env('USER_RATE_LIMIT_BURST', z.preprocess(emptyAsUndefined, int(1, 1_000_000).optional())),
      maxSockets: env('SOCKETS_PER_USER', int(1, 1_000_000).default(10)),
    },
    /**
     * `/v1` requests: per client address those without a valid token (and token-less WebSocket
     * upgrades); per user the rest; and every request of an address together, a backstop sized
     * for thousands of members behind one address (README explains the numbers).
     */
    httpAddress: env('HTTP_RATE_ADDRESS', rate.default({ points: 6000, durationS: 60 })),
    httpUser: env('HTTP_RATE_USER', rate.default({ points: 600, durationS: 60 })),
    httpAddressAll: env('HTTP_RATE_ADDRESS_ALL', rate.default({ points: 60_000, durationS: 60 })),
    signIn: {
      /** Sign-in attempts per address and per username, whatever their outcome. */
      address: env('SIGNIN_RATE_ADDRESS', rate.default({ points: 300, durationS: 60 })),
      username: env('SIGNIN_RATE_USERNAME', rate.default({ points: 10, durationS: 60 })),
      /** Failures of one username from one address (in a row) and of one address (in a day) before delays start. */
      freeFails: env('SIGNIN_FREE_FAILS', int(1, 1_000_000).default(5)),
      addressFreeFails: env('SIGNIN_ADDRESS_FREE_FAILS', int(1, 1_000_000).default(500)),
      /** The delay after a failure past the free ones doubles from 1 s up to this. */
      maxDelayS: env('SIGNIN_MAX_DELAY_S', int(1, 24 * 3600).default(900)),
    },
    /**
     * Phone one-time codes (docs/protocol.md §2 "Phone numbers and one-time codes"), counted the
     * same whether or not the number has an account: codes sent per number (and the wait before a
     * resend), per address; code checks per number and per address.
     */
    phone: {
      resendS: env('PHONE_CODE_RESEND_S', int(1, 3600).default(60)),
      codesPerNumber: env('PHONE_CODE_RATE_NUMBER', rate.default({ points: 5, durationS: 3600 })),
      codesPerNumberDay: env('PHONE_CODE_RATE_NUMBER_DAY', rate.default({ points: 10, durationS: 24 * 3600 })),
      codesPerAddress: env('PHONE_CODE_RATE_ADDRESS', rate.default({ points: 20, durationS: 3600 })),
      checksPerNumber: env('PHONE_CHECK_RATE_NUMBER', rate.default({ points: 20, durationS: 3600 })),
      checksPerAddress: env('PHONE_CHECK_RATE_ADDRESS', rate.default({ points: 100, durationS: 3600 })),
    },
    /** Sign-ups per address; one through an invite with a use limit counts against the invite instead. */
    signUp: env('SIGNUP_RATE_ADDRESS', rate.default({ points: 60, durationS: 3600 })),
    /** Passkey sign-in and sign-up requests (options and answers) per address (docs/protocol.md §2 "Passkeys"). */
    passkey: env('PASSKEY_RATE_ADDRESS', rate.default({ points: 60, durationS: 60 })),
    /** Refresh-token uses per address (`POST /v1/sessions/refresh`), whatever their outcome. */
    refresh: env('REFRESH_RATE_ADDRESS', rate.default({ points: 600, durationS: 60 })),
    /** Password checks (sign-in, sign-up, password change) one address or account may have waiting or running, and all waiting. */
    passwordLine: {
      perKey: env('PASSWORD_LINE_PER_KEY', int(1, 1000).default(4)),
      maxWaiting: env('PASSWORD_LINE_MAX', int(1, 100_000).default(64)),
    },
    /** Per user per group, over the socket: reactions (over it: rate_limited) and typing (over it: dropped). */
    react: env('REACT_RATE', rate.default({ points: 30, durationS: 10 })),
    typing: env('TYPING_RATE', rate.default({ points: 10, durationS: 10 })),
    /** Reports each user may file (counted across replicas when REDIS_URL is set). */
    report: env('REPORT_RATE', rate.default({ points: 20, durationS: 3600 })),
    /** Per user: searches (over it: rate_limited). */
    search: env('SEARCH_RATE', rate.default({ points: 30, durationS: 10 })),
    /** Per user: adds by username (`POST /v1/groups/:id/members {username}`), so nobody can try usernames in bulk. */
    addByUsername: env('ADD_BY_USERNAME_RATE', rate.default({ points: 60, durationS: 3600 })),
  },
  messages: {
    syncLimit: env('SYNC_LIMIT', int(1, 10000).default(500)),
    /** Bytes of events in one sync or history answer (at least one event always goes). */
    maxReplyBytes: env('MAX_REPLY_BYTES', int(4096, 64 * 1024 * 1024).default(1024 * 1024)),
    /** Each user's rows read by sync and history, per second and in a burst (per replica). */
    readBudget: {
      rowsPerS: env('READ_BUDGET_ROWS_PER_S', int(1, 10_000_000).default(5000)),
      burstRows: env('READ_BUDGET_BURST_ROWS', int(1, 100_000_000).default(20_000)),
      bytesPerS: env('READ_BUDGET_BYTES_PER_S', int(1024, 1024 * 1024 * 1024).default(1024 * 1024)),
      burstBytes: env('READ_BUDGET_BURST_BYTES', int(1024, 16 * 1024 * 1024 * 1024).default(4 * 1024 * 1024)),
    },
    editWindowS: env('EDIT_WINDOW_S', int(0, 365 * 24 * 3600).default(900)),
    /** At most one reaction tally per message of an announcement group per this many ms. */
    tallyIntervalMs: env('TALLY_INTERVAL_MS', int(100, 3_600_000).default(2000)),
    /** messageTtlS values allowed besides the protocol's (86400, 604800, 7776000): e.g. `2` for tests. */
    extraTtls: env(
      'MESSAGE_TTL_ALLOWED',
      z
        .string()
        .regex(/^(\d{1,9}(,\d{1,9})*)?$/, 'must be a comma-separated list of seconds')
        .transform((v) => (v === '' ? [] : v.split(',').map(Number)))
        .refine((list) => list.every((n) => n >= 1), 'each value must be at least 1 second')
        .default([]),
    ),
    /** How often each replica looks for expired messages to erase (any number of replicas may). */
    expirySweepMs: env('EXPIRY_SWEEP_MS', int(100, 3_600_000).default(30_000)),
    /** Expired messages one replica erases per sweep at most; the rest wait for the next. */
    expirySweepBatch: env('EXPIRY_SWEEP_BATCH', int(1, 100_000).default(1000)),
  },
  groups: {
    maxMembers: env('MAX_GROUP_MEMBERS', int(2, 10_000_000).default(1_000_000)),
    /**
     * The least time an add answered `invited` takes, so its time tells nothing of whether the user
     * exists, blocked the adder or does not let them add (docs/protocol.md §8); a timer, no CPU. 0: none.
     */
    addAnswerFloorMs: env('ADD_ANSWER_FLOOR_MS', int(0, 2000).default(100)),
  },
  communities: {
    maxGroups: env('MAX_COMMUNITY_GROUPS', int(1, 100_000).default(10_000)),
  },
  privacy: {
    /** Who may add a user who never chose (`privacy.groupAdd`): everyone, shared (docs/protocol.md §8 "Privacy and safety") or nobody. */
    defaultGroupAdd: env('DEFAULT_GROUP_ADD', z.enum(['everyone', 'shared', 'nobody']).default('shared')),
  },
  events: {
    /** Members who answered going or maybe to an event get a reminder this many seconds before it starts. */
    reminderS: env('EVENT_REMINDER_S', int(1, 30 * 24 * 3600).default(3600)),
  },
  notifications: {
    /** Groups up to this many members notify `all` by default, larger ones `mentions` (docs/protocol.md §8 "Notifications"). */
    allMaxMembers: env('NOTIFY_ALL_MAX_MEMBERS', int(0, 10_000_000).default(256)),
    /** At most one push per user per group in this window; later messages collapse into the next. */
    coalesceMs: env('PUSH_COALESCE_MS', int(0, 3_600_000).default(3000)),
    /** How long a replica owns claimed notification work before another replica may take it over. */
    leaseMs: env('NOTIFY_LEASE_MS', int(1000, 3_600_000).default(30_000)),
    /** VAPID key pair (RFC 8292, base64url); unset, one is generated (DATA_DIR or the database). */
    vapid: {
      publicKey: env('VAPID_PUBLIC_KEY', optionalString),
      privateKey: env('VAPID_PRIVATE_KEY', optionalString),
      /** The contact a push service may use (`mailto:` or `https:`). */
      subject: env(
        'VAPID_SUBJECT',
        z
          .string()
          .regex(/^(mailto:|https:\/\/)\S+$/, 'must be a mailto: or https:// URL')
          .default('mailto:admin@banyan.invalid'),
      ),
    },
  },
  /** Requests to push services and webhook endpoints. */
  outbound: {
    /** Push endpoints and webhooks on private, loopback or link-local addresses (and plain http) allowed. */
    allowPrivate: env('WEBHOOK_ALLOW_PRIVATE', bool.default(false)),
    /** A push or webhook request not answered in this time fails (and is retried). */
    timeoutMs: env('PUSH_TIMEOUT_MS', int(100, 600_000).default(10_000)),
    /** An endpoint that timed out (or failed 5 times in a row) is skipped this long, doubling per failed probe up to 5 min. */
    breakerMs: env('WEBHOOK_BREAKER_MS', int(100, 300_000).default(5000)),
  },
  webhooks: {
    /** How long a webhook delivery is retried (with backoff) before it is marked failed. */
    retryS: env('WEBHOOK_RETRY_S', int(1, 30 * 24 * 3600).default(24 * 3600)),
    /** Webhook requests in flight per replica; per community; per endpoint (docs/protocol.md §8). */
    concurrency: {
      total: env('WEBHOOK_CONCURRENCY', int(1, 10_000).default(128)),
      perCommunity: env('WEBHOOK_COMMUNITY_CONCURRENCY', int(1, 10_000).default(16)),
      perEndpoint: env('WEBHOOK_ENDPOINT_CONCURRENCY', int(1, 10_000).default(8)),
    },
  },
  presence: {
    /** With Redis: a replica's connected users stop counting this long after its last heartbeat. */
    ttlMs: env('PRESENCE_TTL_MS', int(1000, 600_000).default(15_000)),
    /** Presence is shared only through ordinary and direct groups of at most this many members. */
    maxMembers: env('PRESENCE_MAX_MEMBERS', int(2, 10_000).default(256)),
    /** Presence changes of a replica are gathered this long and sent together (the latest per user). */
    coalesceMs: env('PRESENCE_COALESCE_MS', int(10, 60_000).default(1000)),
  },
  files: {
    /** Where attachment bytes live: unset = files under DATA_DIR/blobs; `file:///path`; `s3://bucket?endpoint=…&region=…`. */
    storageUrl: env(
      'STORAGE_URL',
      z.preprocess(
        emptyAsUndefined,
        z
          .string()
          .regex(/^(file|s3):\/\/\S+$/, 'must be a file:// or s3:// URL')
          .optional(),
      ),
    ),
    /**
     * Local file storage (unset or file://) is shared by every replica (NFS): lets REDIS_URL (several
     * replicas) start with it. WORKERS on one machine share DATA_DIR without it.
     */
    storageShared: env('STORAGE_SHARED', bool.default(false)),
    /** One upload's bytes at most (a longer body is refused with 413, mid-stream if need be). */
    maxUploadBytes: env('MAX_UPLOAD_BYTES', int(1, 1024 * 1024 * 1024).default(25 * 1024 * 1024)),
    /** All of one user's stored uploads together. */
    quotaBytes: env('UPLOAD_QUOTA_BYTES', int(1, Number.MAX_SAFE_INTEGER).default(1024 * 1024 * 1024)),
    images: {
      /** Pixels an uploaded image may have, all frames of an animation together (read from its header; over it: 400). */
      maxPixels: env('IMAGE_MAX_PIXELS', int(1, 1_000_000_000).default(40_000_000)),
      /** The same for AVIF, whose decoder costs many times more per pixel. */
      maxPixelsAvif: env('IMAGE_MAX_PIXELS_AVIF', int(1, 1_000_000_000).default(16_000_000)),
      /** Seconds one image's processing may take; past it the upload is refused (400). */
      timeoutS: env('IMAGE_TIMEOUT_S', int(1, 3600).default(20)),
    },
  },
  /** Optional OpenTelemetry tracing (platform/obs/tracing.ts): off, and its SDK not loaded, unless an endpoint is set. */
  tracing: {
    /** An OTLP/HTTP collector's base URL (spans go to `<url>/v1/traces` as JSON); set, tracing is on. */
    endpoint: env('OTEL_EXPORTER_OTLP_ENDPOINT', z.preprocess(emptyAsUndefined, z.url().optional())),
    serviceName: env('OTEL_SERVICE_NAME', z.string().min(1).default('banyan')),
    /** The share of traces started here that are kept (a trace begun elsewhere follows its parent's choice). */
    sampleRatio: env('OTEL_TRACES_SAMPLER_ARG', ratio.default(1)),
    /** Headers of every export, `name=value,name2=value2` (a collector's API key). */
    headers: env('OTEL_EXPORTER_OTLP_HEADERS', keyValues.default({})),
  },
  /** Phone sign-in (docs/protocol.md §2 "Phone numbers and one-time codes"). */
  phone: {
    /** The region of a number typed without +country code (ISO 3166 alpha-2). */
    defaultRegion: env(
      'PHONE_DEFAULT_REGION',
      z
        .string()
        .regex(/^[A-Z]{2}$/, 'must be a two-letter region code, e.g. IN')
        .default('IN'),
    ),
    /**
     * How codes go out: `console` (logged, for development), `webhook` (a signed POST to the
     * operator's SMS or WhatsApp gateway) or `off` (no phone sign-in). Unset: `console` with
     * embedded storage, `off` with DATABASE_URL (a production server never logs codes unless told to).
     */
    sender: env('OTP_SENDER', z.preprocess(emptyAsUndefined, z.enum(['console', 'webhook', 'off']).optional())),
    webhookUrl: env('OTP_WEBHOOK_URL', z.preprocess(emptyAsUndefined, z.url().optional())),
    /** Standard Webhooks' `whsec_…` secret the webhook sender signs with (checked at start, never printed). */
    webhookSecret: env('OTP_WEBHOOK_SECRET', optionalString),
  },
  search: {
    /** Per search: messages looked at, newest first, before the page is answered as it stands (with a cursor on). */
    scanRows: env('SEARCH_SCAN_ROWS', int(100, 1_000_000).default(2000)),
  },
  myData: {
    /** How long a member's data export waits to be downloaded before it is deleted (docs/protocol.md §2). */
    exportTtlS: env('EXPORT_TTL_S', int(1, 90 * 24 * 3600).default(7 * 24 * 3600)),
    /** Exports each member may ask for: `points/seconds` (one a day by default). */
    exportRate: env('EXPORT_RATE', rate.default({ points: 1, durationS: 86400 })),
  },
} satisfies Section;

/** The settings' values, in the sections above. */
type Parsed<T> = { readonly [K in keyof T]: T[K] extends Setting<string, infer Schema> ? z.output<Schema> : Parsed<T[K]> };
type NamesIn<T> = { [K in keyof T]: T[K] extends Setting<infer Name> ? Name : NamesIn<T[K]> }[keyof T];

/** The server's configuration: one section per part (Config['server'], Config['messages'], …). */
export interface Config extends Parsed<typeof settings> {}
/** The environment variables Config is read from, as strings. */
export type SettingName = NamesIn<typeof settings>;
export type ConfigInput = Partial<Record<SettingName, string | undefined>>;

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

/**
 * Parses settings from an environment-like record (the process's by default), `overrides` (the
 * command line's) over it; throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: ConfigInput = process.env as ConfigInput, overrides: ConfigInput = {}): Config {
  const values: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) values[name] = value;
  return parseSection(settings, values) as Config;
}

function parseSection(section: Section, env: Record<string, string | undefined>): Record<string, unknown> {
  const parsed: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(section)) {
    if (!(entry instanceof Setting)) {
      parsed[key] = parseSection(entry, env);
      continue;
    }
    // An empty value (`PORT=` in a compose file) means unset: the default, never 0 or an error.
    const raw = emptyAsUndefined(env[entry.name]) as string | undefined;
    const result = entry.schema.safeParse(raw);
    if (!result.success) throw invalidSetting(entry.name, result.error.issues[0]!.message, raw ?? '');
    parsed[key] = result.data;
  }
  return parsed;
}

/** Every environment variable read, in order (README's settings table lists each). */
export function settingNames(section: Section = settings): SettingName[] {
  return Object.values(section).flatMap((entry) => (entry instanceof Setting ? [entry.name as SettingName] : settingNames(entry)));
}
