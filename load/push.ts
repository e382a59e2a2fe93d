/**
 * Web Push fan-out of one announcement (issue 12): a community of `--members` (20,000), of whom
 * `--sockets` (1,000) are connected and the rest offline with one push subscription each, at a
 * local push service in this process that verifies VAPID and decrypts every push. The server
 * runs as its own process (dist/main.js, on PostgreSQL) so its CPU is measured alone.
 *
 *   DATABASE_URL=postgres://… npm run bench:push [-- --members 20000 --sockets 1000]
 *
 * Reports: time from the announcement's ack until every offline member's push was accepted,
 * pushes/s, the server's CPU per push, the connected members' delivery latency, and pushes sent
 * to connected members (must be 0). Seeding writes users, members and subscriptions straight
 * into a database of the run's own (dropped at the end). Bounded: one announcement, 5 min.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import WebSocket from 'ws';
import { Tokens } from '../src/platform/auth/tokens.js';
import { LocalPushService } from '../test/helpers/push-service.js';

const { values: args } = parseArgs({
  options: { members: { type: 'string', default: '20000' }, sockets: { type: 'string', default: '1000' } },
});
const MEMBERS = Number(args.members);
const SOCKETS = Math.min(Number(args.sockets), MEMBERS);
const OFFLINE = MEMBERS - SOCKETS;
const base = process.env.DATABASE_URL;
if (!base) throw new Error('set DATABASE_URL (PostgreSQL)');
const SECRET = 'bench-secret-that-is-long-enough-0123456789';
setTimeout(() => {
  console.error('bench:push: hard timeout after 5 min');
  process.exit(3);
}, 300_000).unref();

const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, CLK_TCK 100
};
const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function main() {
  const dbName = `banyan_pushbench_${Date.now().toString(36)}`;
  const admin = postgres(base!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const url = new URL(base!);
  url.pathname = `/${dbName}`;
  const push = await LocalPushService.start();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn(process.execPath, ['dist/main.js', 'start'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: url.toString(),
      REDIS_URL: '',
      JWT_SECRET: SECRET,
      WEBHOOK_ALLOW_PRIVATE: 'on',
      LOG_LEVEL: 'warn',
      HTTP_RATE_ADDRESS: '1000000/1',
      HTTP_RATE_ADDRESS_ALL: '1000000/1',
      HTTP_RATE_USER: '1000000/1',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const db = postgres(url.toString(), { max: 2, onnotice: () => {} });
  const http = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${http}/readyz`)).status === 200) break;
      } catch {}
      if (i > 300) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const tokens = new Tokens({ secret: SECRET });
    const token = async (sub: string) => (await tokens.sign({ userId: sub, name: sub, ttlSeconds: 3600 })).token;
    const call = async (method: string, path: string, tok: string, body?: unknown) => {
      const r = await fetch(http + path, {
        method,
        headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      // biome-ignore lint/suspicious/noExplicitAny: a bench reads a few known fields of the answers
      return { status: r.status, body: (await r.json().catch(() => undefined)) as any };
    };
    push.expectVapidKey(((await (await fetch(`${http}/v1/push/vapid-key`)).json()) as { publicKey: string }).publicKey);
    const adminToken = await token('bench-admin');
    const community = (await call('POST', '/v1/communities', adminToken, { name: 'Bench relief' })).body.community;
    const group = community.announcementGroupId as string;

    // Seed: users, announcement-group members, one subscription per offline member.
    let t = performance.now();
    const ids = Array.from({ length: MEMBERS }, (_, i) => `pb_${String(i).padStart(6, '0')}`);
    const online = ids.slice(0, SOCKETS);
    const offline = ids.slice(SOCKETS);
    const subs = offline.map(() => push.subscribe());
    for (let i = 0; i < MEMBERS; i += 5000) {
      const chunk = ids.slice(i, i + 5000);
      await db`insert into users (id, name) select unnest(${chunk}::text[]), unnest(${chunk}::text[])`;
      await db`insert into members (group_id, user_id, role) select ${group}, unnest(${chunk}::text[]), 'member'`;
    }
    await db`update groups set member_count = member_count + ${MEMBERS} where id = ${group}`;
    for (let i = 0; i < OFFLINE; i += 5000) {
      const s = subs.slice(i, i + 5000);
      await db`insert into push_subscriptions (id, user_id, endpoint, p256dh, auth)
        select unnest(${s.map((_, j) => `p_bench${i + j}`)}::text[]), unnest(${offline.slice(i, i + 5000)}::text[]),
               unnest(${s.map((x) => x.endpoint)}::text[]), unnest(${s.map((x) => x.keys.p256dh)}::text[]), unnest(${s.map((x) => x.keys.auth)}::text[])`;
    }
    console.log(`seeded ${MEMBERS} members (${OFFLINE} subscribed) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // Connected members: also subscribed, so a push to them would be counted.
    const onlineSubs = online.map(() => push.subscribe());
    await Promise.all(
      online.map(async (id, i) =>
        call('POST', '/v1/push/subscriptions', await token(id), { endpoint: onlineSubs[i]!.endpoint, keys: onlineSubs[i]!.keys }),
      ),
    );
    const sockets: WebSocket[] = [];
    const arrivals: number[] = [];
    let postedAt = 0;
    for (let i = 0; i < online.length; i += 100) {
      await Promise.all(
        online.slice(i, i + 100).map(async (id) => {
          const auth = `Bearer ${await token(id)}`;
          await new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers: { authorization: auth } });
            sockets.push(ws);
            ws.on('message', (data) => {
              const f = JSON.parse(data.toString());
              if (f.type === 'ready') resolve();
              if (f.type === 'event' && f.group === group && f.kind === 'message') arrivals.push(performance.now() - postedAt);
            });
            ws.on('error', reject);
          });
        }),
      );
    }
    console.log(`${sockets.length} members connected`);
    await new Promise((r) => setTimeout(r, 1000));

    const cpu0 = cpuMs(server.pid!);
    const benchCpu0 = process.cpuUsage();
    postedAt = performance.now();
    const posted = await call('POST', `/v1/communities/${community.id}/announcements`, adminToken, {
      clientMsgId: 'bench-1',
      text: 'Evacuate the east wing now.',
    });
    const ackMs = performance.now() - postedAt;
    if (posted.status !== 201) throw new Error(`announce: ${posted.status}`);
    t = performance.now();
    let lastCount = 0;
    while (push.delivered.length < OFFLINE && performance.now() - t < 120_000) {
      await new Promise((r) => setTimeout(r, 50));
      if (push.delivered.length !== lastCount) lastCount = push.delivered.length;
    }
    const allMs = performance.now() - postedAt;
    const cpu = cpuMs(server.pid!) - cpu0;
    const benchCpu = process.cpuUsage(benchCpu0);
    const onlineIds = new Set(onlineSubs.map((s) => s.id));
    const toConnected = push.delivered.filter((d) => onlineIds.has(d.subscription)).length;
    const distinct = new Set(push.delivered.map((d) => d.subscription)).size;
    const sorted = [...arrivals].sort((a, b) => a - b);
    const result = {
      members: MEMBERS,
      connected: SOCKETS,
      offlineSubscribed: OFFLINE,
      ackMs: Number(ackMs.toFixed(1)),
      pushesAccepted: push.delivered.length,
      distinctSubscriptions: distinct,
      rejectedByPushService: push.rejected.length,
      pushesToConnected: toConnected,
      allPushedMs: Number(allMs.toFixed(0)),
      pushesPerS: Number((push.delivered.length / (allMs / 1000)).toFixed(0)),
      serverCpuMs: cpu,
      serverCpuPerPushMs: Number((cpu / Math.max(1, push.delivered.length)).toFixed(3)),
      /** The local push service (VAPID check and decryption of every push) and the sockets, in this process. */
      pushServiceCpuMs: Math.round((benchCpu.user + benchCpu.system) / 1000),
      connectedDelivered: arrivals.length,
      connectedLatencyMs: sorted.length ? { p50: Number(pct(sorted, 0.5).toFixed(1)), p99: Number(pct(sorted, 0.99).toFixed(1)) } : null,
    };
    console.log(JSON.stringify(result, null, 2));
    for (const ws of sockets) ws.terminate();
  } finally {
    server.kill('SIGKILL');
    await push.stop();
    await db.end();
    await new Promise((r) => setTimeout(r, 500));
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
  }
}

await main();
process.exit(0);
