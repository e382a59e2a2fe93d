/**
 * Frames delivered per community join (docs/protocol.md §8 "Privacy and safety": O(admins), not O(members)).
 *
 *   npx tsx load/join-fanout.ts [--members 2000] [--joins 20]
 *
 * Starts the server in this process (embedded PGlite in a temporary DATA_DIR, or DATABASE_URL),
 * creates a community, lets `members` users join it by invite link through the HTTP API, connects
 * one socket per member and one for the owner (the only admin), then lets `joins` more users join
 * and counts every frame those sockets receive meanwhile. Uses only v1 endpoints, so the same
 * file measures a build from before the private roster too. Bounded: a fixed number of requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startApp } from '../src/platform/app.js';
import { loadConfig } from '../src/platform/config.js';

const { values: args } = parseArgs({
  options: { members: { type: 'string', default: '2000' }, joins: { type: 'string', default: '20' } },
});
const MEMBERS = Number(args.members);
const JOINS = Number(args.joins);

const dataDir = mkdtempSync(join(tmpdir(), 'banyan-fanout-'));
const app = await startApp(
  loadConfig({
    ...(process.env as Record<string, string>),
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JWT_SECRET: 'join-fanout-secret-that-is-long-enough-0123',
    LOG_LEVEL: 'error',
    EMBEDDED_FSYNC: 'off',
    // One process: its DATA_DIR is the only one, even with REDIS_URL set.
    STORAGE_SHARED: 'on',
    HTTP_RATE_ADDRESS: '1000000/1',
    HTTP_RATE_ADDRESS_ALL: '1000000/1',
    HTTP_RATE_USER: '1000000/1',
  }),
);
const base = `http://127.0.0.1:${app.port}`;
const token = async (id: string) => (await app.tokens.sign({ userId: id, name: id, ttlSeconds: 3600 })).token;
async function http(method: string, path: string, tok: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

let framesReceived = 0;
const sockets: WebSocket[] = [];
function connect(tok: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${app.port}/v1/ws`, { headers: { authorization: `Bearer ${tok}` } });
    ws.on('message', () => framesReceived++);
    ws.once('message', () => resolve());
    ws.once('error', reject);
    sockets.push(ws);
  });
}

const run = Date.now().toString(36);
const owner = await token(`owner_${run}`);
const community = (await http('POST', '/v1/communities', owner, { name: 'Fan-out' })).community;
const { code } = await http('POST', `/v1/communities/${community.id}/invites`, owner, {});
const started = performance.now();
const memberTokens: string[] = [];
for (let i = 0; i < MEMBERS; i += 50) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(50, MEMBERS - i) }, async (_, k) => {
      const tok = await token(`m_${run}_${i + k}`);
      await http('POST', `/v1/invites/${code}/join`, tok);
      return tok;
    }),
  );
  memberTokens.push(...batch);
}
const seeded = performance.now() - started;
await connect(owner);
for (let i = 0; i < memberTokens.length; i += 100) await Promise.all(memberTokens.slice(i, i + 100).map(connect));
await new Promise((r) => setTimeout(r, 500));

framesReceived = 0;
for (let j = 0; j < JOINS; j++) await http('POST', `/v1/invites/${code}/join`, await token(`late_${run}_${j}`));
await new Promise((r) => setTimeout(r, 1500));
const frames = framesReceived;

console.log(
  JSON.stringify({
    storage: app.storage.kind,
    members: MEMBERS + 1,
    sockets: sockets.length,
    joins: JOINS,
    framesReceived: frames,
    framesPerJoin: frames / JOINS,
    seedS: Math.round(seeded / 100) / 10,
  }),
);
for (const ws of sockets) ws.terminate();
await app.stop();
rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
