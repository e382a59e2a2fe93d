/**
 * Seeds one large community and measures it against the real server.
 *
 *   DATABASE_URL=postgres://… npm run seed:community [-- --groups 100 --members 20000 --sockets 200]
 *
 * Seeding: the community and its groups are created through the HTTP API (so the announcement
 * group, roles and logs are made by the product's own code); the bulk membership rows (users,
 * announcement-group members, group members, member counts) are inserted straight into
 * PostgreSQL with multi-row inserts, bypassing the per-join `member` events, which would only
 * lengthen the logs. Then, with the server running in this process on 127.0.0.1:
 *   - member pages (first / middle / last) of GET /v1/communities/:id/members, timed;
 *   - announcements (POST …/announcements), time to ack, and the log grows by exactly one event
 *     each, delivered to the connected member sockets;
 *   - index use on the members table during the announcements (pg_stat_user_tables);
 *   - EXPLAIN ANALYZE of the hot queries.
 * Everything is bounded: one community, a fixed number of requests and sockets.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import WebSocket from 'ws';
import { startApp } from '../src/platform/app.js';
import { loadConfig } from '../src/platform/config.js';

const { values: args } = parseArgs({
  options: {
    groups: { type: 'string', default: '100' },
    members: { type: 'string', default: '20000' },
    sockets: { type: 'string', default: '200' },
    announcements: { type: 'string', default: '20' },
  },
});
const GROUPS = Number(args.groups);
const MEMBERS = Number(args.members);
const SOCKETS = Math.min(Number(args.sockets), MEMBERS);
const ANNOUNCEMENTS = Number(args.announcements);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('set DATABASE_URL (PostgreSQL): the seed measures PostgreSQL, not PGlite');

class Rollback {
  constructor(readonly rows: readonly Record<string, unknown>[]) {}
}

const run = Date.now().toString(36);
const userId = (i: number) => `seed_${run}_${String(i).padStart(6, '0')}`;
const ms = (t: number) => `${t.toFixed(1)} ms`;

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${ms(at(0.5))}, p95 ${ms(at(0.95))}, max ${ms(sorted.at(-1)!)} (n=${samples.length})`;
}

async function main() {
  const app = await startApp(
    loadConfig({
      ...(process.env as Record<string, string>),
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: process.env.REDIS_URL ?? '',
      // The only replica while it seeds (and it stores no files): its DATA_DIR is every replica's.
      STORAGE_SHARED: process.env.STORAGE_SHARED ?? 'on',
      JWT_SECRET: process.env.JWT_SECRET ?? 'seed-secret-that-is-long-enough-0123456789',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_S: '100000',
      RATE_LIMIT_BURST: '100000',
      USER_RATE_LIMIT_PER_S: '100000',
      USER_RATE_LIMIT_BURST: '100000',
      SOCKETS_PER_USER: '100000',
    }),
  );
  const sql = postgres(databaseUrl!, { max: 4, onnotice: () => {} });
  const base = `http://127.0.0.1:${app.port}`;
  const token = async (sub: string, scope?: 'server') =>
    (await app.tokens.sign({ userId: sub, name: sub, ttlSeconds: 3600, ...(scope ? { scope } : {}) })).token;
  const http = async (method: string, path: string, tok: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${tok}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json!;
  };
  const sockets: WebSocket[] = [];
  try {
    // 1. The community and its groups, through the API.
    const t0 = performance.now();
    const ownerId = `seed_${run}_owner`;
    const ownerToken = await token(ownerId);
    const community = (await http('POST', '/v1/communities', ownerToken, { name: `Seed ${run}` })).community as {
      id: string;
      announcementGroupId: string;
    };
    const groupIds: string[] = [];
    for (let g = 0; g < GROUPS; g++) {
      const created = await http('POST', `/v1/communities/${community.id}/groups`, ownerToken, { name: `Group ${g}` });
      groupIds.push((created.group as { id: string }).id);
    }
    console.log(`created community ${community.id} and ${GROUPS} groups via HTTP in ${ms(performance.now() - t0)}`);

    // 2. Bulk membership: every user in the announcement group and in one group of the community.
    const t1 = performance.now();
    const batch = 5000;
    for (let from = 0; from < MEMBERS; from += batch) {
      const ids = Array.from({ length: Math.min(batch, MEMBERS - from) }, (_, i) => userId(from + i));
      await sql`insert into users ${sql(ids.map((id) => ({ id, name: `Member ${id.slice(-6)}` })))} on conflict do nothing`;
      await sql`insert into members ${sql(ids.map((id) => ({ group_id: community.announcementGroupId, user_id: id, role: 'member' })))} on conflict do nothing`;
      await sql`insert into members ${sql(ids.map((id, i) => ({ group_id: groupIds[(from + i) % GROUPS]!, user_id: id, role: 'member' })))} on conflict do nothing`;
    }
    await sql`update groups g set member_count = (select count(*) from members m where m.group_id = g.id)
              where g.id = ${community.announcementGroupId} or g.community_id = ${community.id}`;
    await sql`analyze members`;
    await sql`analyze users`;
    const { count } = (
      await sql<{ count: number }[]>`select member_count as count from groups where id = ${community.announcementGroupId}`
    )[0]!;
    console.log(`inserted ${MEMBERS} members (${count} in the announcement group) in ${ms(performance.now() - t1)}`);

    // 3. Member pages: first, middle, last.
    const pagePath = (cursor?: string) => `/v1/communities/${community.id}/members?limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const pages: Record<string, string | undefined> = {
      first: undefined,
      middle: userId(Math.floor(MEMBERS / 2)),
      last: userId(MEMBERS - 51),
    };
    for (const [label, cursor] of Object.entries(pages)) {
      const samples: number[] = [];
      let size = 0;
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        const page = await http('GET', pagePath(cursor), ownerToken);
        samples.push(performance.now() - t);
        size = (page.members as unknown[]).length;
      }
      console.log(`GET members page (${label}, ${size} rows): ${stats(samples)}`);
    }

    // 4. Join by invite, the community view (groups listing), and leaving, at this size.
    const { code } = (await http('POST', `/v1/communities/${community.id}/invites`, ownerToken, {})) as { code: string };
    const joinTimes: number[] = [];
    const viewTimes: number[] = [];
    const leaveTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const joiner = `seed_${run}_joiner_${i}`;
      const joinerToken = await token(joiner);
      await http('GET', '/v1/me', joinerToken); // creates the user row, outside the timing
      let t = performance.now();
      await http('POST', `/v1/invites/${code}/join`, joinerToken);
      joinTimes.push(performance.now() - t);
      t = performance.now();
      await http('GET', `/v1/communities/${community.id}`, joinerToken);
      viewTimes.push(performance.now() - t);
      t = performance.now();
      await http('DELETE', `/v1/communities/${community.id}/members/${joiner}`, joinerToken);
      leaveTimes.push(performance.now() - t);
    }
    console.log(`POST /v1/invites/:code/join: ${stats(joinTimes)}`);
    console.log(`GET /v1/communities/:id (first 100 groups): ${stats(viewTimes)}`);
    console.log(`DELETE …/members/:me (leave): ${stats(leaveTimes)}`);

    // 5. Member sockets, then announcements: time to ack, one event each, delivered to every socket.
    const received = new Map<string, number>();
    const tOpen = performance.now();
    for (let i = 0; i < SOCKETS; i++) {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`, { headers: { authorization: `Bearer ${await token(userId(i))}` } });
      sockets.push(ws);
      await new Promise<void>((resolve, reject) => {
        ws.on('message', (data) => {
          const frame = JSON.parse(data.toString()) as { type: string; clientMsgId?: string };
          if (frame.type === 'ready') resolve();
          if (frame.type === 'event' && frame.clientMsgId) received.set(frame.clientMsgId, (received.get(frame.clientMsgId) ?? 0) + 1);
        });
        ws.once('error', reject);
      });
    }
    console.log(`${SOCKETS} member sockets ready in ${ms(performance.now() - tOpen)}`);

    const membersStats = async () =>
      (
        await sql<{ seq_scan: string; idx_scan: string; idx_tup_fetch: string }[]>`
        select seq_scan, idx_scan, idx_tup_fetch from pg_stat_user_tables where relname = 'members'`
      )[0]!;
    // Statistics reach the shared view when backends go idle (≤ 10 s in PostgreSQL 15).
    await new Promise((r) => setTimeout(r, 11_000));
    const before = await membersStats();
    const lastSeq = async () =>
      Number((await sql<{ last_seq: string }[]>`select last_seq from groups where id = ${community.announcementGroupId}`)[0]!.last_seq);
    const seqBefore = await lastSeq();
    const service = await token(`seed_${run}_service`, 'server');
    const ackTimes: number[] = [];
    const deliveryTimes: number[] = [];
    for (let i = 0; i < ANNOUNCEMENTS; i++) {
      const clientMsgId = `ann-${i}`;
      const t = performance.now();
      await http('POST', `/v1/communities/${community.id}/announcements`, i % 2 ? service : ownerToken, {
        clientMsgId,
        text: `Announcement ${i}`,
      });
      ackTimes.push(performance.now() - t);
      while ((received.get(clientMsgId) ?? 0) < SOCKETS) await new Promise((r) => setImmediate(r));
      deliveryTimes.push(performance.now() - t);
    }
    const seqAfter = await lastSeq();
    const { events } = (
      await sql<
        { events: number }[]
      >`select count(*)::int as events from events where group_id = ${community.announcementGroupId} and kind = 'message'`
    )[0]!;
    await new Promise((r) => setTimeout(r, 11_000));
    const after = await membersStats();
    console.log(`POST announcement (admin and scope:server alternately), time to ack: ${stats(ackTimes)}`);
    console.log(`  … until all ${SOCKETS} member sockets had it: ${stats(deliveryTimes)}`);
    console.log(`  announcement log: ${seqAfter - seqBefore} seqs for ${ANNOUNCEMENTS} announcements; ${events} message events stored`);
    console.log(
      `  members table during the announcements: seq_scan +${Number(after.seq_scan) - Number(before.seq_scan)}, ` +
        `idx_scan +${Number(after.idx_scan) - Number(before.idx_scan)}, idx_tup_fetch +${Number(after.idx_tup_fetch) - Number(before.idx_tup_fetch)}`,
    );

    // 6. EXPLAIN ANALYZE of the hot queries (the SQL drizzle issues, written out).
    // EXPLAIN ANALYZE runs the statement: each runs in a transaction that is then rolled back.
    const explain = async (label: string, query: string, params: unknown[]) => {
      const rows = await sql
        .begin(async (tx) => {
          throw new Rollback(await tx.unsafe(`explain (analyze, buffers, costs off) ${query}`, params as never[]));
        })
        .catch((err: unknown) => {
          if (err instanceof Rollback) return err.rows;
          throw err;
        });
      const lines = rows.map((r) => String(Object.values(r)[0])).map((l) => (l.length > 140 ? `${l.slice(0, 137)}...` : l));
      console.log(`\n-- ${label}\n${lines.join('\n')}`);
    };
    const middle = userId(Math.floor(MEMBERS / 2));
    await explain(
      'member page (middle): the page from the members index',
      `select user_id, role, joined_at from members where group_id = $1 and user_id > $2 order by user_id limit 101`,
      [community.announcementGroupId, middle],
    );
    await explain('member page (middle): its names', `select id, name from users where id = any($1)`, [
      Array.from({ length: 101 }, (_, i) => userId(Math.floor(MEMBERS / 2) + 1 + i)),
    ]);
    await explain(
      "announcement: the poster's membership (authorization)",
      `select m.role, g.kind, g.settings from members m join groups g on g.id = m.group_id where m.group_id = $1 and m.user_id = $2 limit 1`,
      [community.announcementGroupId, ownerId],
    );
    await explain('announcement: seq bump (rolled back)', `update groups set last_seq = last_seq + 1 where id = $1 returning last_seq`, [
      community.announcementGroupId,
    ]);
    await explain(
      'join: add one member (rolled back)',
      `insert into members (group_id, user_id, role) values ($1, $2, 'member') on conflict do nothing returning user_id`,
      [community.announcementGroupId, `seed_${run}_service`],
    );
  } finally {
    for (const ws of sockets) ws.terminate();
    await sql.end({ timeout: 5 });
    await app.stop();
  }
}

await main();
