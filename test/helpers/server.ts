import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startApp, type App } from '../../src/platform/app.js';
import { loadConfig, type ConfigInput } from '../../src/platform/config.js';
import { copyPgliteTemplate } from './pglite.js';

export type StorageMode = 'pglite' | 'postgres';

/** PGlite always; real PostgreSQL too when DATABASE_URL is set (CI sets it). */
export const storageModes = (): StorageMode[] => (process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']);

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface TestServer {
  app: App;
  url: string;
  wsUrl: string;
  mode: StorageMode;
  /** Signs up a fresh local account (random username unless given). */
  signUp(name?: string): Promise<TestUser>;
  /** Mints a token directly (an external identity service would). */
  token(sub: string, extra?: { name?: string; scope?: 'server'; ttlSeconds?: number }): Promise<string>;
  http(method: string, path: string, options?: { token?: string; body?: unknown; raw?: string }): Promise<HttpResult>;
  stop(): Promise<void>;
}

export interface TestUser {
  id: string;
  name: string;
  token: string;
}

export interface HttpResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/**
 * Tests sign up and call from one address as fast as they can: HTTP and account limits out of
 * the way (the rate-limit tests set their own), and cheaper password hashes (Argon2id at 1 MiB, scrypt 2^15).
 */
export const generousLimits = {
  HTTP_RATE_ADDRESS: '1000000/1',
  HTTP_RATE_USER: '1000000/1',
  SIGNIN_RATE_ADDRESS: '1000000/1',
  SIGNIN_RATE_USERNAME: '1000000/1',
  SIGNIN_FREE_FAILS: '1000000',
  SIGNIN_ADDRESS_FREE_FAILS: '1000000',
  SIGNUP_RATE_ADDRESS: '1000000/1',
  PASSKEY_RATE_ADDRESS: '1000000/1',
  REFRESH_RATE_ADDRESS: '1000000/1',
  REACT_RATE: '1000000/1',
  TYPING_RATE: '1000000/1',
  // One user's sockets together (issue 35): tests open many sockets per user and send fast.
  USER_RATE_LIMIT_PER_S: '1000000',
  USER_RATE_LIMIT_BURST: '1000000',
  SOCKETS_PER_USER: '1000000',
  // Tests sign up many users at once from one address: the password line's places per address
  // and in all out of the way (the sign-in fairness tests set their own).
  PASSWORD_LINE_PER_KEY: '1000',
  PASSWORD_LINE_MAX: '100000',
  SCRYPT_LOG_N: '15',
  // Argon2id's cheapest memory (the default is OWASP's 19456 KiB, t=2): tests hash many passwords.
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  // Tests written before docs/protocol.md §8 "Privacy and safety" add strangers to groups freely; the privacy tests set
  // `shared` (the protocol's default) themselves.
  DEFAULT_GROUP_ADD: 'everyone',
} as const;

let counter = 0;
export const uniqueName = (prefix = 'user') => `${prefix}${process.pid}x${Date.now().toString(36)}x${counter++}`.toLowerCase();

/** The directory servers given REDIS_URL share, and how many of them are running. */
const sharedBlobs = { dir: '', servers: 0 };
/**
 * Servers given REDIS_URL are replicas of one deployment: they keep files in one directory
 * (so STORAGE_SHARED=on is true), unless the test chose a STORAGE_URL. The last to stop removes it.
 */
function sharedFileStore(env: ConfigInput): { env: ConfigInput; release(): void } {
  if (!env.REDIS_URL || env.STORAGE_URL !== undefined || env.STORAGE_SHARED !== undefined) return { env: {}, release: () => {} };
  if (sharedBlobs.servers++ === 0) sharedBlobs.dir = mkdtempSync(join(tmpdir(), 'banyan-shared-blobs-'));
  return {
    env: { STORAGE_URL: pathToFileURL(sharedBlobs.dir).href, STORAGE_SHARED: 'on' },
    release() {
      if (--sharedBlobs.servers === 0) rmSync(sharedBlobs.dir, { recursive: true, force: true });
    },
  };
}

/** Starts a real gateway on port 0, in this process, on the given storage. */
export async function startServer(options: { mode?: StorageMode; env?: ConfigInput } = {}): Promise<TestServer> {
  const mode = options.mode ?? 'pglite';
  const dataDir = mkdtempSync(join(tmpdir(), 'banyan-test-'));
  if (mode === 'pglite') copyPgliteTemplate(dataDir);
  const files = sharedFileStore(options.env ?? {});
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    DATABASE_URL: mode === 'postgres' ? process.env.DATABASE_URL : '',
    REDIS_URL: '',
    DRAIN_TIMEOUT_MS: '2000',
    ...generousLimits,
    ...files.env,
    ...options.env,
  });
  const app = await startApp(config);
  const url = `http://127.0.0.1:${app.port}`;
  const server: TestServer = {
    app,
    url,
    wsUrl: `ws://127.0.0.1:${app.port}/v1/ws`,
    mode,
    async signUp(name) {
      const username = name ?? uniqueName();
      const r = await server.http('POST', '/v1/accounts', { body: { username, password: 'password-123', name: username } });
      if (r.status !== 201) throw new Error(`sign-up failed: ${r.status} ${JSON.stringify(r.body)}`);
      return { id: r.body.user.id, name: r.body.user.name, token: r.body.token };
    },
    async token(sub, extra = {}) {
      const { token } = await app.tokens.sign({
        userId: sub,
        name: extra.name ?? sub,
        ttlSeconds: extra.ttlSeconds ?? 3600,
        ...(extra.scope ? { scope: extra.scope } : {}),
      });
      return token;
    },
    http: (method, path, opts = {}) => httpRequest(url, method, path, opts),
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
      files.release();
    },
  };
  return server;
}

export async function httpRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(baseUrl + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (metrics): keep the text.
  }
  return { status: res.status, body: parsed };
}

/** Creates a group owned by `owner` with the given members; returns its id. */
export async function createGroup(server: TestServer, owner: TestUser, members: TestUser[] = [], name = 'Group'): Promise<string> {
  const r = await server.http('POST', '/v1/groups', { token: owner.token, body: { name, members: members.map((m) => m.id) } });
  if (r.status !== 201) throw new Error(`create group failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.group.id;
}
