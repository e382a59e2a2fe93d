import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveJwtSecret } from '../../src/platform/auth/secret.js';
import { Tokens } from '../../src/platform/auth/tokens.js';
import { ConfigError, loadConfig, settingNames, type ConfigInput } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/obs/logger.js';

describe('loadConfig', () => {
  it('has the documented defaults, in one section per part', () => {
    expect(loadConfig({})).toEqual({
      server: {
        port: 8080,
        host: '0.0.0.0',
        workers: 1,
        trustProxy: 0,
        maxFrameBytes: 65536,
        maxBodyBytes: 65536,
        authTimeoutMs: 10_000,
        rateLimitPerS: 50,
        rateLimitBurst: 200,
        drainTimeoutMs: 10_000,
        drainNoticeMs: 0,
        metricsToken: undefined,
        logLevel: 'info',
      },
      delivery: { feedCheckMs: 5000, feedLingerMs: 30_000, slowConsumerBytes: 1024 * 1024 },
      storage: { dataDir: './data', databaseUrl: undefined, embeddedFsync: true, poolSize: 10, readPoolSize: 4 },
      redis: { url: undefined, sharded: false },
      auth: {
        secret: undefined,
        publicKey: undefined,
        issuer: undefined,
        audience: undefined,
        tokenTtlS: 604800,
        accessTokenTtlS: 900,
        refreshIdleTtlS: 7776000,
        refreshGraceS: 30,
        localAccounts: true,
        passwordHash: 'argon2id',
        argon2MemoryKiB: 19456,
        argon2TimeCost: 2,
        scryptLogN: 17,
        publicUrl: undefined,
      },
      webauthn: { rpId: 'localhost', rpName: 'Banyan', origins: undefined },
      protocol: { maxTextChars: 4096, maxMembersPerCall: 256 },
      limits: {
        user: { perS: undefined, burst: undefined, maxSockets: 10 },
        httpAddress: { points: 6000, durationS: 60 },
        httpUser: { points: 600, durationS: 60 },
        httpAddressAll: { points: 60_000, durationS: 60 },
        signIn: {
          address: { points: 300, durationS: 60 },
          username: { points: 10, durationS: 60 },
          freeFails: 5,
          addressFreeFails: 500,
          maxDelayS: 900,
        },
        phone: {
          resendS: 60,
          codesPerNumber: { points: 5, durationS: 3600 },
          codesPerNumberDay: { points: 10, durationS: 86400 },
          codesPerAddress: { points: 20, durationS: 3600 },
          checksPerNumber: { points: 20, durationS: 3600 },
          checksPerAddress: { points: 100, durationS: 3600 },
        },
        signUp: { points: 60, durationS: 3600 },
        passkey: { points: 60, durationS: 60 },
        refresh: { points: 600, durationS: 60 },
        passwordLine: { perKey: 4, maxWaiting: 64 },
        react: { points: 30, durationS: 10 },
        typing: { points: 10, durationS: 10 },
        report: { points: 20, durationS: 3600 },
        search: { points: 30, durationS: 10 },
        addByUsername: { points: 60, durationS: 3600 },
      },
      messages: {
        syncLimit: 500,
        maxReplyBytes: 1024 * 1024,
        readBudget: { rowsPerS: 5000, burstRows: 20_000, bytesPerS: 1024 * 1024, burstBytes: 4 * 1024 * 1024 },
        editWindowS: 900,
        tallyIntervalMs: 2000,
        extraTtls: [],
        expirySweepMs: 30_000,
        expirySweepBatch: 1000,
      },
      groups: { maxMembers: 1_000_000, addAnswerFloorMs: 100 },
      communities: { maxGroups: 10_000 },
      privacy: { defaultGroupAdd: 'shared' },
      events: { reminderS: 3600 },
      myData: { exportTtlS: 604_800, exportRate: { points: 1, durationS: 86_400 } },
      notifications: {
        allMaxMembers: 256,
        coalesceMs: 3000,
        leaseMs: 30_000,
        vapid: { publicKey: undefined, privateKey: undefined, subject: 'mailto:admin@banyan.invalid' },
      },
      outbound: { allowPrivate: false, timeoutMs: 10_000, breakerMs: 5000 },
      webhooks: { retryS: 86_400, concurrency: { total: 128, perCommunity: 16, perEndpoint: 8 } },
      presence: { ttlMs: 15_000, maxMembers: 256, coalesceMs: 1000 },
      files: {
        storageUrl: undefined,
        storageShared: false,
        maxUploadBytes: 25 * 1024 * 1024,
        quotaBytes: 1024 * 1024 * 1024,
        images: { maxPixels: 40_000_000, maxPixelsAvif: 16_000_000, timeoutS: 20 },
      },
      phone: { defaultRegion: 'IN', sender: undefined, webhookUrl: undefined, webhookSecret: undefined },
      tracing: { endpoint: undefined, serviceName: 'banyan', sampleRatio: 1, headers: {} },
      search: { scanRows: 2000 },
    });
  });

  it('reads each variable into its section', () => {
    const c = loadConfig({
      USER_RATE_LIMIT_PER_S: '7',
      SIGNIN_MAX_DELAY_S: '60',
      PASSWORD_LINE_MAX: '9',
      READ_BUDGET_BURST_BYTES: '2048',
      MESSAGE_TTL_ALLOWED: '2,3',
      WEBHOOK_ENDPOINT_CONCURRENCY: '3',
      IMAGE_TIMEOUT_S: '5',
      VAPID_SUBJECT: 'https://example.org',
    });
    expect(c.limits.user.perS).toBe(7);
    expect(c.limits.signIn.maxDelayS).toBe(60);
    expect(c.limits.passwordLine.maxWaiting).toBe(9);
    expect(c.messages.readBudget.burstBytes).toBe(2048);
    expect(c.messages.extraTtls).toEqual([2, 3]);
    expect(c.webhooks.concurrency.perEndpoint).toBe(3);
    expect(c.files.images.timeoutS).toBe(5);
    expect(c.notifications.vapid.subject).toBe('https://example.org');
  });

  it('lets the command line override the environment, and an unset override leaves it', () => {
    expect(loadConfig({ WORKERS: '4' }, { WORKERS: '2' }).server.workers).toBe(2);
    expect(loadConfig({ WORKERS: '4' }, { WORKERS: undefined }).server.workers).toBe(4);
    expect(() => loadConfig({}, { WORKERS: '0' })).toThrow(/^invalid WORKERS="0"/);
  });

  it("names every variable of README's settings table exactly once", () => {
    const names = settingNames();
    expect(new Set(names).size).toBe(names.length);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(names.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('reads WEBAUTHN_ORIGINS as a comma-separated list of origins', () => {
    expect(loadConfig({ WEBAUTHN_ORIGINS: 'https://chat.example.org, http://localhost:8080' }).webauthn.origins).toEqual([
      'https://chat.example.org',
      'http://localhost:8080',
    ]);
    expect(() => loadConfig({ WEBAUTHN_ORIGINS: 'https://chat.example.org/path' })).toThrow(/WEBAUTHN_ORIGINS/);
    expect(() => loadConfig({ WEBAUTHN_ORIGINS: 'chat.example.org' })).toThrow(/WEBAUTHN_ORIGINS/);
  });

  it('reads rates as points/seconds and TRUST_PROXY as off, on or a hop count', () => {
    expect(loadConfig({ SIGNIN_RATE_ADDRESS: '5/2', TRUST_PROXY: 'on' })).toMatchObject({
      limits: { signIn: { address: { points: 5, durationS: 2 } } },
      server: { trustProxy: 1 },
    });
    expect(loadConfig({ TRUST_PROXY: '2' }).server.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'off' }).server.trustProxy).toBe(0);
    for (const bad of ['5', '5/0', '0/5', '5/x', ' 5/5']) expect(() => loadConfig({ REACT_RATE: bad })).toThrow(/REACT_RATE/);
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
  });

  it('reads values, coercing numbers and booleans', () => {
    const c = loadConfig({
      PORT: '0',
      DATABASE_URL: 'postgres://u:p@db:5432/banyan',
      REDIS_URL: 'redis://cache:6379',
      REDIS_SHARDED: 'yes',
      LOCAL_ACCOUNTS: 'off',
      JWT_SECRET: 's'.repeat(32),
      SYNC_LIMIT: '20',
      LOG_LEVEL: 'silent',
    });
    expect(c).toMatchObject({
      server: { port: 0, logLevel: 'silent' },
      redis: { url: 'redis://cache:6379', sharded: true },
      auth: { localAccounts: false, secret: 's'.repeat(32) },
      messages: { syncLimit: 20 },
      storage: { databaseUrl: 'postgres://u:p@db:5432/banyan' },
    });
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ ...({ HOME: '/root', PORTS: 'x' } as ConfigInput) })).not.toThrow();
  });

  it('treats an empty value as unset (the default), for numbers too', () => {
    const c = loadConfig({
      PORT: '',
      HOST: '',
      DATABASE_URL: '',
      JWT_SECRET: '',
      SYNC_LIMIT: '',
      EDIT_WINDOW_S: '',
      LOCAL_ACCOUNTS: '',
      LOG_LEVEL: '',
    });
    expect(c).toEqual(loadConfig({}));
  });

  const bad: [keyof ConfigInput, string][] = [
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '0x50'],
    ['PORT', '8e3'],
    ['PORT', ' 80'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_READ_POOL_SIZE', '0'],
    ['DATABASE_POOL_SIZE', '0'],
    ['REDIS_URL', 'nope'],
    ['REDIS_SHARDED', 'maybe'],
    ['JWT_SECRET', 'too-short'],
    ['TOKEN_TTL_S', '59'],
    ['LOCAL_ACCOUNTS', 'TRUE!'],
    ['MAX_FRAME_BYTES', '1023'],
    ['MAX_BODY_BYTES', 'big'],
    ['MAX_TEXT_CHARS', '0'],
    ['SYNC_LIMIT', '10001'],
    ['MAX_REPLY_BYTES', '4095'],
    ['MAX_MEMBERS_PER_CALL', '0'],
    ['READ_BUDGET_ROWS_PER_S', '0'],
    ['READ_BUDGET_BURST_ROWS', '1.5'],
    ['EDIT_WINDOW_S', '-5'],
    ['MAX_GROUP_MEMBERS', '1'],
    ['MAX_COMMUNITY_GROUPS', '0'],
    ['AUTH_TIMEOUT_MS', '99'],
    ['SLOW_CONSUMER_BYTES', '1'],
    ['RATE_LIMIT_PER_S', '0'],
    ['RATE_LIMIT_BURST', 'x'],
    ['DRAIN_TIMEOUT_MS', '600001'],
    ['DEFAULT_GROUP_ADD', 'friends'],
    ['TALLY_INTERVAL_MS', '99'],
    ['EVENT_REMINDER_S', '0'],
    ['WORKERS', '0'],
    ['LOG_LEVEL', 'verbose'],
  ];
  it.each(bad)('throws ConfigError naming %s for %j', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      new RegExp(`^invalid ${name}=${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `),
    );
  });

  it('names the first bad variable when several are bad', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/^invalid PORT="x"/);
  });
});

describe('key material', () => {
  const configError = (name: string) =>
    expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(new RegExp(`^invalid ${name}[=:]`)) });

  it.each([
    ['not a key', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'],
    ['broken JSON', '{"kty":'],
    ['not a JWK', '{"keys": 3}'],
    ['not a URL', 'https://'],
  ])('a JWT_PUBLIC_KEY that does not parse (%s) is a ConfigError naming it', (_what, publicKey) => {
    let error: unknown;
    try {
      new Tokens({ publicKey });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toEqual(configError('JWT_PUBLIC_KEY'));
  });

  it('no key at all, or signing without a secret, is a ConfigError', async () => {
    expect(() => new Tokens({})).toThrow(ConfigError);
    const { publicKey } = generateKeyPairSync('ed25519');
    const verifyOnly = new Tokens({ publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() });
    await expect(verifyOnly.sign({ userId: 'u', name: 'u', ttlSeconds: 60 })).rejects.toEqual(configError('JWT_SECRET'));
  });

  it('PostgreSQL without JWT_SECRET is a ConfigError naming it', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://localhost/x', DATA_DIR: mkdtempSync(join(tmpdir(), 'banyan-config-')) });
    await expect(resolveJwtSecret(config, createLogger('silent'))).rejects.toEqual(configError('JWT_SECRET'));
  });
});
