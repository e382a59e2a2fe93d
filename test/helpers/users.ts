import { randomBytes } from 'node:crypto';
import type { TestServer, TestUser } from './server.js';

/**
 * A user with a minted token (as an external identity service would issue), created on the server
 * by a first authenticated request. Much cheaper than signUp(), which hashes a password.
 */
export async function tokenUser(server: TestServer, label = 'u', extra: { ttlSeconds?: number } = {}): Promise<TestUser> {
  const id = `${label}-${randomBytes(6).toString('hex')}`;
  const token = await server.token(id, { name: label, ...extra });
  const me = await server.http('GET', '/v1/me', { token });
  if (me.status !== 200) throw new Error(`GET /v1/me failed: ${me.status} ${JSON.stringify(me.body)}`);
  return { id, name: label, token };
}

export async function tokenUsers(server: TestServer, count: number, label = 'u'): Promise<TestUser[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => tokenUser(server, `${label}${i}`)));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The integers from..to inclusive: the seqs a gapless stream must show. */
export const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
