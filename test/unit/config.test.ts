import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveJwtSecret } from '../../src/platform/auth/secret.js';
import { Tokens } from '../../src/platform/auth/tokens.js';
import { ConfigError, loadConfig, type ConfigInput } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/obs/logger.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      PORT: 8080,
      HOST: '0.0.0.0',
      DATA_DIR: './data',
      DATABASE_URL: undefined,
      EMBEDDED_FSYNC: true,
      DATABASE_POOL_SIZE: 10,
      DATABASE_READ_POOL_SIZE: 4,
      REDIS_URL: undefined,
      REDIS_SHARDED: false,
      JWT_SECRET: undefined,
      JWT_PUBLIC_KEY: undefined,
      JWT_ISSUER: undefined,
      JWT_AUDIENCE: undefined,
      TOKEN_TTL_S: 604800,
      LOCAL_ACCOUNTS: true,
      MAX_FRAME_BYTES: 65536,
      MAX_BODY_BYTES: 65536,
      MAX_TEXT_CHARS: 4096,
      SYNC_LIMIT: 500,
      MAX_REPLY_BYTES: 1024 * 1024,
      MAX_MEMBERS_PER_CALL: 256,
      READ_BUDGET_ROWS_PER_S: 5000,
      READ_BUDGET_BURST_ROWS: 20_000,
      READ_BUDGET_BYTES_PER_S: 1024 * 1024,
      READ_BUDGET_BURST_BYTES: 4 * 1024 * 1024,
      EDIT_WINDOW_S: 900,
      MAX_GROUP_MEMBERS: 1_000_000,
      MAX_COMMUNITY_GROUPS: 10_000,
      AUTH_TIMEOUT_MS: 10_000,
      SLOW_CONSUMER_BYTES: 1024 * 1024,
      RATE_LIMIT_PER_S: 50,
      RATE_LIMIT_BURST: 200,
      SOCKETS_PER_USER: 10,
      SEARCH_SCAN_ROWS: 2000,
      HTTP_RATE_ADDRESS: { points: 1200, durationS: 60 },
      HTTP_RATE_USER: { points: 600, durationS: 60 },
      SIGNIN_RATE_ADDRESS: { points: 30, durationS: 60 },
      SIGNIN_RATE_USERNAME: { points: 10, durationS: 60 },
      SIGNIN_FREE_FAILS: 5,
      SIGNIN_ADDRESS_FREE_FAILS: 50,
      SIGNIN_MAX_DELAY_S: 900,
      SIGNUP_RATE_ADDRESS: { points: 10, durationS: 3600 },
      REACT_RATE: { points: 30, durationS: 10 },
      TYPING_RATE: { points: 10, durationS: 10 },
      REPORT_RATE: { points: 20, durationS: 3600 },
      TRUST_PROXY: 0,
      SCRYPT_LOG_N: 17,
      PASSWORD_LINE_PER_KEY: 4,
      PASSWORD_LINE_MAX: 64,
      DRAIN_TIMEOUT_MS: 10_000,
      DRAIN_NOTICE_MS: 0,
      FEED_CHECK_MS: 5000,
      FEED_LINGER_MS: 30_000,
      METRICS_TOKEN: undefined,
      DEFAULT_GROUP_ADD: 'shared',
      TALLY_INTERVAL_MS: 2000,
      MESSAGE_TTL_ALLOWED: [],
      EXPIRY_SWEEP_MS: 30_000,
      EXPIRY_SWEEP_BATCH: 1000,
      EVENT_REMINDER_S: 3600,
      NOTIFY_ALL_MAX_MEMBERS: 256,
      PUSH_COALESCE_MS: 3000,
      VAPID_PUBLIC_KEY: undefined,
      VAPID_PRIVATE_KEY: undefined,
      VAPID_SUBJECT: 'mailto:admin@banyan.invalid',
      WEBHOOK_ALLOW_PRIVATE: false,
      NOTIFY_LEASE_MS: 30_000,
      PUSH_TIMEOUT_MS: 10_000,
      WEBHOOK_RETRY_S: 86_400,
      WEBHOOK_CONCURRENCY: 128,
      WEBHOOK_COMMUNITY_CONCURRENCY: 16,
      WEBHOOK_ENDPOINT_CONCURRENCY: 8,
      WEBHOOK_BREAKER_MS: 5000,
      PRESENCE_TTL_MS: 15_000,
      PRESENCE_MAX_MEMBERS: 256,
      PRESENCE_COALESCE_MS: 1000,
      WORKERS: 1,
      MAX_UPLOAD_BYTES: 25 * 1024 * 1024,
      UPLOAD_QUOTA_BYTES: 1024 * 1024 * 1024,
      IMAGE_MAX_PIXELS: 40_000_000,
      IMAGE_MAX_PIXELS_AVIF: 16_000_000,
      IMAGE_TIMEOUT_S: 20,
      SEARCH_RATE: { points: 30, durationS: 10 },
      ADD_BY_USERNAME_RATE: { points: 60, durationS: 3600 },
      ADD_ANSWER_FLOOR_MS: 100,
      LOG_LEVEL: 'info',
    });
  });

  it('reads rates as points/seconds and TRUST_PROXY as off, on or a hop count', () => {
    expect(loadConfig({ SIGNIN_RATE_ADDRESS: '5/2', TRUST_PROXY: 'on' })).toMatchObject({
      SIGNIN_RATE_ADDRESS: { points: 5, durationS: 2 },
      TRUST_PROXY: 1,
    });
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'off' }).TRUST_PROXY).toBe(0);
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
      PORT: 0,
      REDIS_SHARDED: true,
      LOCAL_ACCOUNTS: false,
      SYNC_LIMIT: 20,
      LOG_LEVEL: 'silent',
      DATABASE_URL: 'postgres://u:p@db:5432/banyan',
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
