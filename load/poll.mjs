// Poll fan-out (issue 14, docs/protocol.md §8 "Polls and events"): M members of one announcement group, each with a
// socket, all vote on one poll within W seconds. In an announcement group a vote is no event:
// the poll's tally is (one `tally` event per TALLY_INTERVAL_MS), so the server's deliveries
// should be about M × tallies, not M × votes (what one `vote` event per vote would cost).
// Counts every event frame each member's socket receives, the tallies in the log, and checks the
// last tally against the votes cast.
import { createHmac } from 'node:crypto';
import postgres from 'postgres';
import WebSocket from 'ws';
import { args } from './lib/run.mjs';
import { cpuBetween, sample, secondsBetween, sleep, waitFor } from './lib/proc.mjs';
import { progress, table, writeResult } from './lib/report.mjs';
import { DATABASE_URL, SECRET, startBanyan } from './lib/targets.mjs';

const o = args(
  'poll',
  {
    members: { type: 'string' },
    'window-s': { type: 'string' },
    'tally-ms': { type: 'string' },
    options: { type: 'string' },
    port: { type: 'string' },
  },
  {
    members: '5000',
    'window-s': '10',
    'tally-ms': '2000',
    options: '4',
    port: String(9400 + Math.floor(Math.random() * 500)),
    'timeout-s': '170',
  },
);
const M = Number(o.members);
const WINDOW_MS = Number(o['window-s']) * 1000;
const TALLY_MS = Number(o['tally-ms']);
const OPTIONS = Number(o.options);
const GROUP = 'g-poll-bench';
const ADMIN = 'poll-bench-admin';
const userId = (i) => `pv${i}`;

/** An HS256 JWT built with node:crypto (the server's JWT_SECRET is SECRET). */
function mint(sub) {
  const now = Math.floor(Date.now() / 1000);
  const head = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const body = `${head}.${Buffer.from(JSON.stringify({ sub, name: sub, iat: now, exp: now + 3600 })).toString('base64url')}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/** Its own users and group only (ids pv*, g-poll-bench): other benchmarks' data stays. */
async function seedGroup(sql) {
  await sql`delete from groups where id = ${GROUP}`;
  await sql`insert into users (id, name) select 'pv' || i, 'pv' || i from generate_series(0, ${M - 1}::int) i on conflict do nothing`;
  await sql`insert into users (id, name) values (${ADMIN}, ${ADMIN}) on conflict do nothing`;
  await sql`insert into groups (id, kind, name, created_by, member_count) values (${GROUP}, 'announcement', 'Poll bench', ${ADMIN}, ${M + 1})`;
  await sql`insert into members (group_id, user_id, role) values (${GROUP}, ${ADMIN}, 'owner')`;
  await sql`insert into members (group_id, user_id, role) select ${GROUP}, 'pv' || i, 'member' from generate_series(0, ${M - 1}::int) i`;
  await sql`analyze members`;
}

const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
// The server first: it migrates the database the seed writes to.
const target = await startBanyan({ replicas: 1, port: Number(o.port), env: { TALLY_INTERVAL_MS: String(TALLY_MS) } });
await seedGroup(sql);
const url = target.urls[0];
const sockets = [];
try {
  const poll = await fetch(`${url.replace('ws:', 'http:')}/v1/groups/${GROUP}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${mint(ADMIN)}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      clientMsgId: `poll-${Date.now()}`,
      text: '',
      poll: { question: 'Which Saturday works?', options: Array.from({ length: OPTIONS }, (_, i) => `Option ${i + 1}`) },
    }),
  });
  if (poll.status !== 201) throw new Error(`posting the poll: ${poll.status} ${await poll.text()}`);
  const pollSeq = (await poll.json()).seq;

  // Every member's socket: counts event frames of the group by kind; the last tally seen.
  const received = { tally: 0, other: 0 };
  let lastTally;
  let ready = 0;
  let acks = 0;
  let errors = 0;
  const connectStart = Date.now();
  for (let i = 0; i < M; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, M - i) }, (_, k) => {
        const ws = new WebSocket(`${url}/v1/ws`, { headers: { authorization: `Bearer ${mint(userId(i + k))}` }, perMessageDeflate: false });
        sockets.push(ws);
        return new Promise((resolve, reject) => {
          ws.on('error', reject);
          ws.on('message', (data) => {
            const text = data.toString();
            if (text.startsWith('{"type":"ready"')) {
              ready++;
              resolve();
            } else if (text.startsWith('{"type":"ack"')) acks++;
            else if (text.startsWith('{"type":"error"')) errors++;
            else if (text.startsWith('{"type":"event"')) {
              if (text.includes('"kind":"tally"')) {
                received.tally++;
                lastTally = text;
              } else received.other++;
            }
          });
        });
      }),
    );
  }
  const connectS = (Date.now() - connectStart) / 1000;
  progress(`${ready}/${M} members ready in ${connectS.toFixed(1)} s`);

  // Every member votes once, at a random moment of the window (open loop).
  const cast = new Array(OPTIONS).fill(0);
  const serverFrom = sample(target.pids);
  const voteStart = Date.now();
  await Promise.all(
    sockets.map(async (ws, i) => {
      await sleep(Math.random() * WINDOW_MS);
      const option = i % OPTIONS;
      cast[option]++;
      ws.send(JSON.stringify({ type: 'vote', id: i, group: GROUP, target: pollSeq, options: [option] }));
    }),
  );
  const sentS = (Date.now() - voteStart) / 1000;
  await waitFor(() => acks + errors >= M, 60_000, 50);
  const ackedS = (Date.now() - voteStart) / 1000;
  // The last tally is due at most one interval after the last vote; then every socket has it.
  const expected = JSON.stringify(cast);
  await waitFor(() => lastTally?.includes(`"counts":${expected}`), 3 * TALLY_MS + 10_000, 50);
  await sleep(TALLY_MS + 500);
  const serverTo = sample(target.pids);
  const [{ n: talliesLogged }] = await sql`select count(*)::int as n from events where group_id = ${GROUP} and kind = 'tally'`;
  const [{ n: voteEvents }] = await sql`select count(*)::int as n from events where group_id = ${GROUP} and kind = 'vote'`;
  const [{ n: votesStored }] = await sql`select count(*)::int as n from poll_votes where group_id = ${GROUP}`;
  const deliveries = received.tally + received.other;
  const result = {
    members: ready,
    votes: acks,
    voteErrors: errors,
    votesStored,
    voteEvents,
    sentS: Math.round(sentS * 10) / 10,
    allAckedS: Math.round(ackedS * 10) / 10,
    talliesInLog: talliesLogged,
    deliveries,
    perVoteDeliveries: ready * acks,
    ratio: Math.round((ready * acks) / Math.max(1, deliveries)),
    finalCountsRight: Boolean(lastTally?.includes(`"counts":${expected}`)),
    serverCpuS: Math.round(cpuBetween(serverFrom, serverTo) / 1e4) / 100,
    windowS: Math.round(secondsBetween(serverFrom, serverTo) * 10) / 10,
  };
  table(`poll: ${M} members of one announcement group vote within ${WINDOW_MS / 1000} s (TALLY_INTERVAL_MS=${TALLY_MS})`, [result]);
  progress(
    `deliveries ${deliveries} (${ready} members × ${talliesLogged} tallies = ${ready * talliesLogged}) vs ${ready * acks} had each vote been an event`,
  );
  writeResult('poll', { parameters: { members: M, windowS: WINDOW_MS / 1000, tallyMs: TALLY_MS, options: OPTIONS }, results: [result] });
  if (!result.finalCountsRight || votesStored !== acks) process.exitCode = 1;
} finally {
  for (const ws of sockets) ws.terminate();
  await target.stop();
  await sql`delete from groups where id = ${GROUP}`;
  await sql.end({ timeout: 5 });
}
process.exit(process.exitCode ?? 0);
